"""What the benchmarks share: a zulipd daemon in a temporary directory, wrk, and process figures.

Everything binds to 127.0.0.1 and is stopped and removed at the end.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)


@dataclass
class Run:
    requests_per_second: float
    requests: int
    p50_ms: float
    p95_ms: float
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


def milliseconds(text: str) -> float:
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


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark needs wrk: apt-get install wrk")


# Prints every latency percentile wrk measured, so that p95 is available too.
_PERCENTILES_SCRIPT = """
done = function(summary, latency, requests)
  for _, p in pairs({50, 95, 99}) do
    io.write(string.format("p%d %d\\n", p, latency:percentile(p)))
  end
end
"""


def wrk(
    url: str,
    duration: float,
    connections: int,
    pid: int,
    headers: dict[str, str],
    lua: str = "",
) -> Run:
    """Load ``url`` for ``duration`` s; ``lua`` may set wrk.method, wrk.body, request()."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua + _PERCENTILES_SCRIPT)
    try:
        command = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "-s", script.name]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        cpu_before = process_cpu_seconds(pid)
        output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
        cpu = process_cpu_seconds(pid) - cpu_before
    finally:
        os.unlink(script.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    percentiles = {int(p): int(us) / 1000 for p, us in re.findall(r"^p(\d+) (\d+)$", output, re.MULTILINE)}
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses:\s+(\d+)", r"Socket errors:.*?(\d+)"):
        match = re.search(pattern, output)
        if match:
            errors += int(match.group(1))
    return Run(rate, total, percentiles[50], percentiles[95], percentiles[99], errors, cpu, peak_rss_mb(pid))


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Zulipd:
    process: subprocess.Popen[bytes]
    base_url: str
    config: str
    workdir: str

    def admin(self, *args: str) -> str:
        return subprocess.run(
            [os.path.join(BIN, "zulipd-admin"), *args, "-c", self.config],
            capture_output=True, text=True, check=True, cwd=self.workdir,
        ).stdout  # fmt: skip

    def dev_keys(self) -> dict[str, str]:
        keys: dict[str, str] = json.loads(self.admin("populate-dev", "--json"))
        return keys


def basic_auth(email: str, api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{api_key}".encode()).decode()


@contextmanager
def workspace() -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """A temporary directory the embedded PostgreSQL's account can reach, and the processes to stop."""
    workdir = tempfile.mkdtemp(prefix="zulipd-bench-")
    os.chmod(workdir, 0o711)  # noqa: S103  (the embedded PostgreSQL's account must reach it)
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield workdir, started
    finally:
        for process in reversed(started):
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


def start_zulipd(workdir: str, started: list[subprocess.Popen[bytes]], extra_config: str = "") -> Zulipd:
    port = free_port()
    config = os.path.join(workdir, "zulipd.conf")
    with open(config, "w", encoding="utf-8") as config_file:
        config_file.write(
            f"[server]\nlisten = tcp:{port}:interface=127.0.0.1\n"
            f"[state]\ndir = {workdir}/var\n"
            "[auth]\npassword_hash_rounds = 4\n"
            # The limiter runs on every request but never refuses: a one-second window
            # keeps its per-user list as short as production's 200 calls a minute.
            "[ratelimit]\napi_by_user = 1:1000000\n" + extra_config
        )
    log = open(os.path.join(workdir, "zulipd.log"), "ab")  # noqa: SIM115  (the child's, until it exits)
    process = subprocess.Popen(
        [os.path.join(BIN, "twistd"), "-n", "--pidfile=", "--logger", "zulipd.logs.text_lines",
         "zulipd", "--config", config],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    started.append(process)
    base_url = f"http://127.0.0.1:{port}"
    wait_for(f"{base_url}/health")
    return Zulipd(process, base_url, config, workdir)
