"""The embedded PostgreSQL: a private cluster in the state directory.

With no ``[database] url``, zulipd runs ``postgres`` as its own child process:
initdb on first start, a Unix socket in a private directory (no TCP at all),
trust authentication behind that socket, and a fast shutdown when zulipd stops.

- Binaries: ``[database] embedded_bindir``, else the machine's server binaries
  (``pg_config --bindir``, ``/usr/lib/postgresql/*/bin``), else those bundled in
  the ``pgserver`` package, called directly.
- PostgreSQL refuses to run as root, so as root the server runs as an
  unprivileged account (``postgres`` if it exists, else ``nobody``).
- The child gets a parent-death signal (``setpriv --pdeathsig``), so even a
  ``kill -9`` of zulipd does not leave an orphan server behind. If one is left
  anyway (no setpriv), the next start finds it through ``postmaster.pid`` and
  stops it before starting afresh.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg2
from twisted.internet import defer, error, protocol, threads
from twisted.internet.interfaces import IProcessTransport, IReactorProcess, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from zulipd.timing import sleep

log = Logger()

SUPERUSER = "zulipd"
DATABASE = "zulipd"
PORT = 5432
# Leave room for "/.s.PGSQL.5432" within the 107 bytes of sun_path.
MAX_SOCKET_DIR_LENGTH = 90
# Where a cluster goes when the state directory is out of the server account's reach.
RELOCATION_ROOT = "/var/lib/zulipd-embedded"


class EmbeddedPostgresError(Exception):
    """The embedded PostgreSQL cannot start. ``str()`` is one line for the operator."""


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int


def server_major_version(bindir: str) -> str | None:
    """The major version of the ``postgres`` in ``bindir``, e.g. "15"."""
    try:
        output = subprocess.run(
            [os.path.join(bindir, "postgres"), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\) (\d+)", output)
    return match.group(1) if match else None


def _candidate_bindirs() -> list[str]:
    candidates: list[str] = []
    try:
        output = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        candidates.append(output)
    except (OSError, subprocess.SubprocessError):
        pass

    def version_key(path: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path))

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True)
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        candidates += [os.path.join(location, "pginstall", "bin") for location in spec.submodule_search_locations]
    return [candidate for candidate in candidates if candidate]


def find_server_binaries(configured: str, cluster_major: str | None = None) -> str:
    """The directory holding ``postgres`` and ``initdb``.

    An existing cluster can only be run by the major version that created it
    (its ``PG_VERSION``), so that version is preferred over any newer one.
    """

    def usable(directory: str) -> bool:
        return all(os.access(os.path.join(directory, name), os.X_OK) for name in ("postgres", "initdb"))

    if configured:
        if not usable(configured):
            raise EmbeddedPostgresError(
                f"[database] embedded_bindir {configured} does not hold executable postgres and initdb"
            )
        candidates = [configured]
    else:
        candidates = [candidate for candidate in _candidate_bindirs() if usable(candidate)]
    if not candidates:
        raise EmbeddedPostgresError(
            "no PostgreSQL server binaries found: install PostgreSQL (apt-get install postgresql) "
            "or the pgserver package, or set [database] url"
        )
    if cluster_major is None:
        return candidates[0]
    found = [(candidate, server_major_version(candidate)) for candidate in candidates]
    for candidate, major in found:
        if major == cluster_major:
            return candidate
    described = ", ".join(f"{major or '?'} in {candidate}" for candidate, major in found)
    raise EmbeddedPostgresError(
        f"the embedded cluster was created by PostgreSQL {cluster_major}, and no PostgreSQL {cluster_major} "
        f"server binaries were found (found: {described}); install them or set [database] embedded_bindir"
    )


def server_account(configured: str) -> Account | None:
    """The account the server runs as, or None to run as ourselves (not root)."""
    if os.geteuid() != 0:
        return None
    names = [configured] if configured else ["postgres", "nobody"]
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid == 0:
            raise EmbeddedPostgresError(f"[database] embedded_user {name} is root; PostgreSQL refuses to run as root")
        return Account(name, entry.pw_uid, entry.pw_gid)
    raise EmbeddedPostgresError(f"no account {' or '.join(names)} to run the embedded PostgreSQL as")


def reachable_by(account: Account | None, path: str) -> bool:
    """Whether ``account`` may walk down to ``path`` (every parent searchable)."""
    if account is None:
        return True
    current = os.path.dirname(os.path.abspath(path))
    while True:
        try:
            status = os.stat(current)
        except FileNotFoundError:
            pass
        else:
            if status.st_uid == account.uid:
                bit = 0o100
            elif status.st_gid == account.gid:
                bit = 0o010
            else:
                bit = 0o001
            if not status.st_mode & bit:
                return False
        parent = os.path.dirname(current)
        if parent == current:
            return True
        current = parent


def _process_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (exited, not yet reaped by its parent) does not."""
    try:
        os.kill(pid, 0)
    except OSError as exc:
        if exc.errno != errno.EPERM:
            return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat_file:
            state = stat_file.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _postmaster_pid(data_dir: str) -> int | None:
    try:
        with open(os.path.join(data_dir, "postmaster.pid"), encoding="utf-8") as pid_file:
            return int(pid_file.readline().strip())
    except (OSError, ValueError):
        return None


def _cluster_major_version(data_dir: str) -> str | None:
    try:
        with open(os.path.join(data_dir, "PG_VERSION"), encoding="utf-8") as version_file:
            return version_file.read().strip() or None
    except OSError:
        return None


def _postmaster_lines(data_dir: str) -> list[str]:
    """postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shm key, status."""
    try:
        with open(os.path.join(data_dir, "postmaster.pid"), encoding="utf-8") as pid_file:
            return pid_file.read().splitlines()
    except OSError:
        return []


def _postmaster_ready(data_dir: str) -> bool:
    lines = _postmaster_lines(data_dir)
    return len(lines) >= 8 and lines[7].strip() == "ready"


def _postmaster_socket_dir(data_dir: str) -> str:
    lines = _postmaster_lines(data_dir)
    return lines[4].strip() if len(lines) >= 5 else ""


def _zulipd_owner(pid: int) -> int | None:
    """The live ``twistd zulipd`` or ``zulipd-admin`` process that started server ``pid``, if any."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat_file:
            parent = int(stat_file.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{parent}/cmdline", "rb") as cmdline_file:
            arguments = [argument.decode("utf-8", "replace") for argument in cmdline_file.read().split(b"\0")]
    except (OSError, ValueError, IndexError):
        return None
    programs = {os.path.basename(argument) for argument in arguments}
    if parent > 1 and ("zulipd-admin" in programs or ("twistd" in programs and "zulipd" in arguments)):
        return parent
    return None


class _CollectOutput(protocol.ProcessProtocol):
    def __init__(self) -> None:
        self.output = bytearray()
        self.ended: defer.Deferred[int] = defer.Deferred()

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        self.output += data

    def processEnded(self, reason: Failure) -> None:
        code = getattr(reason.value, "exitCode", None)
        self.ended.callback(code if code is not None else -1)


class _ServerProtocol(protocol.ProcessProtocol):
    """Forwards the server's log lines and reports its exit."""

    def __init__(self, on_unexpected_exit: Callable[[str], None] | None) -> None:
        self.ended: defer.Deferred[None] = defer.Deferred()
        self.has_ended = False
        self.stopping = False
        self._on_unexpected_exit = on_unexpected_exit
        self.recent_lines: list[str] = []
        self._partial = b""

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip()
            if not line:
                continue
            self.recent_lines = [*self.recent_lines[-19:], line]
            if re.search(r"\b(FATAL|PANIC|ERROR)\b", line):
                log.warn("postgres: {line}", line=line)
            else:
                log.info("postgres: {line}", line=line)

    def processEnded(self, reason: Failure) -> None:
        self.has_ended = True
        self.ended.callback(None)
        if not self.stopping and self._on_unexpected_exit is not None:
            last = self.recent_lines[-1] if self.recent_lines else "no output"
            self._on_unexpected_exit(
                f"the embedded PostgreSQL exited unexpectedly ({reason.getErrorMessage()}): {last}"
            )


class EmbeddedPostgres:
    """Owns the private cluster: start it, hand out its DSN, stop it."""

    def __init__(
        self,
        reactor: IReactorProcess,
        clock: IReactorTime,
        state_dir: str,
        configured_bindir: str = "",
        configured_user: str = "",
        start_timeout: float = 60.0,
        share_running_server: bool = False,
        on_unexpected_exit: Callable[[str], None] | None = None,
    ) -> None:
        """``share_running_server``: use a server that a live zulipd already runs on
        this state directory (for zulipd-admin) rather than refusing to start.
        ``on_unexpected_exit`` is told when the server dies while in use."""
        self._reactor = reactor
        self._clock = clock
        self._state_dir = state_dir
        self._configured_bindir = configured_bindir
        self._configured_user = configured_user
        self._start_timeout = start_timeout
        self._share_running_server = share_running_server
        self.on_unexpected_exit = on_unexpected_exit
        self._process: IProcessTransport | None = None
        self._protocol: _ServerProtocol | None = None
        self._temporary_socket_dir: str | None = None
        self.socket_dir = ""
        self.data_dir = ""

    @property
    def dsn(self) -> str:
        return f"host={self.socket_dir} port={PORT} user={SUPERUSER} dbname={DATABASE}"

    def admin_dsn(self) -> str:
        return f"host={self.socket_dir} port={PORT} user={SUPERUSER} dbname=postgres"

    async def start(self) -> str:
        """Start the cluster (running initdb first if needed) and return a DSN for it."""
        bindir, account, cluster = await threads.deferToThread(self._prepare)
        self.data_dir = os.path.join(cluster, "data")
        if await self._adopt_running_server():
            await self._wait_until_ready()
            return self.dsn
        if not os.path.exists(os.path.join(self.data_dir, "PG_VERSION")):
            await self._initdb(bindir, account)
        self.socket_dir = self._socket_dir(cluster, account)
        self._spawn(bindir, account)
        await self._wait_until_ready()
        await threads.deferToThread(self._ensure_database)
        log.info("Embedded PostgreSQL ready in {data_dir}", data_dir=self.data_dir)
        return self.dsn

    def _prepare(self) -> tuple[str, Account | None, str]:
        """Blocking set-up, run in a thread: binaries, account and directories."""
        account = server_account(self._configured_user)
        os.makedirs(self._state_dir, exist_ok=True)
        cluster = os.path.join(self._state_dir, "postgresql")
        if os.path.exists(cluster):
            cluster = os.path.realpath(cluster)
            if not reachable_by(account, os.path.join(cluster, "data")):
                raise EmbeddedPostgresError(
                    f"the embedded PostgreSQL runs as {account.name if account else '?'}, which cannot reach "
                    f"{cluster}: make its parent directories searchable (chmod o+x) or move [state] dir"
                )
        elif not reachable_by(account, os.path.join(cluster, "data")):
            # e.g. root running from a checkout under /root (mode 0700): keep the
            # cluster where the server account can reach it, and link to it.
            digest = hashlib.sha256(os.path.realpath(self._state_dir).encode()).hexdigest()[:16]
            target = os.path.join(RELOCATION_ROOT, digest)
            os.makedirs(RELOCATION_ROOT, mode=0o755, exist_ok=True)
            os.makedirs(target, mode=0o755, exist_ok=True)
            os.symlink(target, cluster)
            log.warn(
                "The account {account} cannot reach {state_dir}, so the embedded PostgreSQL cluster lives in "
                "{target}, linked from {cluster}",
                account=account.name if account else "?",
                state_dir=self._state_dir,
                target=target,
                cluster=cluster,
            )
            cluster = target
        else:
            os.makedirs(cluster, exist_ok=True)
        data_dir = os.path.join(cluster, "data")
        if not os.path.exists(data_dir):
            os.mkdir(data_dir, 0o700)
        if account is not None:
            os.chown(data_dir, account.uid, account.gid)
        os.chmod(data_dir, 0o700)
        bindir = find_server_binaries(self._configured_bindir, _cluster_major_version(data_dir))
        if not reachable_by(account, os.path.join(bindir, "postgres")):
            bindir = self._reachable_copy_of_binaries(bindir, account)
        return bindir, account, cluster

    def _reachable_copy_of_binaries(self, bindir: str, account: Account | None) -> str:
        install_root = os.path.dirname(bindir)
        # Keyed by version too, so that an upgraded package gets a fresh copy.
        identity = f"{os.path.realpath(install_root)} {server_major_version(bindir)} {os.stat(bindir).st_mtime_ns}"
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        target = os.path.join(RELOCATION_ROOT, f"bin-{digest}")
        if not os.path.exists(target):
            os.makedirs(RELOCATION_ROOT, mode=0o755, exist_ok=True)
            staging = tempfile.mkdtemp(prefix="bin-", dir=RELOCATION_ROOT)
            shutil.copytree(install_root, os.path.join(staging, "install"), symlinks=True)
            os.replace(os.path.join(staging, "install"), target)
            os.rmdir(staging)
            log.info(
                "Copied the PostgreSQL binaries from {source} to {target}, where {account} can run them",
                source=install_root,
                target=target,
                account=account.name if account else "?",
            )
        return os.path.join(target, os.path.basename(bindir))

    def _socket_dir(self, cluster: str, account: Account | None) -> str:
        socket_dir = os.path.join(cluster, "run")
        if len(socket_dir) > MAX_SOCKET_DIR_LENGTH:
            socket_dir = tempfile.mkdtemp(prefix="zulipd-pg-")
            self._temporary_socket_dir = socket_dir
        else:
            os.makedirs(socket_dir, exist_ok=True)
        os.chmod(socket_dir, 0o700)
        if account is not None:
            os.chown(socket_dir, account.uid, account.gid)
        return socket_dir

    def _command(self, account: Account | None, argv: Sequence[str]) -> list[str]:
        """Run ``argv`` as the server account, dying with us where setpriv allows."""
        setpriv = shutil.which("setpriv")
        # A session of its own: a Ctrl-C in zulipd's terminal is for zulipd,
        # which then stops the server in order.
        setsid = shutil.which("setsid")
        session = [setsid] if setsid else []
        if setpriv is None:
            return [*session, *argv]
        wrapper = [*session, setpriv]
        if account is not None:
            wrapper += [f"--reuid={account.uid}", f"--regid={account.gid}", "--clear-groups"]
        return [*wrapper, "--pdeathsig=INT", "--", *argv]

    def _child_ids(self, account: Account | None) -> tuple[int | None, int | None]:
        # Without setpriv, let spawnProcess switch the user instead.
        if account is not None and shutil.which("setpriv") is None:
            return account.uid, account.gid
        return None, None

    def _environment(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "TZ": "UTC"}

    async def _run(self, account: Account | None, argv: list[str]) -> tuple[int, str]:
        collector = _CollectOutput()
        command = self._command(account, argv)
        uid, gid = self._child_ids(account)
        self._reactor.spawnProcess(collector, command[0], command, env=self._environment(), path="/", uid=uid, gid=gid)
        code = await collector.ended
        return code, collector.output.decode("utf-8", "replace")

    async def _initdb(self, bindir: str, account: Account | None) -> None:
        log.info("Creating the embedded PostgreSQL cluster in {data_dir}", data_dir=self.data_dir)
        if os.listdir(self.data_dir):
            log.warn(
                "Removing an incomplete cluster left by an interrupted first start in {data_dir}",
                data_dir=self.data_dir,
            )
            await threads.deferToThread(self._empty_data_dir)
        initdb = os.path.join(bindir, "initdb")
        base = [initdb, "-D", self.data_dir, "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8"]
        code, output = await self._run(account, [*base, "--locale=C.UTF-8"])
        if code != 0 and "locale" in output.lower():
            # A system without the C.UTF-8 locale: fall back to plain C, and say so.
            log.warn("initdb cannot use the C.UTF-8 locale; creating the cluster with the C locale")
            await threads.deferToThread(self._empty_data_dir)
            code, output = await self._run(account, [*base, "--no-locale"])
        if code != 0:
            last = output.strip().splitlines()[-1] if output.strip() else "no output"
            raise EmbeddedPostgresError(f"initdb failed in {self.data_dir}: {last}")

    def _empty_data_dir(self) -> None:
        for name in os.listdir(self.data_dir):
            path = os.path.join(self.data_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)

    async def _adopt_running_server(self) -> bool:
        """Deal with a server already running on our data directory.

        One owned by a live zulipd is shared when ``share_running_server`` is
        set (``zulipd-admin`` while the daemon runs): we use its socket and
        leave it running. Otherwise it is an error: two daemons cannot share a
        state directory. One whose zulipd died (an orphan) is stopped, so that
        we start afresh. Returns whether we use a server we do not own.
        """
        pid = _postmaster_pid(self.data_dir)
        if pid is None or not _process_alive(pid):
            return False  # PostgreSQL itself clears a lock file whose process is gone
        try:
            running_in = os.path.realpath(f"/proc/{pid}/cwd")
        except OSError:
            running_in = ""
        if running_in != os.path.realpath(self.data_dir):
            log.warn(
                "postmaster.pid names process {pid}, which is not a PostgreSQL server for {data_dir}; "
                "removing the stale lock file",
                pid=pid,
                data_dir=self.data_dir,
            )
            os.unlink(os.path.join(self.data_dir, "postmaster.pid"))
            return False
        owner = _zulipd_owner(pid)
        if owner is not None:
            if not self._share_running_server:
                raise EmbeddedPostgresError(
                    f"another zulipd process (pid {owner}) is running with the state directory {self._state_dir}"
                )
            self.socket_dir = _postmaster_socket_dir(self.data_dir)
            log.info("Using the embedded PostgreSQL (pid {pid}) of the running zulipd", pid=pid)
            return True
        log.warn("Stopping an orphaned embedded PostgreSQL server (pid {pid}) left by an earlier run", pid=pid)
        for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return False
            deadline = self._clock.seconds() + wait
            while self._clock.seconds() < deadline:
                if not _process_alive(pid):
                    return False
                await sleep(self._clock, 0.05)
        raise EmbeddedPostgresError(f"cannot stop the orphaned PostgreSQL server, pid {pid}")

    def _spawn(self, bindir: str, account: Account | None) -> None:
        postgres = os.path.join(bindir, "postgres")
        argv = [
            postgres,
            "-D", self.data_dir,
            "-p", str(PORT),
            "-k", self.socket_dir,
            "-c", "listen_addresses=",
            "-c", "unix_socket_permissions=0700",
            "-c", "logging_collector=off",
            "-c", "log_line_prefix=%m [%p] ",
        ]  # fmt: skip
        command = self._command(account, argv)
        uid, gid = self._child_ids(account)
        self._protocol = _ServerProtocol(self.on_unexpected_exit)
        self._process = self._reactor.spawnProcess(
            self._protocol, command[0], command, env=self._environment(), path="/", uid=uid, gid=gid
        )

    async def _wait_until_ready(self) -> None:
        server = self._protocol
        # The server we spawned must be the one the lock file names: a file left
        # by a server killed with SIGKILL still says "ready".
        expected_pid = self._process.pid if self._process is not None else None
        deadline = self._clock.seconds() + self._start_timeout
        while not _postmaster_ready(self.data_dir) or (
            expected_pid is not None and _postmaster_pid(self.data_dir) != expected_pid
        ):
            if server is not None and server.has_ended:
                last = server.recent_lines[-1] if server.recent_lines else "no output"
                raise EmbeddedPostgresError(f"the embedded PostgreSQL exited during start: {last}")
            if self._clock.seconds() > deadline:
                await self.stop(5.0)
                raise EmbeddedPostgresError(f"the embedded PostgreSQL was not ready after {self._start_timeout:g} s")
            await sleep(self._clock, 0.02)

    def _ensure_database(self) -> None:
        connection = psycopg2.connect(self.admin_dsn(), connect_timeout=10)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            connection.close()

    async def stop(self, timeout: float = 10.0) -> None:
        """Fast shutdown; immediate shutdown, then SIGKILL, if it takes too long."""
        process, server = self._process, self._protocol
        if process is None or server is None:
            return
        server.stopping = True
        steps = (("INT", timeout * 0.6), ("QUIT", timeout * 0.3), ("KILL", timeout * 0.1))
        for sig, wait in steps:
            if server.has_ended:
                break
            try:
                process.signalProcess(sig)
            except error.ProcessExitedAlready:
                break
            deadline = self._clock.seconds() + wait
            while not server.has_ended and self._clock.seconds() < deadline:
                await sleep(self._clock, 0.02)
        if not server.has_ended:
            log.error("The embedded PostgreSQL (pid {pid}) did not exit", pid=process.pid)
        else:
            log.info("Embedded PostgreSQL stopped")
        self._process = None
        if self._temporary_socket_dir is not None:
            shutil.rmtree(self._temporary_socket_dir, ignore_errors=True)
            self._temporary_socket_dir = None
