"""Authenticated ``GET /api/v1/users/me`` on one zulipd process, beside a bare twisted.web resource.

    .venv/bin/python bench/users_me.py [--duration 10] [--connections 50] [--rounds 2]

Both servers run on 127.0.0.1 and are loaded by ``wrk`` (apt-get install wrk)
with 50 keep-alive connections, one after the other, for several alternating
rounds; the medians are printed. The target: zulipd serves at least 60% of the
bare resource's requests per second, with p99 latency under 20 ms.
Authentication must come from zulipd's in-memory key cache, not the database.

zulipd runs with its embedded PostgreSQL in a temporary directory (or the
server named by ZULIPD_DATABASE_URL), with the per-user rate limit raised so
that the limiter still runs but never refuses. Both servers log each request
through zulipd's buffered text observer (``--logger zulipd.logs.text_lines``). The load generator shares the
machine's cores with the server, so absolute figures are noisy; the ratio holds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

from harness import HERE, Run, basic_auth, require_wrk, start_zulipd, wait_for, workspace, wrk


def start_bare(workdir: str) -> tuple[subprocess.Popen[bytes], str]:
    from harness import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "bare_json_server.py"), str(port), os.path.join(workdir, "bare.log")]
    )
    url = f"http://127.0.0.1:{port}/api/v1/users/me"
    wait_for(url)
    return process, url


def summarize(name: str, runs: list[Run]) -> Run:
    median = Run(
        statistics.median(run.requests_per_second for run in runs),
        sum(run.requests for run in runs),
        statistics.median(run.p50_ms for run in runs),
        statistics.median(run.p95_ms for run in runs),
        statistics.median(run.p99_ms for run in runs),
        sum(run.errors for run in runs),
        statistics.median(run.cpu_seconds for run in runs),
        max(run.peak_rss_mb for run in runs),
    )
    print(
        f"{name:<22} {median.requests_per_second:>9,.0f} req/s   p50 {median.p50_ms:6.2f} ms   "
        f"p99 {median.p99_ms:6.2f} ms   errors {median.errors}   server CPU {median.cpu_seconds:5.1f} s/run   "
        f"peak RSS {median.peak_rss_mb:5.0f} MB"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    require_wrk()
    bare_runs: list[Run] = []
    zulipd_runs: list[Run] = []
    with workspace() as (workdir, started):
        bare, bare_url = start_bare(workdir)
        started.append(bare)
        zulipd = start_zulipd(workdir, started)
        auth = {"Authorization": basic_auth("iago@zulip.com", zulipd.dev_keys()["iago@zulip.com"])}
        zulipd_url = f"{zulipd.base_url}/api/v1/users/me"
        for pid, url, headers in ((bare.pid, bare_url, {}), (zulipd.process.pid, zulipd_url, auth)):
            wrk(url, 2, args.connections, pid, headers)  # warm-up
        for _ in range(args.rounds):
            bare_runs.append(wrk(bare_url, args.duration, args.connections, bare.pid, {}))
            zulipd_runs.append(wrk(zulipd_url, args.duration, args.connections, zulipd.process.pid, auth))
    print(
        f"GET /api/v1/users/me, {args.connections} keep-alive connections, {args.rounds} x {args.duration:g} s, medians"
    )
    bare_result = summarize("bare twisted.web", bare_runs)
    zulipd_result = summarize("zulipd (Basic auth)", zulipd_runs)
    ratio = zulipd_result.requests_per_second / bare_result.requests_per_second
    print(f"zulipd / bare: {ratio:.0%} (target >= 60%)   zulipd p99 {zulipd_result.p99_ms:.2f} ms (target < 20 ms)")


if __name__ == "__main__":
    main()
