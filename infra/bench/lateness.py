#!/usr/bin/env python3
"""Publish lateness of a running `herald serve`, measured through its HTTP API.

    python3 infra/bench/lateness.py [HERALD_BINARY] [--posts 100] [--spread 90] ...

What it does (Python 3.11+, standard library only, loopback only):

1. starts `herald serve --addr 127.0.0.1:0 --data-dir <temp dir>` (port 0: the OS picks a free
   port; the URL is read from serve's "listening on" line) and reads the first-run admin key
   from its stdout; serve's logs (stderr) go to <temp dir>/serve.log;
2. creates 2 sandbox channels and schedules 100 posts x 2 channels = 200 deliveries (both
   deliveries of a post share its time, as a post to two networks does), the posts spread
   uniformly over the next 90 s (whole seconds, as the calendar is to the second; --ms for
   millisecond instants), the first one --lead seconds ahead so that creating them all fits;
3. polls the calendar (GET /v1/posts?from&to, once a second) until every delivery is
   published, failed or cancelled, or until the timeout; then lets serve run 3 s more so that
   a late duplicate would show, and stops serve by its PID (SIGTERM, then SIGKILL);
4. reports publish lateness = published_at - publish_at (from the API) as p50/p90/p99/max in
   ms, deliveries published early (must be 0), duplicates (lines of the sandbox's journal
   <data-dir>/outbox/published.jsonl per delivery id > 1, must be 0; published.log from builds
   before it) and missing (not published, or no line).

Exit status: 0 when nothing is duplicated or missing; 1 otherwise (also with --strict when
p99 >= 1000 ms or a delivery went out early); 2 when the run itself could not be made.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOAL_P99_MS = 1000.0
SETTLE_S = 3.0
OUTLIER_MS = 50.0
# Loopback only, and never through an HTTP proxy from the environment.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Failure(Exception):
    """The run could not be made (serve did not start, the API refused a request…)."""


def find_binary(given: str | None) -> Path:
    if given:
        path = Path(given)
        if not path.is_file():
            raise Failure(f"{path}: no such binary")
        return path
    targets = [Path(os.environ["CARGO_TARGET_DIR"])] if os.environ.get("CARGO_TARGET_DIR") else []
    targets.append(ROOT / "target")
    for profile in ("release", "debug"):
        for target in targets:
            path = target / profile / "herald"
            if path.is_file():
                return path
    raise Failure("no herald binary: run `cargo build --release -p herald` (or give its path)")


def rfc3339(t: datetime, ms: bool = False) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds" if ms else "seconds").replace("+00:00", "Z")


def parse_instant(s: str) -> datetime:
    # Python 3.11 reads "Z" and any number of fraction digits up to 6; serde may write 9.
    s = s.replace("Z", "+00:00")
    if "." in s:
        head, rest = s.split(".", 1)
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        s = f"{head}.{digits[:6]:0<6}{rest[len(digits):]}"
    return datetime.fromisoformat(s)


class Serve:
    """`herald serve` as a child process, stopped by its PID."""

    def __init__(self, binary: Path, data_dir: Path, startup_s: float) -> None:
        self.log = open(data_dir / "serve.log", "wb")
        env = {k: v for k, v in os.environ.items() if k not in ("HERALD_ADDR", "HERALD_DATA_DIR")}
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--addr", "127.0.0.1:0", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        # Drain stdout for the whole run, so serve never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        self.url, self.key = self._wait_ready(startup_s)

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)

    def _wait_ready(self, startup_s: float) -> tuple[str, str]:
        deadline = time.monotonic() + startup_s
        key = None
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise Failure(f"herald serve exited with {self.proc.wait()} before listening (see serve.log)")
            if line.strip().startswith("hrld_"):
                key = line.strip()
            if "listening on " in line:
                url = line.split("listening on ", 1)[1].split()[0]
                host = urllib.parse.urlsplit(url).hostname
                if host != "127.0.0.1":
                    raise Failure(f"serve listens on {url}, not on loopback")
                if key is None:
                    raise Failure("serve printed no first-run admin key (was the data dir empty?)")
                return url, key
        raise Failure(f"herald serve did not print its URL within {startup_s:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


class Api:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.key}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with HTTP.open(req, timeout=15) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raise Failure(f"{method} {path}: HTTP {e.code}: {e.read().decode('utf-8', 'replace')}") from None

    def calendar(self, start: datetime, end: datetime) -> list[dict]:
        """Every post with a delivery in [start, end), all pages (bounded)."""
        posts, cursor = [], None
        for _ in range(100):
            query = {"from": rfc3339(start), "to": rfc3339(end), "limit": "500"}
            if cursor:
                query["cursor"] = cursor
            page = self.call("GET", "/v1/posts?" + urllib.parse.urlencode(query))
            posts.extend(page["items"])
            cursor = page.get("next")
            if not cursor:
                return posts
        raise Failure("the calendar did not end after 100 pages")


def publications(outbox: Path) -> collections.Counter:
    """How many times the sandbox network holds each delivery: the lines of its journal
    (`published.jsonl`, one JSON object per publication), or of `published.log` ("<time>
    <delivery id> <channel id>") written by builds before the journal."""
    journal, log = outbox / "published.jsonl", outbox / "published.log"
    if journal.exists():
        keys = []
        for line in journal.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            keys.append(entry.get("delivery_id") or entry.get("id"))
        return collections.Counter(k for k in keys if k)
    lines = log.read_text().splitlines() if log.exists() else []
    return collections.Counter(parts[1] for parts in (line.split() for line in lines) if len(parts) >= 2)


def percentile(sorted_xs: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of sorted values: a value that was measured."""
    rank = max(1, -(-len(sorted_xs) * p // 100))  # ceil
    return sorted_xs[int(rank) - 1]


def run(args: argparse.Namespace) -> int:
    binary = find_binary(args.binary)
    profile = "debug" if "debug" in binary.parts else "release" if "release" in binary.parts else "?"
    data_dir = Path(tempfile.mkdtemp(prefix="herald-lateness-"))
    serve = None
    ok = False
    try:
        serve = Serve(binary, data_dir, args.startup_timeout)
        api = Api(serve.url, serve.key)
        channels = [
            api.call("POST", "/v1/channels", {"platform": "sandbox", "name": f"lateness-{i}", "time_zone": "UTC", "credentials": {}})["id"]
            for i in range(args.channels)
        ]

        # The schedule: post i at first + i * spread / posts, created in time order.
        first = datetime.now(timezone.utc) + timedelta(seconds=args.lead)
        if not args.ms:
            first = first.replace(microsecond=0) + timedelta(seconds=1)
        wanted: dict[str, datetime] = {}  # delivery id -> the publish_at we asked for
        created_in = time.monotonic()
        for i in range(args.posts):
            at = first + timedelta(seconds=i * args.spread / args.posts)
            if not args.ms:
                at = at.replace(microsecond=0)
            body = {"text": f"Lateness probe {i + 1}/{args.posts}", "channel_ids": channels, "publish_at": rfc3339(at, args.ms)}
            post = api.call("POST", "/v1/posts", body)
            for d in post["deliveries"]:
                if d["state"] != "scheduled":
                    raise Failure(f"post {post['id']}: delivery {d['id']} is {d['state']}, not scheduled")
                wanted[d["id"]] = at
        created_s = time.monotonic() - created_in
        last = max(wanted.values())

        # Wait until every delivery settled (bounded by the schedule plus the timeout).
        start, end = first - timedelta(seconds=60), last + timedelta(seconds=60)
        deadline = time.monotonic() + (last - datetime.now(timezone.utc)).total_seconds() + args.timeout
        seen: dict[str, dict] = {}
        while True:
            seen = {d["id"]: d for p in api.calendar(start, end) for d in p["deliveries"] if d["id"] in wanted}
            settled = sum(1 for d in seen.values() if d["state"] in ("published", "failed", "cancelled"))
            if settled == len(wanted) or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        time.sleep(SETTLE_S)  # a duplicate made by a later publisher run would show meanwhile
        serve.stop()

        # Lateness from the API; duplicates and missing from the sandbox's publication log.
        lateness_ms, early, failed, by_delivery = [], [], [], []
        for did, at in wanted.items():
            d = seen.get(did)
            if d and d["state"] == "published" and d.get("published_at"):
                ms = (parse_instant(d["published_at"]) - at).total_seconds() * 1000
                lateness_ms.append(ms)
                by_delivery.append((ms, did, at, d["published_at"]))
                if ms < 0:
                    early.append(did)
            elif d and d["state"] == "failed":
                failed.append(f"{did}: {d.get('last_error')}")
        lines = publications(data_dir / "outbox")
        duplicates = {did: n for did, n in lines.items() if n > 1}
        missing = sorted(did for did in wanted if lines.get(did, 0) == 0 or did not in seen or seen[did]["state"] != "published")
        strangers = sorted(did for did in lines if did not in wanted)

        xs = sorted(lateness_ms)
        summary = {
            "binary": str(binary),
            "profile": profile,
            "posts": args.posts,
            "channels": args.channels,
            "deliveries": len(wanted),
            "spread_s": args.spread,
            "instants": "ms" if args.ms else "s",
            "create_s": round(created_s, 2),
            "published": len(xs),
            "lateness_ms": {
                "min": round(xs[0], 1) if xs else None,
                "p50": round(percentile(xs, 50), 1) if xs else None,
                "p90": round(percentile(xs, 90), 1) if xs else None,
                "p99": round(percentile(xs, 99), 1) if xs else None,
                "max": round(xs[-1], 1) if xs else None,
                "mean": round(statistics.fmean(xs), 1) if xs else None,
            },
            "over_1s": sum(1 for x in xs if x >= 1000),
            "early": len(early),
            "duplicates": len(duplicates),
            "missing": len(missing),
            "failed": len(failed),
            "unexpected_log_lines": len(strangers),
        }
        print_table(summary, data_dir)
        for what, items in (("duplicated", [f"{k} x{v}" for k, v in duplicates.items()]), ("missing", missing), ("failed", failed), ("early", early)):
            for item in items[:10]:
                print(f"  {what}: {item}")
        # The latest few, when any was noticeably late: where to start looking in serve.log.
        slow = [x for x in sorted(by_delivery, reverse=True)[:5] if x[0] >= OUTLIER_MS]
        for ms, did, at, published in slow:
            print(f"  late: {ms:7.1f} ms  delivery {did}  asked {rfc3339(at, True)}  published {published}")
        if args.json:
            Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
        ok = not duplicates and not missing
        if args.strict:
            ok = ok and not early and bool(xs) and percentile(xs, 99) < GOAL_P99_MS
        return 0 if ok else 1
    finally:
        if serve is not None:
            serve.stop()
        if ok and not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"data dir kept: {data_dir}  (serve.log, outbox/, herald.db)")


def print_table(s: dict, data_dir: Path) -> None:
    lat = s["lateness_ms"]
    fmt = lambda v: "-" if v is None else f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}"  # noqa: E731
    print(f"herald serve ({s['profile']}: {s['binary']})")
    print(
        f"{s['deliveries']} deliveries = {s['posts']} posts x {s['channels']} sandbox channels, "
        f"spread over {s['spread_s']:g} s (instants to the {'millisecond' if s['instants'] == 'ms' else 'second'}; "
        f"created in {s['create_s']:.1f} s)"
    )
    print()
    print(f"  {'lateness (ms)':<16}{'n':>6}{'min':>8}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}{'mean':>8}")
    print(
        f"  {'published-asked':<16}{s['published']:>6}{fmt(lat['min']):>8}{fmt(lat['p50']):>8}"
        f"{fmt(lat['p90']):>8}{fmt(lat['p99']):>8}{fmt(lat['max']):>8}{fmt(lat['mean']):>8}"
    )
    print()
    goal = "PASS" if lat["p99"] is not None and lat["p99"] < GOAL_P99_MS else "FAIL"
    print(f"  goal p99 < {GOAL_P99_MS:.0f} ms: {goal}    late >= 1 s: {s['over_1s']}    early: {s['early']}")
    print(
        f"  duplicates: {s['duplicates']}    missing: {s['missing']}    failed: {s['failed']}"
        f"    log lines of unknown deliveries: {s['unexpected_log_lines']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", nargs="?", help="herald binary (default: target/release/herald, else target/debug/herald)")
    parser.add_argument("--posts", type=int, default=100, help="posts to schedule (default 100)")
    parser.add_argument("--channels", type=int, default=2, help="sandbox channels each post targets (default 2)")
    parser.add_argument("--spread", type=float, default=90.0, help="seconds the posts are spread over (default 90)")
    parser.add_argument("--lead", type=float, default=5.0, help="seconds until the first post (default 5)")
    parser.add_argument("--ms", action="store_true", help="millisecond instants instead of whole seconds")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait after the last publish time (default 60)")
    parser.add_argument("--startup-timeout", type=float, default=30.0, help="seconds for serve to start (default 30)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--strict", action="store_true", help="also fail when p99 >= 1 s or a delivery went out early")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (it is kept anyway on failure)")
    args = parser.parse_args()
    if not (1 <= args.posts <= 10_000 and 1 <= args.channels <= 20 and 0 < args.spread <= 3600 and args.lead >= 1):
        parser.error("posts 1..10000, channels 1..20, spread 0..3600 s, lead >= 1 s")
    try:
        return run(args)
    except Failure as e:
        print(f"lateness: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
