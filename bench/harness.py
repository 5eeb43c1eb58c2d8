"""What the benchmarks share: a zulipd daemon in a temporary directory, wrk, and process figures.

Everything binds to 127.0.0.1 and is stopped and removed at the end.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

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


def wait_for(url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode} before {url} answered")
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


def _status_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status", encoding="utf-8") as status_file:
        for line in status_file:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb(pid: int) -> float:
    """The most resident memory the process has had (VmHWM)."""
    return _status_mb(pid, "VmHWM:")


def rss_mb(pid: int) -> float:
    """The process's resident memory now (VmRSS)."""
    return _status_mb(pid, "VmRSS:")


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

    def _postmaster_lines(self) -> list[str]:
        data_dir = os.path.realpath(os.path.join(self.workdir, "var", "postgresql", "data"))
        with open(os.path.join(data_dir, "postmaster.pid"), encoding="utf-8") as pid_file:
            return pid_file.read().splitlines()

    def database_dsn(self) -> str:
        """A libpq DSN for zulipd's database: ZULIPD_DATABASE_URL, else the embedded server's socket."""
        url = os.environ.get("ZULIPD_DATABASE_URL")
        if url:
            return url
        # postmaster.pid: pid, data directory, start time, port, socket directory, ...
        lines = self._postmaster_lines()
        return f"host={lines[4]} port={lines[3]} user=zulipd dbname=zulipd"

    def database_pids(self) -> list[int]:
        """The embedded PostgreSQL's processes (none for an outside server)."""
        if os.environ.get("ZULIPD_DATABASE_URL"):
            return []
        postmaster = int(self._postmaster_lines()[0])
        return [postmaster, *children_of(postmaster)]


def children_of(parent: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stat_file:
                fields = stat_file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == parent:
            children.append(int(entry))
    return children


def cpu_seconds_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += process_cpu_seconds(pid)
        except OSError:
            pass  # exited meanwhile: its time is lost, as it would be to ps
    return total


def basic_auth(email: str, api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{api_key}".encode()).decode()


def api_call(base_url: str, auth: str, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
    """One API call with urllib; parameters that are not strings go JSON-encoded, as Zulip's clients send them."""
    encoded = urllib.parse.urlencode(
        {key: value if isinstance(value, str) else json.dumps(value) for key, value in params.items()}
    )
    url = f"{base_url}/api/v1/{path}"
    data: bytes | None = encoded.encode()
    if method == "GET":
        url, data = f"{url}?{encoded}", None
    request = urllib.request.Request(url, data=data, method=method, headers={"Authorization": auth})  # noqa: S310
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310  (loopback URL we built)
        body: dict[str, Any] = json.loads(response.read())
    return body


@contextmanager
def workspace(keep: str | None = None) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """A directory the embedded PostgreSQL's account can reach, and the processes to stop.

    Without ``keep``, a temporary directory, removed at the end; with it, that
    directory (made if missing), left in place so that a later run reuses it.
    """
    if keep is None:
        workdir = tempfile.mkdtemp(prefix="zulipd-bench-")
    else:
        workdir = os.path.abspath(keep)
        os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o711)  # noqa: S103  (the embedded PostgreSQL's account must reach it)
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield workdir, started
    finally:
        for process in reversed(started):
            stop(process)
        if keep is None:
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
    try:
        wait_for(f"{base_url}/health", process=process)
    except SystemExit:
        with open(os.path.join(workdir, "zulipd.log"), encoding="utf-8", errors="replace") as log_file:
            sys.stderr.write("".join(log_file.readlines()[-20:]))
        raise
    return Zulipd(process, base_url, config, workdir)


@dataclass
class Load:
    """What ``http_load`` measured: one entry per answered request."""

    latencies_ms: list[float] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    database_cpu_seconds: float = 0.0

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, percent: float) -> float:
        """Nearest-rank percentile of the answered requests' latencies."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(chunks)
    else:
        body = await reader.read()
        headers["connection"] = "close"
    return status, body, headers.get("connection", "").lower() == "close"


async def _drive(host: str, port: int, makers: list[Callable[[int], bytes]], duration: float, load: Load) -> None:
    deadline = time.monotonic() + duration

    async def one_connection(make_request: Callable[[int], bytes]) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        number = 0
        try:
            while time.monotonic() < deadline:
                request = make_request(number)
                number += 1
                started = time.perf_counter()
                writer.write(request)
                status, body, close = await _read_response(reader)
                elapsed_ms = (time.perf_counter() - started) * 1000
                if status == 200:
                    load.latencies_ms.append(elapsed_ms)
                    load.bodies.append(body)
                else:
                    load.errors += 1
                    if len(load.error_samples) < 3:
                        load.error_samples.append(f"{status} {body[:200]!r}")
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    await asyncio.gather(*(one_connection(make_request) for make_request in makers))


def http_load(
    base_url: str, makers: list[Callable[[int], bytes]], duration: float, pid: int, database_pids: list[int]
) -> Load:
    """One keep-alive connection per request maker, each sending its next request as soon as the last is answered.

    Unlike wrk, it stops sending at the deadline and then waits for every request
    in flight, so every request sent is counted, answered.
    """
    host, port = urllib.parse.urlsplit(base_url).hostname, urllib.parse.urlsplit(base_url).port
    assert host is not None
    assert port is not None
    load = Load()
    cpu_before, database_before = process_cpu_seconds(pid), cpu_seconds_of(database_pids)
    started = time.perf_counter()
    asyncio.run(_drive(host, port, makers, duration, load))
    load.seconds = time.perf_counter() - started
    load.cpu_seconds = process_cpu_seconds(pid) - cpu_before
    load.database_cpu_seconds = cpu_seconds_of(database_pids) - database_before
    return load


def http_request(method: str, path: str, host: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """The bytes of one HTTP/1.1 keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{name}: {value}" for name, value in headers.items())]
    if body or method in ("POST", "PATCH", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
