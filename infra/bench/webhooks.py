#!/usr/bin/env python3
"""Webhook intake of a running `herald serve` under load: throughput, latency, nothing lost or doubled.

    python3 infra/bench/webhooks.py [--binary [LABEL=]PATH ...] [--rounds 1] [--duration 10]
                                    [--connections 8] [--duplicates 0.10] [--json FILE]

The load comes from `wrk` (Debian's `wrk` package; a compiled load generator, so that the client
is not the limit) driven by `webhooks.lua`. For each binary and round, on a fresh data directory:

1. starts `herald serve --addr 127.0.0.1:0` (loopback only) and connects one `generic` channel
   holding a Standard Webhooks secret;
2. measures the HTTP ceiling of that same process: `GET /health` for --health-duration seconds
   over the same number of connections;
3. sends signed webhooks for --duration seconds over --connections keep-alive connections, one
   wrk thread each (so each thread's requests and answers alternate and the script knows which
   events were answered). Each request carries one interaction (English and French texts, some
   negative, so sentiment and the crisis detector work too); a --duplicates share of them are
   redeliveries of another event (same body, new `webhook-id`: a platform's retry), shuffled in.
   Every request is signed before the run starts; latency is wrk's, per request, as the client
   sees it;
4. reads the whole inbox back through the API: every event answered 200 must be there exactly
   once ("lost" and "doubled" must be 0). An event whose request was still in flight when wrk
   stopped (at most one per connection) may be there or not, but never twice.

With several binaries (`--binary before=old/herald --binary after=target/release/herald`) the
runs are interleaved round by round, so that before and after share the machine's mood.

Exit status 0 when nothing is lost or doubled and every answer was 200; 1 otherwise; 2 when the
run could not be made (no wrk, serve did not start...).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lateness import Api, Failure, Serve, find_binary  # noqa: E402

HERE = Path(__file__).resolve().parent
SECRET_BYTES = b"herald-bench-secret-32-bytes-ok!"
SECRET = "whsec_" + base64.b64encode(SECRET_BYTES).decode()
TEXTS = [
    "Love the new menu, the croissants are amazing! 🥐",
    "Service was slow today and the coffee was cold.",
    "Do you open on Sundays?",
    "Trop bon, merci pour l'accueil !",
    "Franchement déçu, une heure d'attente pour rien.",
    "Is there parking nearby?",
    "Worst experience ever, never coming back 😡",
    "On adore l'ambiance, à bientôt !",
]


def sign(msg_id: str, ts: int, body: bytes) -> str:
    mac = hmac.new(SECRET_BYTES, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def wrk(url: str, connections: int, duration: float, requests: Path | None) -> dict:
    """Runs wrk with one connection per thread and returns webhooks.lua's summary."""
    env = dict(os.environ, HERALD_WRK_THREADS=str(connections), HERALD_WRK_REQUESTS=str(requests or ""))
    cmd = ["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{duration:g}s", "--timeout", "10s",
           "-s", str(HERE / "webhooks.lua"), url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 120)
    for line in out.stdout.splitlines():
        if line.startswith("HERALD_WRK "):
            return json.loads(line[len("HERALD_WRK "):])
    raise Failure(f"wrk printed no summary (exit {out.returncode}): {out.stderr.strip() or out.stdout[-500:]}")


def plan(channel: str, events: int, duplicates: float, threads: int, path: Path) -> list[list[int]]:
    """Signs every request in advance, writes them for webhooks.lua, and returns the event index
    each thread's requests carry, in order."""
    rng = random.Random(42)
    unique = events - int(events * duplicates)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    bodies = [json.dumps({
        "kind": "comment", "id": f"evt-{i}", "author": {"id": f"user-{i % 500}", "name": f"User {i % 500}"},
        "text": TEXTS[i % len(TEXTS)], "created_at": now,
    }, ensure_ascii=False).encode() for i in range(unique)]
    order = list(range(unique)) + [rng.randrange(unique) for _ in range(events - unique)]
    rng.shuffle(order)
    per_thread: list[list[int]] = [[] for _ in range(threads)]
    ts = int(time.time())
    with open(path, "wb") as f:
        for n, event in enumerate(order):
            t = n % threads
            msg = f"msg_{n}"
            body = bodies[event]
            f.write(f"{t}\t/webhooks/generic/{channel}\t{msg}\t{ts}\t{sign(msg, ts, body)}\t".encode() + body + b"\n")
            per_thread[t].append(event)
    return per_thread


def inbox_counts(api: Api) -> Counter:
    seen: Counter = Counter()
    cursor = None
    while True:
        q = {"limit": "500"} | ({"cursor": cursor} if cursor else {})
        page = api.call("GET", "/v1/inbox?" + urllib.parse.urlencode(q))
        seen.update(item["external_id"] for item in page["items"])
        cursor = page.get("next")
        if not cursor:
            return seen


def one_run(label: str, binary: Path, args: argparse.Namespace) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="herald-webhooks-"))
    serve = None
    try:
        serve = Serve(binary, data_dir, startup_s=30)
        api = Api(serve.url, serve.key)
        channel = api.call("POST", "/v1/channels", {
            "platform": "generic", "name": "bench", "time_zone": "Europe/Paris",
            "credentials": {"webhook_secret": SECRET},
        })["id"]
        health = wrk(serve.url + "/health", args.connections, args.health_duration, None)
        requests = data_dir / "requests.tsv"
        per_thread = plan(channel, args.events, args.duplicates, args.connections, requests)
        load = wrk(serve.url + "/", args.connections, args.duration, requests)
        seen = inbox_counts(api)

        answered: set[int] = set()
        in_flight: set[int] = set()
        wrapped = False
        for t in load["threads"]:
            mine = per_thread[t["tid"]]
            wrapped |= t["sent"] > len(mine)
            answered.update(mine[i % len(mine)] for i in range(t["answered"]))
            if t["sent"] > t["answered"]:
                in_flight.add(mine[t["answered"] % len(mine)])
        sent = answered | in_flight
        lost = sorted(e for e in answered if seen[f"evt-{e}"] == 0)
        doubled = sorted(k for k, v in seen.items() if v > 1)
        stray = sorted(k for k in seen if not k.startswith("evt-") or int(k[4:]) not in sent)
        if lost and args.keep:
            print(f"  lost events: {lost[:20]} (data in {data_dir})", file=sys.stderr)
        lat = load["latency_us"]
        seconds = load["duration_us"] / 1e6
        return {
            "label": label, "binary": str(binary), "connections": args.connections,
            "requests": load["requests"], "seconds": round(seconds, 2),
            "requests_per_s": round(load["requests"] / seconds), "health_per_s": round(health["requests"] / (health["duration_us"] / 1e6)),
            "p50_ms": lat["p50"] / 1000, "p90_ms": lat["p90"] / 1000, "p99_ms": lat["p99"] / 1000,
            "p999_ms": lat["p999"] / 1000, "max_ms": lat["max"] / 1000,
            "not_200": sum(t["not_ok"] for t in load["threads"]), "wrk_errors": load["errors"],
            "distinct_answered": len(answered), "in_flight_at_stop": len(in_flight), "stored": sum(seen.values()),
            "lost": len(lost), "doubled": len(doubled), "stray": len(stray), "wrapped": wrapped,
            "load_average": os.getloadavg()[0],
        }
    finally:
        if serve:
            serve.stop()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", action="append", default=[], help="[LABEL=]PATH of a herald binary (repeatable)")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each binary, interleaved (default 1)")
    ap.add_argument("--duration", type=float, default=10, help="seconds of webhook load per run (default 10)")
    ap.add_argument("--health-duration", type=float, default=5, help="seconds of GET /health per run (default 5)")
    ap.add_argument("--connections", type=int, default=8, help="connections, one wrk thread each (default 8)")
    ap.add_argument("--duplicates", type=float, default=0.10, help="share of redeliveries (default 0.10)")
    ap.add_argument("--events", type=int, default=0,
                    help="requests signed in advance (default 20,000 per second of --duration)")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--keep", action="store_true", help="keep the data directories")
    args = ap.parse_args()
    args.events = args.events or int(20_000 * args.duration)
    if shutil.which("wrk") is None:
        print("webhooks bench: no `wrk` on PATH (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    try:
        binaries = []
        for given in args.binary or [""]:
            label, _, path = given.rpartition("=") if "=" in given else ("", "", given)
            binary = find_binary(path or None)
            binaries.append((label or binary.name, binary))
        results = []
        for round_ in range(args.rounds):
            for label, binary in binaries:
                r = one_run(label, binary, args) | {"round": round_ + 1}
                results.append(r)
                print(f"{r['label']:>10} round {r['round']}: {r['requests_per_s']:6d} req/s  "
                      f"p50 {r['p50_ms']:7.2f}  p90 {r['p90_ms']:7.2f}  p99 {r['p99_ms']:7.2f}  "
                      f"p99.9 {r['p999_ms']:7.2f}  max {r['max_ms']:7.2f} ms  | /health {r['health_per_s']} req/s | "
                      f"{r['requests']} requests, non-200 {r['not_200']}, lost {r['lost']}, doubled {r['doubled']}, "
                      f"stray {r['stray']}{', WRAPPED' if r['wrapped'] else ''}  (load {r['load_average']:.1f})",
                      flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
        bad = any(r["lost"] or r["doubled"] or r["stray"] or r["not_200"] or any(r["wrk_errors"].values())
                  for r in results)
        return 1 if bad else 0
    except Failure as e:
        print(f"webhooks bench: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
