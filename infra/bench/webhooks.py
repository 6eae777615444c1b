#!/usr/bin/env python3
"""Webhook intake throughput and latency of a running `herald serve`, with duplicates.

    python3 infra/bench/webhooks.py [HERALD_BINARY] [--events 2000] [--duplicates 0.10] [--concurrency 8]

What it does (Python 3.11+, standard library only, loopback only):

1. starts `herald serve --addr 127.0.0.1:0` on a temporary data directory (as lateness.py does)
   and creates a `generic` channel holding a Standard Webhooks secret;
2. sends --events signed webhooks (one interaction each, varied English/French texts) from
   --concurrency threads over keep-alive connections; a --duplicates share of them are
   redeliveries of an earlier event (same body, new webhook-id: what a platform retry looks
   like), interleaved at random;
3. reports requests/s, latency p50/p90/p99/max (ms, per request, as the client sees it), then
   reads the whole inbox back through the API and checks that every distinct event is there
   exactly once: "lost" and "doubled" must both be 0.

Exit status 0 when nothing is lost or doubled and every request got 200; 1 otherwise; 2 when
the run could not be made.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import random
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lateness import Api, Failure, Serve, find_binary, percentile  # noqa: E402

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", nargs="?")
    ap.add_argument("--events", type=int, default=2000, help="webhook requests in total (default 2000)")
    ap.add_argument("--duplicates", type=float, default=0.10, help="share of redeliveries (default 0.10)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="herald-webhooks-"))
    serve = None
    try:
        serve = Serve(find_binary(args.binary), data_dir, startup_s=30)
        api = Api(serve.url, serve.key)
        channel = api.call("POST", "/v1/channels", {
            "platform": "generic", "name": "bench", "time_zone": "Europe/Paris",
            "credentials": {"webhook_secret": SECRET},
        })["id"]
        host = urllib.parse.urlsplit(serve.url)

        rng = random.Random(42)
        unique = args.events - int(args.events * args.duplicates)
        bodies = []
        for i in range(unique):
            bodies.append(json.dumps({
                "kind": "comment", "id": f"evt-{i}", "author": {"id": f"user-{i % 500}", "name": f"User {i % 500}"},
                "text": TEXTS[i % len(TEXTS)], "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }).encode())
        plan = list(range(unique)) + [rng.randrange(unique) for _ in range(args.events - unique)]
        rng.shuffle(plan)

        latencies: list[float] = []
        statuses: Counter = Counter()
        lock = threading.Lock()
        next_index = iter(range(len(plan)))

        def worker() -> None:
            conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
            local_lat, local_status = [], Counter()
            while True:
                with lock:
                    n = next(next_index, None)
                if n is None:
                    break
                body = bodies[plan[n]]
                msg = f"msg_{n}"
                ts = int(time.time())
                headers = {"content-type": "application/json", "webhook-id": msg,
                           "webhook-timestamp": str(ts), "webhook-signature": sign(msg, ts, body)}
                t = time.perf_counter()
                conn.request("POST", f"/webhooks/generic/{channel}", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                local_lat.append((time.perf_counter() - t) * 1000)
                local_status[resp.status] += 1
            conn.close()
            with lock:
                latencies.extend(local_lat)
                statuses.update(local_status)

        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start

        # Read the inbox back: every distinct event exactly once.
        seen: Counter = Counter()
        cursor = None
        while True:
            q = {"limit": "500"} | ({"cursor": cursor} if cursor else {})
            page = api.call("GET", "/v1/inbox?" + urllib.parse.urlencode(q))
            seen.update(item["external_id"] for item in page["items"])
            cursor = page.get("next")
            if not cursor:
                break
        expected = {f"evt-{i}" for i in range(unique)}
        lost = sorted(expected - set(seen))
        doubled = sorted(k for k, v in seen.items() if v > 1)
        lat = sorted(latencies)
        print(f"herald serve webhook intake: {args.events} requests ({args.events - unique} redeliveries), "
              f"{args.concurrency} connections, SQLite in {data_dir}")
        print(f"  throughput   {args.events / elapsed:8.0f} requests/s  ({elapsed:.2f} s)")
        print(f"  latency ms   p50 {percentile(lat, 50):6.2f}  p90 {percentile(lat, 90):6.2f}  "
              f"p99 {percentile(lat, 99):6.2f}  max {lat[-1]:6.2f}")
        print(f"  statuses     {dict(statuses)}")
        print(f"  inbox        {len(seen)} interactions for {unique} distinct events: lost {len(lost)}, doubled {len(doubled)}")
        ok = not lost and not doubled and set(statuses) == {200}
        return 0 if ok else 1
    except Failure as e:
        print(f"webhooks bench: {e}", file=sys.stderr)
        return 2
    finally:
        if serve:
            serve.stop()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
