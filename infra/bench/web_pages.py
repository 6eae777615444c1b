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
- puts --month-posts posts (default 300, one in three on two channels) in February of next
  year through `POST /v1/posts` and GETs that month 20 times: the calendar's server time
  (`Server-Timing`) with that many posts;
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
    ap.add_argument("--month-posts", type=int, default=300, help="posts put in one month for the calendar figure")
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

        # The calendar month with --month-posts posts.
        year = int(time.strftime("%Y")) + 1
        for i in range(args.month_posts):
            day, minute = 1 + i % 28, (i * 7) % (14 * 60)
            chosen = [channels[0]["id"]] + ([channels[1]["id"]] if i % 3 == 0 and len(channels) > 1 else [])
            post = json.dumps({"text": f"Post {i} of the month", "channel_ids": chosen,
                               "publish_at": f"{year}-02-{day:02d}T{8 + minute // 60:02d}:{minute % 60:02d}:00Z"}).encode()
            status, answer, _ = request(base, key, "/v1/posts", post, "application/json")
            assert status == 201, (status, answer[:300])
        server, walls, size = [], [], 0
        for _ in range(20):
            req = urllib.request.Request(f"{base}/calendar?month={year}-02", headers={"Authorization": f"Bearer {key}"})
            started = time.perf_counter()
            with urllib.request.urlopen(req, timeout=30) as resp:
                body = resp.read()
                timing = resp.headers.get("Server-Timing", "")
            walls.append((time.perf_counter() - started) * 1000)
            m = re.search(r"dur=([0-9.]+)", timing)
            if m:
                server.append(float(m.group(1)))
            size = len(body)
        shown = body.decode("utf-8", "replace").count('class="chip s-')
        print()
        print(f"calendar month with {args.month_posts} posts (`/calendar?month={year}-02`, {shown} chips shown, 20 GETs): "
              f"server time median {statistics.median(server):.1f} ms (max {max(server):.1f}), wall median {statistics.median(walls):.1f} ms; "
              f"{size / 1024:.0f} KB of HTML, {len(gzip.compress(body, 6)) / 1024:.1f} KB gzip")

        text = ("Fresh croissants from 7, see you tomorrow! " * 10)[:280]
        form = [("text", text)] + [("channel", c["id"]) for c in channels]
        body = urllib.parse.urlencode(form).encode()
        times = []
        for _ in range(args.checks):
            status, answer, ms = request(base, key, "/compose/check", body, "application/x-www-form-urlencoded")
            if status != 200:
                print(f"\n/compose/check answered {status}: {answer[:300]!r}")
                break
            times.append(ms)
        if times and b"class=\"count\"" not in answer:
            print(f"\n/compose/check answered no counter: {answer[:300]!r}")
            times = []
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
