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
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)


@dataclass
class Run:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_seconds: float
    peak_rss_mb: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  (loopback URL we built)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def _milliseconds(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def process_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as stat_file:
        fields = stat_file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="utf-8") as status_file:
        for line in status_file:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wrk(url: str, duration: float, connections: int, pid: int, headers: dict[str, str]) -> Run:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    cpu_before = process_cpu_seconds(pid)
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    cpu = process_cpu_seconds(pid) - cpu_before
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _milliseconds(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _milliseconds(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses:\s+(\d+)", r"Socket errors:.*?(\d+)"):
        match = re.search(pattern, output)
        if match:
            errors += int(match.group(1))
    return Run(rate, p50, p99, errors, cpu, peak_rss_mb(pid))


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_bare(workdir: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "bare_json_server.py"), str(port), os.path.join(workdir, "bare.log")]
    )
    url = f"http://127.0.0.1:{port}/api/v1/users/me"
    wait_for(url)
    return process, url


def start_zulipd(
    workdir: str, started: list[subprocess.Popen[bytes]]
) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    port = free_port()
    config = os.path.join(workdir, "zulipd.conf")
    with open(config, "w", encoding="utf-8") as config_file:
        config_file.write(
            f"[server]\nlisten = tcp:{port}:interface=127.0.0.1\n"
            f"[state]\ndir = {workdir}/var\n"
            "[auth]\npassword_hash_rounds = 4\n"
            # The limiter runs on every request but never refuses: a one-second window
            # keeps its per-user list as short as production's 200 calls a minute.
            "[ratelimit]\napi_by_user = 1:1000000\n"
        )
    log = open(os.path.join(workdir, "zulipd.log"), "ab")  # noqa: SIM115  (the child's, until it exits)
    process = subprocess.Popen(
        [os.path.join(BIN, "twistd"), "-n", "--pidfile=", "--logger", "zulipd.logs.text_lines",
         "zulipd", "--config", config],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    started.append(process)
    wait_for(f"http://127.0.0.1:{port}/health")
    keys = json.loads(
        subprocess.run(
            [os.path.join(BIN, "zulipd-admin"), "populate-dev", "--json", "-c", config],
            capture_output=True, text=True, check=True, cwd=workdir,
        ).stdout
    )  # fmt: skip
    import base64

    credentials = base64.b64encode(f"iago@zulip.com:{keys['iago@zulip.com']}".encode()).decode()
    return process, f"http://127.0.0.1:{port}/api/v1/users/me", {"Authorization": f"Basic {credentials}"}


def summarize(name: str, runs: list[Run]) -> Run:
    median = Run(
        statistics.median(run.requests_per_second for run in runs),
        statistics.median(run.p50_ms for run in runs),
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
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark needs wrk: apt-get install wrk")
    workdir = tempfile.mkdtemp(prefix="zulipd-bench-")
    os.chmod(workdir, 0o711)  # noqa: S103  (the embedded PostgreSQL's account must reach it)
    started: list[subprocess.Popen[bytes]] = []
    bare_runs: list[Run] = []
    zulipd_runs: list[Run] = []
    try:
        bare, bare_url = start_bare(workdir)
        started.append(bare)
        zulipd, zulipd_url, auth = start_zulipd(workdir, started)
        for target, url, headers in ((bare, bare_url, {}), (zulipd, zulipd_url, auth)):
            wrk(url, 2, args.connections, target.pid, headers)  # warm-up
        for _ in range(args.rounds):
            bare_runs.append(wrk(bare_url, args.duration, args.connections, bare.pid, {}))
            zulipd_runs.append(wrk(zulipd_url, args.duration, args.connections, zulipd.pid, auth))
    finally:
        for process in reversed(started):
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"GET /api/v1/users/me, {args.connections} keep-alive connections, {args.rounds} x {args.duration:g} s, medians"
    )
    bare_result = summarize("bare twisted.web", bare_runs)
    zulipd_result = summarize("zulipd (Basic auth)", zulipd_runs)
    ratio = zulipd_result.requests_per_second / bare_result.requests_per_second
    print(f"zulipd / bare: {ratio:.0%} (target >= 60%)   zulipd p99 {zulipd_result.p99_ms:.2f} ms (target < 20 ms)")


if __name__ == "__main__":
    main()
