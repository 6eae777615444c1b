#!/usr/bin/env python3
"""The web app's weight and speed on the demo team: every screen's HTML, the assets, gzip sizes,
server time, and the composer's live check round trip.

    cargo build --release -p herald
    infra/bench/web_pages.py target/release/herald [--checks 200]

Starts `herald demo` (a café with eight weeks of posts, an inbox and a report) on a free
loopback port in a scratch directory, reads its admin key, then with that key:

- GETs every screen (calendar month and week, composer, approvals, inbox, a thread, reports,
  channels, settings) 20 times: HTML bytes, gzip -6 bytes (what a compressing proxy or CDN
  would send), and the median wall time on loopback (server time included);
- adds the assets a first visit loads (stylesheet and scripts, long-cached afterwards) to give
  each screen's first-visit weight, compressed;
- POSTs the composer's live check (`/compose/check`) `--checks` times with a 280-character text
  on every channel: p50, p90, p99 of the round trip.

Prints one table; the process it started is ended by its PID on every exit.
"""
import argparse
import gzip
import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base, key, path, data=None, content_type=None):
    headers = {"Authorization": f"Bearer {key}"}
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(base + path, data=data, headers=headers, method="POST" if data is not None else "GET")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
            status = resp.status
    except urllib.error.HTTPError as e:
        body = e.read()
        status = e.code
    return status, body, (time.perf_counter() - started) * 1000


def percentile(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("herald", help="the herald binary (a release build for figures to quote)")
    ap.add_argument("--checks", type=int, default=200)
    args = ap.parse_args()

    scratch = tempfile.mkdtemp(prefix="herald-web-bench.")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(f"{scratch}/demo.log", "w+")
    demo = subprocess.Popen([args.herald, "demo", "--addr", f"127.0.0.1:{port}", "--data-dir", f"{scratch}/data"], stdout=log, stderr=subprocess.STDOUT)
    try:
        key = None
        for _ in range(600):
            log.seek(0)
            m = re.search(r"admin API key:\s+(hrld_[0-9a-f]+)", log.read())
            if m:
                key = m.group(1)
                try:
                    if request(base, key, "/health")[0] == 200:
                        break
                except OSError:
                    pass
            if demo.poll() is not None:
                sys.exit(f"herald demo exited ({demo.returncode}); log: {scratch}/demo.log")
            time.sleep(0.1)
        else:
            sys.exit(f"herald demo did not start; log: {scratch}/demo.log")

        def api(path):
            status, body, _ = request(base, key, path)
            assert status == 200, (path, status, body[:300])
            return json.loads(body)

        inbox = api("/v1/inbox?limit=1")["items"]
        reports = api("/v1/reports")["items"]
        channels = api("/v1/channels")["items"]
        screens = [
            ("calendar, month", "/calendar"),
            ("calendar, week", "/calendar?week=" + time.strftime("%Y-%m-%d")),
            ("composer", "/compose"),
            ("approvals", "/approvals"),
            ("inbox", "/inbox"),
        ]
        if inbox:
            screens.append(("inbox thread", f"/inbox/{inbox[0]['id']}"))
        screens += [("reports", "/reports"), ("channels", "/channels"), ("settings", "/settings")]
        if reports:
            screens.append(("a report", f"/reports/{reports[0]['id']}"))

        # The assets a screen links (each fetched once: they are cached for a year afterwards).
        asset_sizes = {}

        def assets_of(html):
            total_raw = total_gz = 0
            for path in sorted(set(re.findall(r'(?:href|src)="(/assets/[^"]+)"', html))):
                if path not in asset_sizes:
                    status, body, _ = request(base, key, path)
                    assert status == 200, path
                    asset_sizes[path] = (len(body), len(gzip.compress(body, 6)))
                total_raw += asset_sizes[path][0]
                total_gz += asset_sizes[path][1]
            return total_raw, total_gz

        rows = []
        for name, path in screens:
            times = []
            for _ in range(20):
                status, body, ms = request(base, key, path)
                times.append(ms)
            if status != 200:
                rows.append((name, path, f"HTTP {status}", "", "", "", ""))
                continue
            html = body.decode("utf-8", "replace")
            a_raw, a_gz = assets_of(html)
            gz = len(gzip.compress(body, 6))
            rows.append((name, path, f"{len(body) / 1024:.1f}", f"{gz / 1024:.1f}", f"{(gz + a_gz) / 1024:.1f}", f"{statistics.median(times):.1f}", f"{max(times):.1f}"))

        print(f"herald demo at {base} ({args.herald}); {len(channels)} channels")
        print()
        print("| screen | HTML KB | HTML gzip KB | first visit gzip KB (HTML + assets) | median ms | max ms (20 GETs) |")
        print("|---|---|---|---|---|---|")
        for name, path, raw, gz, first, med, mx in rows:
            print(f"| {name} (`{path.split('?')[0]}`) | {raw} | {gz} | {first} | {med} | {mx} |")
        print()
        print("| asset | bytes | gzip bytes |")
        print("|---|---|---|")
        for path, (raw, gz) in sorted(asset_sizes.items()):
            print(f"| `{path}` | {raw} | {gz} |")

        text = ("Fresh croissants from 7, see you tomorrow! " * 10)[:280]
        form = [("text", text)] + [("channel_ids", c["id"]) for c in channels]
        body = urllib.parse.urlencode(form).encode()
        times = []
        for _ in range(args.checks):
            status, answer, ms = request(base, key, "/compose/check", body, "application/x-www-form-urlencoded")
            if status != 200:
                print(f"\n/compose/check answered {status}: {answer[:300]!r}")
                break
            times.append(ms)
        if times:
            print()
            print(f"composer live check (`POST /compose/check`, 280 characters, {len(channels)} channels, {len(times)} calls): "
                  f"p50 {percentile(times, 50):.1f} ms, p90 {percentile(times, 90):.1f} ms, p99 {percentile(times, 99):.1f} ms, "
                  f"answer {len(answer)} bytes")
    finally:
        demo.terminate()
        try:
            demo.wait(timeout=10)
        except subprocess.TimeoutExpired:
            demo.kill()


if __name__ == "__main__":
    main()
