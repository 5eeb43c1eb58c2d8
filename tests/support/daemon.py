"""Run ``twistd -n zulipd`` as a subprocess, as an operator would, for end-to-end tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TWISTD = os.path.join(os.path.dirname(sys.executable), "twistd")


def reachable_temporary_directory(prefix: str) -> str:
    """A temporary directory that the embedded PostgreSQL's account can walk into.

    pytest's own temporary directories sit under a mode-0700 directory, which
    an unprivileged server account cannot traverse.
    """
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o711)
    return path


def http_get(url: str, timeout: float = 10.0, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body else {}


class ZulipdProcess:
    """One zulipd daemon with its own configuration file and state directory."""

    def __init__(self, workdir: str, config: str = "", env: dict[str, str] | None = None) -> None:
        self.workdir = Path(workdir)
        self.state_dir = self.workdir / "var"
        self.config_path = self.workdir / "zulipd.conf"
        self.log_path = self.workdir / "zulipd.log"
        self.config_text = config or "[server]\nlisten = tcp:0:interface=127.0.0.1\n"
        self.env = {**os.environ, "ZULIPD_STATE_DIR": str(self.state_dir), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self._log_offset = 0

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text)
        self.port = None
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115  (owned by the child until it exits)
        self.process = subprocess.Popen(
            [TWISTD, "-n", "--pidfile=", "--logger", "zulipd.logs.json_lines", "zulipd", "--config",
             str(self.config_path)],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()

    def events(self) -> list[dict[str, Any]]:
        """This run's log events (earlier runs with the same log file are skipped)."""
        events = []
        if self.log_path.exists():
            with open(self.log_path, "rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode("utf-8", "replace")
            for line in text.splitlines():
                try:
                    events.append(json.loads(line))
                except ValueError:
                    events.append({"message": line, "unparsed": True})
        return events

    def messages(self) -> list[str]:
        return [str(event.get("message", "")) for event in self.events()]

    def wait_ready(self, timeout: float = 60.0) -> str:
        """Wait until zulipd says it is ready; return its base URL."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"zulipd exited with {self.process.returncode}:\n{self.log_tail()}")
            events = self.events()
            ports = [
                event["port"] for event in events if "port" in event and "Listening on" in event.get("message", "")
            ]
            if ports and any(event.get("message") == "zulipd is ready" for event in events):
                self.port = int(ports[-1])
                return self.base_url
            time.sleep(0.05)
        raise AssertionError(f"zulipd was not ready after {timeout} s:\n{self.log_tail()}")

    @property
    def base_url(self) -> str:
        assert self.port is not None
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        shown = []
        for event in self.events()[-lines:]:
            shown.append(str(event.get("message", "")))
            if event.get("traceback"):
                shown.append(str(event["traceback"]))
        return "\n".join(shown)

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, and wait; SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def processes_using(path: str) -> list[int]:
    """PIDs of processes whose command line mentions ``path`` (e.g. a postgres data dir)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if path.encode() in cmdline.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found
