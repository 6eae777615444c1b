#!/usr/bin/env python3
"""Cold start and size of every Herald Lambda bootstrap, next to a hello-world lambda_runtime one.

    python3 infra/bench/lambda_cold_start.py                  # build (release), measure, print
    python3 infra/bench/lambda_cold_start.py --runs 20 --json cold.json
    python3 infra/bench/lambda_cold_start.py --skip-build     # reuse the bootstraps already built
    python3 infra/bench/lambda_cold_start.py --arm64          # also build for arm64, for the sizes
    python3 infra/bench/lambda_cold_start.py --only api,webhook-intake \
        --also api@before=/path/to/old/api/bootstrap          # a subset, and an older build beside it

What it does, in order:

1. makes (or reuses) a venv with cargo-lambda (infra/bench/requirements.txt) at
   $HERALD_CACHE_DIR/venv-bench (default ~/.cache/herald/venv-bench);
2. builds the six functions with `cargo lambda build --release --x86-64` (Herald's release
   profile: LTO, one codegen unit, abort on panic, stripped; the functions linked
   position-dependent by functions/no-pie.rs) and infra/bench/hello-lambda the
   same way; with --arm64 also for arm64 (what template.yaml deploys; needs the Rust target
   aarch64-unknown-linux-gnu), for the sizes only: arm64 binaries do not run on this machine.
   On 2 cores a cold release build of the six takes 15 to 30 minutes: run it in the background;
3. starts moto (with the test venv tests/run makes) and runs the ignored test
   `cold_start_bench` of tests/system/lambda_functions.rs: each bootstrap is started --runs times
   under the Runtime API emulator of tests/system/common/lambda_emulator.rs with a real environment
   (table, bus, SSM parameter in moto) and timed from process start to its first
   `GET /runtime/invocation/next` (the cold start as the emulator sees it: process start, the
   function's own init — SDK configuration, reading the credentials key from SSM — until it asks
   for work; Lambda's own sandbox start and code download come on top), then invoked twice;
4. prints a table (sizes, median/p10/p90 of the cold start, first and warm invocation, peak RSS)
   and writes it as JSON with --json.

Never part of tests/run. Python 3.9+, standard library only.
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ["api", "webhook-intake", "scheduled-publisher", "metric-poller", "notification-poller", "report-generator"]
# The event each is invoked with after its cold start (infra/events/).
EVENTS = {
    "api": "apigw-http-health.json",
    "webhook-intake": "apigw-http-health.json",
    "scheduled-publisher": "eventbridge-scheduled.json",
    "metric-poller": "eventbridge-scheduled.json",
    "notification-poller": "eventbridge-scheduled.json",
    "report-generator": "eventbridge-scheduled.json",
    "hello-lambda": "-",
}
CACHE = Path(os.environ.get("HERALD_CACHE_DIR", Path.home() / ".cache" / "herald"))


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def bench_venv():
    venv = CACHE / "venv-bench"
    req = ROOT / "infra" / "bench" / "requirements.txt"
    stamp = hashlib.sha256(req.read_bytes()).hexdigest()
    stamp_file = venv / ".herald-stamp"
    if not (stamp_file.exists() and stamp_file.read_text().strip() == stamp):
        log(f"making {venv} (cargo-lambda)")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(req)], check=True)
        stamp_file.write_text(stamp + "\n")
    return venv / "bin"


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def build(env, arch_flag, lambda_dir, functions):
    started = time.monotonic()
    packages = [arg for name in functions for arg in ("-p", name)]
    common = ["cargo", "lambda", "build", "--release", arch_flag, "--lambda-dir", str(lambda_dir)]
    log(f"{' '.join(common)} ({', '.join(functions)})")
    subprocess.run(common + packages, cwd=ROOT, env=env, check=True)
    log("the same for infra/bench/hello-lambda")
    subprocess.run(common + ["--manifest-path", str(ROOT / "infra/bench/hello-lambda/Cargo.toml")], cwd=ROOT, env=env, check=True)
    return time.monotonic() - started


def sizes(lambda_dir):
    out = {}
    for name in FUNCTIONS + ["hello-lambda"]:
        path = lambda_dir / name / "bootstrap"
        out[name] = path.stat().st_size if path.exists() else None
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    python = CACHE / "venv" / "bin" / "python"
    if not python.exists():
        sys.exit(f"{python} is missing: run tests/run once (it makes the venv with moto)")
    port = free_port()
    proc = subprocess.Popen(
        [str(python), str(ROOT / "infra/moto/serve.py"), str(os.getpid()), "127.0.0.1", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for _ in range(150):
        try:
            opener.open(url + "/moto-api/", timeout=1).read()
            return proc, url
        except Exception:
            if proc.poll() is not None:
                sys.exit("moto exited at start")
            time.sleep(0.2)
    proc.kill()
    sys.exit("moto did not answer")


def measure(env, lambda_dir, runs, moto_url, functions, also):
    """`also`: (name@label, path) pairs, other builds of a function measured in the same run."""
    entries = [(name, lambda_dir / name / "bootstrap") for name in functions + ["hello-lambda"]] + also
    spec = ",".join(f"{name}={path}={EVENTS[name.split('@')[0]]}" for name, path in entries)
    env = dict(env)
    env.update(
        HERALD_TEST_DYNAMODB_ENDPOINT=moto_url,
        HERALD_BENCH_FUNCTIONS=spec,
        HERALD_BENCH_RUNS=str(runs),
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        env.pop(var, None)
    # Each function gets the environment template.yaml gives it, read from the SAM transform
    # (as in tests/run).
    template = Path(tempfile.mkdtemp(prefix="herald-bench-")) / "template.transformed.json"
    subprocess.run(
        [str(CACHE / "venv" / "bin" / "python"), str(ROOT / "infra/sam/transform.py"), str(ROOT / "template.yaml"), str(template)],
        env=dict(env, AWS_DEFAULT_REGION="us-east-1"),
        check=True,
    )
    env["HERALD_TEST_SAM_TEMPLATE"] = str(template)
    cmd = ["cargo", "test", "--test", "system", "--", "--ignored", "--exact", "lambda_functions::cold_start_bench", "--nocapture"]
    log(" ".join(cmd))
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line.split(" ", 1)[1]) for line in out.splitlines() if line.startswith("HERALD_BENCH ")]


def mib(n):
    return "–" if n is None else f"{n / 1048576:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--arm64", action="store_true", help="also build for arm64 (sizes only)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only", help="comma-separated functions to build and measure (default: all six)")
    ap.add_argument("--also", action="append", default=[], metavar="NAME@LABEL=PATH",
                    help="another bootstrap of NAME (e.g. api@before=old/api/bootstrap), measured in the same run")
    args = ap.parse_args()
    functions = args.only.split(",") if args.only else FUNCTIONS
    unknown = [f for f in functions if f not in FUNCTIONS]
    if unknown:
        sys.exit(f"--only: not a Herald function: {', '.join(unknown)} (one of {', '.join(FUNCTIONS)})")
    also = []
    for spec in args.also:
        name, sep, path = spec.partition("=")
        if not sep or "@" not in name or name.split("@")[0] not in EVENTS or not Path(path).is_file():
            sys.exit(f"--also {spec!r}: want NAME@LABEL=PATH, NAME a function or hello-lambda, PATH a bootstrap")
        also.append((name, Path(path)))

    env = dict(os.environ)
    env["PATH"] = f"{bench_venv()}{os.pathsep}{env['PATH']}"
    # hello-lambda is its own workspace: without this it would build into its own target/.
    env["CARGO_TARGET_DIR"] = str(target_dir())
    x86_dir = target_dir() / "lambda-x86_64"
    arm_dir = target_dir() / "lambda-arm64"
    build_s = {}
    if not args.skip_build:
        build_s["x86_64"] = round(build(env, "--x86-64", x86_dir, functions))
        if args.arm64:
            build_s["arm64"] = round(build(env, "--arm64", arm_dir, functions))
    size = {"x86_64": sizes(x86_dir), "arm64": sizes(arm_dir) if arm_dir.exists() else None}

    moto, url = start_moto()
    try:
        results = measure(env, x86_dir, args.runs, url, functions, also)
    finally:
        moto.terminate()
        try:
            moto.wait(5)
        except subprocess.TimeoutExpired:
            moto.kill()

    print(f"\n{args.runs} cold starts each, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}\n")
    print("| function | bootstrap x86_64 (MiB) | arm64 (MiB) | cold start median (ms) | p10–p90 | first invoke (ms) | warm invoke (ms) | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        name = r["function"]
        base = name.split("@")[0]
        x86 = mib(size["x86_64"][name]) if name in size["x86_64"] else mib(dict(also)[name].stat().st_size)
        arm = mib(size["arm64"][name]) if size["arm64"] and name == base else "–"
        c = r["cold_start_ms"]
        print(f"| {name} | {x86} | {arm} | {c['median']:.1f} | {c['p10']:.1f}–{c['p90']:.1f} | "
              f"{r['first_invoke_ms']['median']:.1f} | {r['warm_invoke_ms']['median']:.1f} | {r['max_rss_mib']['median']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"runs": args.runs, "build_seconds": build_s, "sizes_bytes": size, "results": results}, indent=1))
        log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
