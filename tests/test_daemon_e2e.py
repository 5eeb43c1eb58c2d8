"""End to end: ``twistd -n zulipd`` as an operator runs it, with its embedded PostgreSQL.

Each test owns a temporary directory that the PostgreSQL account can reach,
starts its own daemons there, and on the way out stops every process whose
command line mentions that directory before deleting it.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest

from tests.support.daemon import TWISTD, ZulipdProcess, http_get, processes_using, reachable_temporary_directory

CONFIG = "[server]\nlisten = tcp:0:interface=127.0.0.1\n"
HEALTHY = {"result": "success", "msg": ""}
CREATING_CLUSTER = "Creating the embedded PostgreSQL cluster"
EMBEDDED_READY = "Embedded PostgreSQL ready"
# Generous bounds for a daemon that must exit by itself; not assertions about speed.
SELF_EXIT_TIMEOUT = 60.0


class Workspace:
    """A reachable temporary directory, the daemons started in it, and their clean-up."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.daemons: list[ZulipdProcess] = []

    def daemon(self, config: str = CONFIG, env: dict[str, str] | None = None) -> ZulipdProcess:
        daemon = ZulipdProcess(str(self.root / "zulipd"), config, env)
        self.daemons.append(daemon)
        return daemon

    def data_dir(self) -> Path:
        """The embedded cluster's data directory (following a relocation symlink, if any)."""
        return Path(os.path.realpath(self.root / "zulipd" / "var" / "postgresql")) / "data"

    def close(self) -> None:
        try:
            for daemon in self.daemons:
                try:
                    daemon.stop()
                except subprocess.TimeoutExpired:
                    pass  # stop() has killed it
        finally:
            cluster = self.data_dir().parent
            for path in {str(self.root), str(cluster)}:
                stop_processes_mentioning(path)
            if not cluster.is_relative_to(self.root.resolve()):
                shutil.rmtree(cluster, ignore_errors=True)  # relocated by zulipd for this state directory
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def workspace() -> Iterator[Workspace]:
    workspace = Workspace(Path(reachable_temporary_directory("zulipd-e2e-")))
    try:
        yield workspace
    finally:
        workspace.close()


def stop_processes_mentioning(path: str) -> None:
    """Safety net after a failure: end what this test (or its daemons) left running under ``path``."""
    for sig in (signal.SIGQUIT, signal.SIGKILL):
        pids = [pid for pid in processes_using(path) if pid != os.getpid()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        wait_until(lambda: not [pid for pid in processes_using(path) if pid != os.getpid()], 5.0)


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def wait_for_exit(daemon: ZulipdProcess, timeout: float) -> int:
    try:
        return daemon.wait(timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"zulipd did not exit within {timeout:g} s:\n{daemon.log_tail()}")


def assert_exit_status_zero(status: int, daemon: ZulipdProcess) -> None:
    assert status == 0, f"zulipd exited with {status} (negative: killed by that signal):\n{daemon.log_tail()}"


def assert_healthy(base_url: str) -> None:
    assert http_get(base_url + "/health") == (200, HEALTHY)


def postgres_processes(data_dir: Path) -> list[int]:
    return processes_using(str(data_dir))


def assert_no_postgres_left(data_dir: Path) -> None:
    left = postgres_processes(data_dir)
    assert not left, f"processes still running on {data_dir}: {[command_line(pid) for pid in left]}"


def command_line(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return [part.decode(errors="replace") for part in cmdline.read().split(b"\0") if part]
    except OSError:
        return []


def parent_pid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as stat_file:
        return int(stat_file.read().rsplit(")", 1)[1].split()[1])


def is_running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has an empty command line)."""
    return bool(command_line(pid))


def postmaster_lines(data_dir: Path) -> list[str]:
    try:
        return (data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []


@contextmanager
def database(data_dir: Path) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor on the running embedded cluster, through its Unix socket (postmaster.pid line 5)."""
    lines = postmaster_lines(data_dir)
    assert len(lines) >= 5, f"no running server in {data_dir}: postmaster.pid is {lines}"
    port, socket_dir = lines[3].strip(), lines[4].strip()
    connection = psycopg2.connect(host=socket_dir, port=port, user="zulipd", dbname="zulipd", connect_timeout=10)
    with closing(connection):
        connection.autocommit = True
        with connection.cursor() as cursor:
            yield cursor


def assert_json_log(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines, f"{path} is empty"
    for number, line in enumerate(lines, start=1):
        try:
            record: Any = json.loads(line)
        except ValueError:
            pytest.fail(f"{path}:{number} is not JSON: {line!r}")
        assert isinstance(record, dict), f"{path}:{number} is not a JSON object: {line!r}"
        missing = {"time", "level", "namespace", "message"} - record.keys()
        assert not missing, f"{path}:{number} lacks {sorted(missing)}: {line!r}"
        datetime.fromisoformat(record["time"])


@pytest.mark.e2e
def test_health_keepalive_and_sigterm_shutdown(workspace: Workspace) -> None:
    # A drain far longer than the 10 s exit bound: if an idle keep-alive
    # connection were waited for as if busy, the exit would miss the bound.
    daemon = workspace.daemon(CONFIG + "drain_timeout = 60\n")
    daemon.start()
    base_url = daemon.wait_ready()
    assert_healthy(base_url)
    data_dir = workspace.data_dir()
    assert postgres_processes(data_dir), "the embedded PostgreSQL should be running"

    assert daemon.port is not None
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
        response = http.client.HTTPResponse(connection)
        response.begin()
        assert response.status == 200
        assert json.loads(response.read()) == HEALTHY
        assert not response.will_close, "the server should keep the connection open"
        connection.settimeout(0.5)
        with pytest.raises(TimeoutError):
            connection.recv(1)  # idle and still open

        connection.settimeout(10)
        daemon.signal(signal.SIGTERM)
        assert connection.recv(1) == b"", "the server should close the idle connection on shutdown"
    status = wait_for_exit(daemon, 10.0)

    assert_no_postgres_left(data_dir)
    messages = daemon.messages()
    assert "zulipd stopped" in messages
    assert not [message for message in messages if "Cutting" in message]
    assert_json_log(daemon.log_path)
    assert_exit_status_zero(status, daemon)


@pytest.mark.e2e
def test_restart_reuses_cluster_secrets_and_data(workspace: Workspace) -> None:
    daemon = workspace.daemon()
    daemon.start()
    daemon.wait_ready()
    assert any(CREATING_CLUSTER in message for message in daemon.messages())
    secrets_file = daemon.state_dir / "zulipd-secrets.conf"
    secrets = secrets_file.read_bytes()
    assert b"secret_key" in secrets
    marker = f"survives-a-restart-{uuid.uuid4().hex}"
    with database(workspace.data_dir()) as cursor:
        cursor.execute("CREATE TABLE e2e_marker (note text NOT NULL)")
        cursor.execute("INSERT INTO e2e_marker (note) VALUES (%s)", (marker,))
    daemon.stop()
    assert_no_postgres_left(workspace.data_dir())

    daemon.start()
    base_url = daemon.wait_ready()
    messages = daemon.messages()
    assert any(EMBEDDED_READY in message for message in messages)
    assert not [message for message in messages if CREATING_CLUSTER in message]
    assert secrets_file.read_bytes() == secrets
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert_healthy(base_url)
    with database(workspace.data_dir()) as cursor:
        cursor.execute("SELECT note FROM e2e_marker")
        assert cursor.fetchall() == [(marker,)]


@pytest.mark.e2e
def test_kill_9_leaves_no_postgres_behind(workspace: Workspace) -> None:
    daemon = workspace.daemon()
    daemon.start()
    daemon.wait_ready()
    data_dir = workspace.data_dir()
    assert postgres_processes(data_dir), "the embedded PostgreSQL should be running"

    daemon.signal(signal.SIGKILL)
    assert wait_for_exit(daemon, 10.0) == -signal.SIGKILL
    # A few seconds: the parent-death signal asks for a fast shutdown.
    if not wait_until(lambda: not postgres_processes(data_dir), 10.0):
        assert_no_postgres_left(data_dir)

    daemon.start()
    base_url = daemon.wait_ready()
    assert_healthy(base_url)
    assert not [message for message in daemon.messages() if "orphaned" in message]


@pytest.mark.e2e
def test_orphaned_postgres_is_stopped_at_start(workspace: Workspace) -> None:
    as_root = os.geteuid() == 0
    if shutil.which("setsid") is None:
        pytest.skip("setsid is not installed, so an orphaned server cannot be arranged")
    if as_root and shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed, so postgres cannot be started as its account")

    daemon = workspace.daemon()
    daemon.start()
    daemon.wait_ready()
    data_dir = workspace.data_dir()
    postmaster = int(postmaster_lines(data_dir)[0])
    postgres_binary = command_line(postmaster)[0]
    assert os.path.basename(postgres_binary) == "postgres", command_line(postmaster)
    daemon.stop()
    assert_no_postgres_left(data_dir)

    # The server as zulipd would not run it: no parent-death signal, parent not zulipd.
    socket_dir = workspace.root / "orphan-socket"
    socket_dir.mkdir(mode=0o700)
    server = [postgres_binary, "-D", str(data_dir), "-k", str(socket_dir), "-c", "listen_addresses="]
    if as_root:
        owner = data_dir.stat()
        os.chown(socket_dir, owner.st_uid, owner.st_gid)
        server = ["setpriv", f"--reuid={owner.st_uid}", f"--regid={owner.st_gid}", "--clear-groups", "--", *server]
    orphan_log = workspace.root / "orphan.log"
    launcher = 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 &'
    subprocess.run(["setsid", "sh", "-c", launcher, "sh", str(orphan_log), *server], check=True, timeout=30)

    def orphan_ready() -> bool:
        lines = postmaster_lines(data_dir)
        return len(lines) >= 8 and lines[7].strip() == "ready"

    if not wait_until(orphan_ready, SELF_EXIT_TIMEOUT):
        pytest.fail(f"the hand-started postgres did not become ready:\n{orphan_log.read_text(errors='replace')}")
    orphan = int(postmaster_lines(data_dir)[0])
    assert orphan in postgres_processes(data_dir)
    parent = parent_pid(orphan)
    parent_command = " ".join(command_line(parent))
    if parent == os.getpid() or "zulipd" in parent_command:
        pytest.skip(f"the hand-started postgres's parent is {parent} ({parent_command}), not an unrelated process")

    daemon.start()
    base_url = daemon.wait_ready()
    stopping = f"Stopping an orphaned embedded PostgreSQL server (pid {orphan})"
    assert any(stopping in message for message in daemon.messages()), daemon.log_tail()
    assert_healthy(base_url)
    assert not is_running(orphan)
    assert orphan not in postgres_processes(data_dir)


@pytest.mark.e2e
def test_listen_failure_after_start_exits_nonzero(workspace: Workspace) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        endpoint = f"tcp:{blocker.getsockname()[1]}:interface=127.0.0.1"
        daemon = workspace.daemon(f"[server]\nlisten = {endpoint}\n")
        daemon.start()
        status = wait_for_exit(daemon, SELF_EXIT_TIMEOUT)

    assert status > 0, f"zulipd should exit with an error status, got {status}:\n{daemon.log_tail()}"
    events = daemon.events()
    assert any(EMBEDDED_READY in str(event.get("message")) for event in events), "the failure should come after start"
    critical = [str(event.get("message")) for event in events if event.get("level") == "critical"]
    assert any("zulipd cannot start" in message and endpoint in message for message in critical), critical
    assert_no_postgres_left(workspace.data_dir())


@pytest.mark.e2e
def test_database_schema_newer_than_the_code_is_refused(workspace: Workspace) -> None:
    daemon = workspace.daemon()
    daemon.start()
    daemon.wait_ready()
    with database(workspace.data_dir()) as cursor:
        cursor.execute("INSERT INTO schema_version (version, name) VALUES (999, 'from_the_future')")
    daemon.stop()

    daemon.start()
    status = wait_for_exit(daemon, SELF_EXIT_TIMEOUT)
    assert status > 0, f"zulipd should exit with an error status, got {status}:\n{daemon.log_tail()}"
    assert any(
        "zulipd cannot start" in message and "newer than this zulipd knows" in message for message in daemon.messages()
    ), daemon.log_tail()
    assert_no_postgres_left(workspace.data_dir())


def _twistd_zulipd(workspace: Workspace, arguments: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("ZULIPD_")}
    environment["ZULIPD_STATE_DIR"] = str(workspace.root / "var")
    environment.update(env)
    return subprocess.run(
        [TWISTD, "-n", "--pidfile=", "zulipd", *arguments],
        cwd=workspace.root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SELF_EXIT_TIMEOUT,
    )


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        pytest.param("[database]\npool_size = lots\n", {}, ["{path}", "[database]", "pool_size"], id="bad-value"),
        pytest.param("[database]\npool_sise = 4\n", {}, ["{path}", "[database]", "pool_sise"], id="unknown-key"),
        pytest.param("[databass]\npool_size = 4\n", {}, ["{path}", "[databass]"], id="unknown-section"),
        pytest.param(
            CONFIG,
            {"ZULIPD_SERVER_LISTEN": "tcp:notaport"},
            ["ZULIPD_SERVER_LISTEN", "[server]", "listen", "tcp:notaport"],
            id="bad-endpoint-from-environment",
        ),
        pytest.param(None, {}, ["{path}", "does not exist"], id="missing-file"),
    ],
)
def test_bad_configuration_is_one_line_and_a_failure(
    workspace: Workspace, config: str | None, env: dict[str, str], expected: list[str]
) -> None:
    path = workspace.root / "zulipd.conf"
    if config is not None:
        path.write_text(config)
    result = _twistd_zulipd(workspace, ["--config", str(path)], env)
    output = result.stdout + result.stderr
    lines = [line for line in output.splitlines() if line.strip()]
    assert result.returncode != 0, output
    assert "Traceback" not in output
    assert len(lines) == 1, output
    for fragment in expected:
        assert fragment.format(path=path) in lines[0]
    assert not (workspace.root / "var").exists(), "a bad configuration must not start anything"


@pytest.mark.e2e
def test_check_config_accepts_a_good_file(workspace: Workspace) -> None:
    path = workspace.root / "zulipd.conf"
    path.write_text(CONFIG + "\n[database]\npool_size = 4\n")
    result = _twistd_zulipd(workspace, ["--config", str(path), "--check-config"], {})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert [line for line in output.splitlines() if line.strip()] == [f"zulipd: the configuration is valid ({path})"]
    assert not (workspace.root / "var").exists(), "--check-config must not start anything"


@pytest.mark.e2e
def test_two_daemons_cannot_share_a_state_directory(workspace: Workspace) -> None:
    first = workspace.daemon()
    first.start()
    base_url = first.wait_ready()
    second = ZulipdProcess(str(workspace.root / "zulipd"), CONFIG)
    second.start()
    status = wait_for_exit(second, SELF_EXIT_TIMEOUT)
    assert status == 1
    assert any(
        f"another zulipd process (pid {first.process.pid if first.process else '?'})" in message
        for message in second.messages()
    ), second.log_tail()
    assert_healthy(base_url)  # the first is untouched


@pytest.mark.e2e
def test_losing_the_embedded_postgres_stops_zulipd_with_a_reason(workspace: Workspace) -> None:
    daemon = workspace.daemon()
    daemon.start()
    daemon.wait_ready()
    data_dir = workspace.data_dir()
    postmaster = int(postmaster_lines(data_dir)[0])
    os.kill(postmaster, signal.SIGKILL)
    status = wait_for_exit(daemon, SELF_EXIT_TIMEOUT)
    assert status == 1
    assert any("zulipd is stopping: the embedded PostgreSQL exited unexpectedly" in m for m in daemon.messages())
    if not wait_until(lambda: not postgres_processes(data_dir), 10.0):
        assert_no_postgres_left(data_dir)
