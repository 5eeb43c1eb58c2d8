"""Fan-out of channel messages to long-polling (or WebSocket) listeners, on one zulipd process.

    .venv/bin/python bench/fanout.py [--n 50] [--m 500] [--k 8] [--phases seq,burst] [--drain 30]
                                     [--max-seconds 900] [--baseline PATH | --no-baseline] [--rounds 1]

N listeners, each a different user subscribed to one channel, register an event
queue for messages and long-poll ``GET /api/v1/events`` on a keep-alive
connection of their own, acknowledging what they read with ``last_event_id``
(with ``--transport ws`` they hold the queue's WebSocket instead, and acknowledge
the newest event read with ``{"ack": N}`` at most ten times a second; that needs
aiohttp).
In phase "seq" one sender posts M messages to the channel, each as soon as the
last is answered; in phase "burst" K senders (other users) post M messages
between them the same way. Every message carries a key that the listeners
look for, so each delivery is counted once, and timed from the moment its send
went out to the moment a listener had read the answer that held it.

``--n`` takes a comma list: zulipd starts once, the listeners for the largest N
are made once, and each N gets a channel of its own with its first N listeners
and fresh queues. Right after each N, the baseline, ``limit_fanout.py`` (a bare
long-poll server with no database and no authentication), runs the same
workload, and zulipd's deliveries/s are given as a share of its. The speed of a
shared machine drifts over tens of seconds, so the two runs of a pair are kept
close in time; ``--rounds R`` runs every pair R times, and the targets take the
median share.

Targets: deliveries/s >= 50% of the baseline's; no missing or duplicate
deliveries; at N = 50, sequential send p50 <= 5 ms and delivery p50 <= 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from harness import (
    Zulipd,
    _read_response,
    basic_auth,
    cpu_seconds_of,
    http_request,
    peak_rss_mb,
    process_cpu_seconds,
    start_zulipd,
    workspace,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BASELINE = os.path.normpath(os.path.join(ROOT, "..", "shared", "bench", "limit_fanout.py"))
BASELINE_MODULES = ("twisted", "autobahn", "aiohttp")
MAX_LISTENERS = 2000
PASSWORD = "bench-password"  # noqa: S105  (the benchmark users', in a throw-away database)
TOPIC = "fan-out"
# At most this many connections are being opened (and queues registered) at once.
SETUP_CONCURRENCY = 16
# After the last listener has sent its first poll, so that they are all parked.
SETTLE_SECONDS = 1.0
CONTENT_CHARACTERS = 220
# A WebSocket listener acknowledges the newest event it read at most this often.
ACK_INTERVAL_SECONDS = 0.1
# start_zulipd's configuration ends in its [ratelimit] section: this joins it. POST /fetch_api_key is
# unauthenticated, so it counts against the per-address limit (100 a minute), once for every user made.
RATELIMIT_BY_IP = "api_by_ip = 1:1000000\n"
FILLER = "every listener of this channel reads these same words, a chat line of ordinary length; "


def content_for(key: str) -> str:
    text = f"[{key}] " + FILLER * (CONTENT_CHARACTERS // len(FILLER) + 1)
    return text[:CONTENT_CHARACTERS].rstrip()


def key_of(content: str) -> str | None:
    if not content.startswith("["):
        return None
    end = content.find("]")
    return content[1:end] if end > 0 else None


def nearest_rank(values: list[float], percent: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def form(params: dict[str, Any]) -> str:
    """URL-encoded parameters; those that are not strings go JSON-encoded, as Zulip's clients send them."""
    return urllib.parse.urlencode(
        {name: value if isinstance(value, str) else json.dumps(value) for name, value in params.items()}
    )


class Client:
    """One keep-alive HTTP/1.1 connection to zulipd, one request at a time; reopened when zulipd closes it."""

    def __init__(self, base_url: str) -> None:
        parts = urllib.parse.urlsplit(base_url)
        assert parts.hostname is not None
        assert parts.port is not None
        self.host, self.port, self.netloc = parts.hostname, parts.port, parts.netloc
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def build(self, method: str, path: str, auth: str, params: dict[str, Any] | None = None) -> bytes:
        headers = {"Authorization": auth} if auth else {}
        body = b""
        if params:
            encoded = form(params)
            if method == "GET":
                path = f"{path}?{encoded}"
            else:
                body = encoded.encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        return http_request(method, path, self.netloc, headers, body)

    async def open(self) -> None:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send ``request`` (from ``build``) and read the whole answer."""
        await self.open()
        assert self._reader is not None
        assert self._writer is not None
        try:
            self._writer.write(request)
            status, body, close = await _read_response(self._reader)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status, body

    async def call(
        self, method: str, path: str, auth: str, params: dict[str, Any] | None = None, check: bool = True
    ) -> dict[str, Any]:
        """The answer's JSON; an answer other than 200 stops the benchmark, or with ``check`` false is returned."""
        status, body = await self.exchange(self.build(method, path, auth, params))
        if status != 200:
            if not check:
                return {"result": "error", "status": status, "body": body[:200].decode(errors="replace")}
            raise SystemExit(f"{method} {path} answered {status}: {body[:300]!r}")
        answer: dict[str, Any] = json.loads(body)
        return answer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def call_all(
    base_url: str, calls: list[tuple[str, str, str, dict[str, Any]]], check: bool = True
) -> list[dict[str, Any]]:
    """Many (method, path, auth, params) calls over a few connections at once; the answers in order."""
    answers: list[dict[str, Any]] = [{} for _ in calls]
    pending = iter(range(len(calls)))

    async def worker() -> None:
        client = Client(base_url)
        try:
            for number in pending:
                answers[number] = await client.call(*calls[number], check=check)
        finally:
            client.close()

    await asyncio.gather(*(worker() for _ in range(min(SETUP_CONCURRENCY, len(calls)))))
    return answers


@dataclass
class Phase:
    name: str
    senders: int
    listeners: int
    attempted: int = 0
    send_ms: list[float] = field(default_factory=list)
    send_errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    delivery_ms: list[float] = field(default_factory=list)
    duplicates: int = 0
    # Deliveries that came after the phase stopped waiting for them: not counted, so missing.
    late: int = 0
    over: bool = False
    # The answers to GET /events read while this phase was the latest, and the events in them.
    answers: int = 0
    events: int = 0
    started: float = 0.0
    last_answer: float = 0.0
    last_delivery: float = 0.0
    cpu_seconds: float = 0.0
    database_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0

    @property
    def accepted(self) -> int:
        return len(self.send_ms)

    @property
    def expected(self) -> int:
        return self.accepted * self.listeners

    @property
    def missing(self) -> int:
        return self.expected - len(self.delivery_ms)

    @property
    def messages_per_second(self) -> float:
        return self.accepted / max(1e-9, self.last_answer - self.started) if self.accepted else 0.0

    @property
    def deliveries_per_second(self) -> float:
        return len(self.delivery_ms) / max(1e-9, self.last_delivery - self.started) if self.delivery_ms else 0.0


@dataclass
class Deliveries:
    """Who got which key, and when each key was sent."""

    sent_at: dict[str, float] = field(default_factory=dict)
    seen: set[tuple[int, str]] = field(default_factory=set)
    phases: dict[str, Phase] = field(default_factory=dict)
    current: Phase | None = None
    unknown: int = 0
    poll_errors: int = 0
    poll_error_samples: list[str] = field(default_factory=list)

    def delivered(self, listener: int, key: str | None, at: float) -> None:
        phase = self.phases.get((key or "").partition(":")[0])
        if key is None or phase is None:
            self.unknown += 1
        elif (listener, key) in self.seen:
            phase.duplicates += 1
        elif phase.over:
            phase.late += 1
        elif key not in self.sent_at:
            self.unknown += 1  # a send that failed, yet reached a queue
        else:
            self.seen.add((listener, key))
            phase.delivery_ms.append((at - self.sent_at[key]) * 1000)
            phase.last_delivery = max(phase.last_delivery, at)

    def poll_error(self, text: str) -> None:
        self.poll_errors += 1
        if len(self.poll_error_samples) < 3:
            self.poll_error_samples.append(text)


async def listen(number: int, client: Client, auth: str, queue_id: str, last: int, deliveries: Deliveries) -> None:
    """Long-poll the queue until cancelled, acknowledging the newest event id read."""
    while True:
        request = client.build("GET", "/api/v1/events", auth, {"queue_id": queue_id, "last_event_id": last})
        try:
            status, body = await client.exchange(request)
        except (OSError, asyncio.IncompleteReadError) as error:
            deliveries.poll_error(repr(error))
            await asyncio.sleep(0.2)
            continue
        at = time.perf_counter()
        if status != 200:
            deliveries.poll_error(f"{status} {body[:200]!r}")
            if b"BAD_EVENT_QUEUE_ID" in body:
                return
            await asyncio.sleep(0.2)
            continue
        events = json.loads(body)["events"]
        if deliveries.current is not None:
            deliveries.current.answers += 1
            deliveries.current.events += len(events)
        for event in events:
            last = max(last, event["id"])
            if event["type"] == "message":
                deliveries.delivered(number, key_of(event["message"]["content"]), at)


async def listen_ws(number: int, socket: Any, deliveries: Deliveries) -> None:
    """Read the queue's events from its WebSocket until cancelled, acknowledging what it read now and then."""
    acknowledged_at = 0.0
    async for frame in socket:
        if frame.type.name != "TEXT":
            deliveries.poll_error(f"WebSocket {frame.type.name} {frame.data!r:.200}")
            return
        at = time.perf_counter()
        events = json.loads(frame.data)["events"]
        if deliveries.current is not None:
            deliveries.current.answers += 1
            deliveries.current.events += len(events)
        for event in events:
            if event["type"] == "message":
                deliveries.delivered(number, key_of(event["message"]["content"]), at)
        # Acknowledgements are cumulative: a client need not send one for every batch.
        if at - acknowledged_at >= ACK_INTERVAL_SECONDS:
            acknowledged_at = at
            await socket.send_str(json.dumps({"ack": events[-1]["id"]}))


@dataclass
class Bench:
    zulipd: Zulipd
    admin_auth: str
    listener_auths: list[str]
    listener_ids: list[int]
    sender_auths: list[str]
    sender_ids: list[int]


async def make_users(zulipd: Zulipd, listeners: int, senders: int) -> Bench:
    admin_auth = basic_auth("iago@zulip.com", zulipd.dev_keys()["iago@zulip.com"])
    emails = [f"listener{number}@example.com" for number in range(listeners)]
    emails += [f"sender{number}@example.com" for number in range(senders)]
    created = await call_all(
        zulipd.base_url,
        [
            ("POST", "/api/v1/users", admin_auth, {"email": email, "password": PASSWORD, "full_name": email[:-12]})
            for email in emails
        ],
    )
    keys = await call_all(
        zulipd.base_url,
        [("POST", "/api/v1/fetch_api_key", "", {"username": email, "password": PASSWORD}) for email in emails],
    )
    auths = [basic_auth(email, answer["api_key"]) for email, answer in zip(emails, keys, strict=True)]
    ids = [int(answer["user_id"]) for answer in created]
    return Bench(zulipd, admin_auth, auths[:listeners], ids[:listeners], auths[listeners:], ids[listeners:])


async def run_phase(
    phase: Phase, channel: str, senders: list[Client], auths: list[str], m: int, deliveries: Deliveries,
    bench: Bench, drain: float, deadline: float,
) -> None:  # fmt: skip
    """Sender j sends the keys j, j + K, ...; then wait up to ``drain`` s for every delivery."""
    pid = bench.zulipd.process.pid
    database_pids = bench.zulipd.database_pids()
    cpu_before, database_before = process_cpu_seconds(pid), cpu_seconds_of(database_pids)
    client_before = time.process_time()
    deliveries.phases[phase.name] = deliveries.current = phase
    phase.started = time.perf_counter()

    async def sender(j: int) -> None:
        client, auth = senders[j], auths[j]
        for seq in range(j, m, len(senders)):
            if time.perf_counter() > deadline:
                return
            key = f"{phase.name}:{seq}"
            params = {"type": "stream", "to": channel, "topic": TOPIC, "content": content_for(key)}
            request = client.build("POST", "/api/v1/messages", auth, params)
            phase.attempted += 1
            sent = time.perf_counter()
            deliveries.sent_at[key] = sent
            try:
                status, body = await client.exchange(request)
            except (OSError, asyncio.IncompleteReadError) as error:
                status, body = 0, repr(error).encode()
            answered = time.perf_counter()
            phase.last_answer = max(phase.last_answer, answered)
            if status == 200:
                phase.send_ms.append((answered - sent) * 1000)
            else:
                del deliveries.sent_at[key]
                phase.send_errors += 1
                if len(phase.error_samples) < 3:
                    phase.error_samples.append(f"{status} {body[:200]!r}")

    await asyncio.gather(*(sender(j) for j in range(len(senders))))
    wait_until = min(deadline, time.perf_counter() + drain)
    while len(phase.delivery_ms) < phase.expected and time.perf_counter() < wait_until:
        await asyncio.sleep(0.02)
    phase.over = True
    phase.cpu_seconds = process_cpu_seconds(pid) - cpu_before
    phase.database_cpu_seconds = cpu_seconds_of(database_pids) - database_before
    phase.client_cpu_seconds = time.process_time() - client_before
    phase.peak_rss_mb = peak_rss_mb(pid)


def phase_line(n: int, phase: Phase) -> str:
    send, got = phase.send_ms, phase.delivery_ms
    plural = "sender " if phase.senders == 1 else "senders"
    return (
        f"N {n:<5} {phase.name:<5} {phase.senders:>3} {plural}   accepted {phase.accepted}/{phase.attempted}   "
        f"send p50/p95/p99 {nearest_rank(send, 50):.2f}/{nearest_rank(send, 95):.2f}/{nearest_rank(send, 99):.2f} ms"
        f"   delivery p50/p95/p99 {nearest_rank(got, 50):.2f}/{nearest_rank(got, 95):.2f}/"
        f"{nearest_rank(got, 99):.2f} ms   {phase.messages_per_second:,.0f} msg/s   "
        f"{phase.deliveries_per_second:,.0f} deliveries/s   missing {phase.missing}   duplicates {phase.duplicates}   "
        f"answers {phase.answers:,} ({phase.events / max(1, phase.answers):.1f} events each)   "
        f"CPU zulipd {phase.cpu_seconds:.1f} s, PostgreSQL {phase.database_cpu_seconds:.1f} s, "
        f"load generator {phase.client_cpu_seconds:.1f} s   "
        f"peak RSS {phase.peak_rss_mb:.0f} MB"
    )


async def run_n(bench: Bench, index: int, n: int, args: argparse.Namespace, deadline: float) -> list[Phase]:
    zulipd = bench.zulipd
    channel = f"fanout-{index + 1}-n{n}"
    k = args.k
    await call_all(
        zulipd.base_url,
        [("POST", "/api/v1/users/me/subscriptions", bench.admin_auth,
          {"subscriptions": [{"name": channel}], "principals": bench.listener_ids[:n] + bench.sender_ids})],
    )  # fmt: skip
    setup_started = time.perf_counter()
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)
    deliveries = Deliveries()

    async def start_listener(number: int) -> tuple[Client, str, int]:
        async with gate:
            client = Client(zulipd.base_url)
            await client.open()
            answer = await client.call("POST", "/api/v1/register", bench.listener_auths[number],
                                       {"event_types": ["message"]})  # fmt: skip
            return client, str(answer["queue_id"]), int(answer["last_event_id"])

    started = await asyncio.gather(*(start_listener(number) for number in range(n)))
    session: Any = None
    if args.transport == "ws":
        import aiohttp

        # Each WebSocket holds a connection of the pool for its whole life: no limit, or the 101st waits forever.
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        ws_url = zulipd.base_url.replace("http://", "ws://") + "/api/v1/events/ws"

        async def open_socket(number: int, queue_id: str, last: int) -> Any:
            async with gate:
                return await session.ws_connect(
                    f"{ws_url}?queue_id={queue_id}&last_event_id={last}",
                    headers={"Authorization": bench.listener_auths[number]},
                    autoping=True,
                )

        sockets = await asyncio.gather(
            *(open_socket(number, queue_id, last) for number, (_, queue_id, last) in enumerate(started))
        )
        tasks = [asyncio.ensure_future(listen_ws(number, socket, deliveries)) for number, socket in enumerate(sockets)]
    else:
        tasks = [
            asyncio.ensure_future(listen(number, client, bench.listener_auths[number], queue_id, last, deliveries))
            for number, (client, queue_id, last) in enumerate(started)
        ]
    setup_seconds = time.perf_counter() - setup_started
    await asyncio.sleep(SETTLE_SECONDS)
    senders = [Client(zulipd.base_url) for _ in range(k)]
    phases: list[Phase] = []
    try:
        for name in args.phases:
            if time.perf_counter() > deadline:
                print(f"N {n:<5} {name:<5} not run: --max-seconds reached", flush=True)
                continue
            count = 1 if name == "seq" else k
            phase = Phase(name, count, n)
            await run_phase(phase, channel, senders[:count], bench.sender_auths[:count], args.m, deliveries, bench,
                            args.drain, deadline)  # fmt: skip
            phases.append(phase)
            print(phase_line(n, phase), flush=True)
            for sample in phase.error_samples:
                print(f"    send error: {sample}", flush=True)
            await asyncio.sleep(1.0)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client, _, _ in started:
            client.close()
        for client in senders:
            client.close()
        if session is not None:
            await session.close()
    late = sum(phase.late for phase in phases)
    print(
        f"N {n:<5} listeners ready in {setup_seconds:.2f} s   poll errors {deliveries.poll_errors}   "
        f"unknown deliveries {deliveries.unknown}   late deliveries {late}",
        flush=True,
    )
    for sample in deliveries.poll_error_samples:
        print(f"    poll error: {sample}", flush=True)
    deleted = await call_all(
        zulipd.base_url,
        [("DELETE", "/api/v1/events", bench.listener_auths[number], {"queue_id": queue_id})
         for number, (_, queue_id, _) in enumerate(started)],
        check=False,
    )  # fmt: skip
    refused = [answer for answer in deleted if answer["result"] != "success"]
    if refused:
        print(f"N {n:<5} {len(refused)} queues not deleted, the first: {refused[0]['status']} {refused[0]['body']}")
    return phases


@dataclass
class Round:
    """One round's figures: zulipd's phases and the baseline's, by N."""

    ours: dict[int, list[Phase]] = field(default_factory=dict)
    baselines: dict[int, dict[str, Any]] = field(default_factory=dict)


async def run_rounds(zulipd: Zulipd, args: argparse.Namespace, deadline: float) -> list[Round]:
    """Each round runs every N on zulipd, each followed at once by the baseline's run for the same N."""
    users_started = time.perf_counter()
    bench = await make_users(zulipd, max(args.n), args.k)
    print(
        f"users: {max(args.n)} listeners and {args.k} senders made in {time.perf_counter() - users_started:.1f} s",
        flush=True,
    )
    baseline = args.baseline
    if baseline is not None:
        print(f"baseline: {baseline} --transport {args.transport} (no database, no authentication), same N, M, K")
        absent = [name for name in BASELINE_MODULES if importlib.util.find_spec(name) is None]
        if absent:
            print(f"baseline not run: {install_hint(absent)}")
            baseline = None
    rounds: list[Round] = []
    for number in range(args.rounds):
        if args.rounds > 1:
            print(f"round {number + 1} of {args.rounds}", flush=True)
        this = Round()
        rounds.append(this)
        for index, n in enumerate(args.n):
            if time.perf_counter() > deadline:
                print(f"N {n:<5} not run: --max-seconds reached", flush=True)
                continue
            run_index = number * len(args.n) + index
            this.ours.setdefault(n, []).extend(await run_n(bench, run_index, n, args, deadline))
            if baseline is None or n in this.baselines:
                continue
            budget = deadline - time.perf_counter()
            if budget < 20:
                print(f"N {n:<5} baseline not run: --max-seconds reached")
                continue
            quiet = await wait_until_quiet(zulipd)
            result = await asyncio.to_thread(run_baseline, baseline, n, args, budget)
            background = cpu_seconds_of(quiet.pids) - quiet.before
            if isinstance(result, str):
                print(f"N {n:<5} baseline failed: {result}")
                if result.startswith("it needs "):
                    baseline = None
                continue
            this.baselines[n] = result
            for name, figures in result.get("phases", {}).items():
                ours = next((phase for phase in this.ours.get(n, []) if phase.name == name), None)
                print(baseline_line(n, name, figures, ours))
            print(f"N {n:<5} CPU of zulipd and its PostgreSQL while the baseline ran: {background:.1f} s", flush=True)
    return rounds


@dataclass
class Background:
    pids: list[int]
    before: float


# Before the baseline runs, zulipd and its PostgreSQL (whose autovacuum may still be at work
# on what the phases wrote) should be using less than this share of a core.
QUIET_SHARE = 0.02
QUIET_WAIT_SECONDS = 20.0


async def wait_until_quiet(zulipd: Zulipd) -> Background:
    """Wait (a while at most) until zulipd and its PostgreSQL are idle; their CPU time then."""
    pids = [zulipd.process.pid, *zulipd.database_pids()]
    waited_until = time.perf_counter() + QUIET_WAIT_SECONDS
    while True:
        before = cpu_seconds_of(pids)
        await asyncio.sleep(0.5)
        after = cpu_seconds_of(pids)
        if after - before <= QUIET_SHARE * 0.5 or time.perf_counter() > waited_until:
            return Background(pids, after)


def baseline_line(n: int, name: str, figures: dict[str, Any], ours: Phase | None) -> str:
    rate, latency, send = figures["deliveries_per_s"], figures["delivery_latency_ms"], figures["send_latency_ms"]
    share = f"{ours.deliveries_per_second / rate:.0%}" if ours is not None and rate else "-"
    return (
        f"N {n:<5} {name:<5} baseline {rate:,.0f} deliveries/s   send p50/p95/p99 "
        f"{send['p50']}/{send['p95']}/{send['p99']} ms   delivery p50/p95/p99 "
        f"{latency['p50']}/{latency['p95']}/{latency['p99']} ms   missing {figures['deliveries_missing']}   "
        f"CPU server {figures.get('server_cpu_s', 0.0):.1f} s, load generator {figures.get('client_cpu_s', 0.0):.1f} s"
        f"   zulipd / baseline {share}"
    )


def install_hint(modules: list[str]) -> str:
    names = " ".join(modules)
    return f"it needs {names}, which this Python lacks: {sys.executable} -m pip install {names}"


def run_baseline(path: str, n: int, args: argparse.Namespace, budget: float) -> dict[str, Any] | str:
    """limit_fanout.py's figures for this N, or why there are none."""
    with tempfile.TemporaryDirectory(prefix="zulipd-bench-baseline-") as directory:
        out = os.path.join(directory, "limit.json")
        command = [
            sys.executable, path, "bench", "--transport", args.transport, "--n", str(n), "--m", str(args.m),
            "--k", str(args.k), "--phases", ",".join(args.phases), "--drain", f"{args.drain:g}",
            "--max-seconds", f"{max(10.0, budget - 10):.0f}", "--out", out,
        ]  # fmt: skip
        # A session of its own, so that its server child goes with it if it must be killed.
        process = subprocess.Popen(
            command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            _, stderr = process.communicate(timeout=budget + 60)
        except subprocess.TimeoutExpired:
            return f"did not finish within {budget + 60:.0f} s"
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        text = stderr.decode(errors="replace")
        missing = re.search(r"No module named '([\w.]+)'", text)
        if missing:
            return install_hint([missing.group(1).split(".")[0]])
        if process.returncode != 0 or not os.path.exists(out):
            last = text.strip().splitlines()[-1] if text.strip() else "no output"
            return f"exited with status {process.returncode}: {last}"
        with open(out, encoding="utf-8") as result_file:
            result: dict[str, Any] = json.load(result_file)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="50", help="listeners: a number or a comma list (default 50)")
    parser.add_argument("--m", type=int, default=500, help="messages per phase (default 500)")
    parser.add_argument("--k", type=int, default=8, help="concurrent senders in the burst phase (default 8)")
    parser.add_argument("--phases", default="seq,burst", help="comma list of seq and burst (default seq,burst)")
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to wait for deliveries after the sends")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="cap on the whole run (default 900)")
    parser.add_argument(
        "--baseline",
        default=DEFAULT_BASELINE if os.path.exists(DEFAULT_BASELINE) else None,
        help="limit_fanout.py to compare with (default: ../shared/bench/limit_fanout.py if it exists)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="do not run the baseline")
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="run everything this many times, zulipd and the baseline in turn; the targets take the medians",
    )  # fmt: skip
    parser.add_argument(
        "--transport", choices=["longpoll", "ws"], default="longpoll",
        help="how listeners get events: GET /events long-polls, or the events WebSocket (needs aiohttp)",
    )  # fmt: skip
    args = parser.parse_args()
    try:
        args.n = [int(value) for value in args.n.split(",") if value.strip()]
    except ValueError:
        parser.error("--n takes a number or a comma list of numbers")
    args.phases = [name.strip() for name in args.phases.split(",") if name.strip()]
    if not args.n or not all(1 <= n <= MAX_LISTENERS for n in args.n):
        parser.error(f"every N must be between 1 and {MAX_LISTENERS}")
    if not 1 <= args.m <= 20000 or not 1 <= args.k <= 256:
        parser.error("--m must be between 1 and 20000, --k between 1 and 256")
    if not 1 <= args.rounds <= 9:
        parser.error("--rounds must be between 1 and 9")
    if not args.phases or len(set(args.phases)) != len(args.phases) or not set(args.phases) <= {"seq", "burst"}:
        parser.error("--phases is a comma list of seq and burst, each at most once")
    if args.no_baseline:
        args.baseline = None
    if args.baseline is not None and not os.path.isfile(args.baseline):
        parser.error(f"--baseline: no such file: {args.baseline}")

    begun = time.perf_counter()
    deadline = begun + args.max_seconds

    def out_of_time(signum: int, frame: object) -> None:
        raise SystemExit(f"stopped: the run took more than --max-seconds {args.max_seconds:g} s and a minute")

    # The phases stop sending at the deadline; this stops anything that hangs past it.
    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(math.ceil(args.max_seconds) + 60)

    described = {"seq": "seq (1 sender)", "burst": f"burst ({args.k} senders)"}
    print(
        f"Fan-out to {'WebSocket' if args.transport == 'ws' else 'long-polling'} listeners, "
        f"N = {', '.join(map(str, args.n))}: {args.m} messages in each phase, "
        f"{', '.join(described[name] for name in args.phases)}; deliveries awaited up to {args.drain:g} s",
        flush=True,
    )
    with workspace() as (workdir, started):
        zulipd = start_zulipd(workdir, started, RATELIMIT_BY_IP)
        remaining = max(1.0, deadline - time.perf_counter())
        rounds = asyncio.run(asyncio.wait_for(run_rounds(zulipd, args, deadline), remaining + 30))

    print("targets:" if args.rounds == 1 else f"targets (medians of the {args.rounds} rounds):")
    measured = False
    for n in dict.fromkeys(args.n):
        for name in args.phases:
            pairs = [
                (phase, figures)
                for one in rounds
                for phase in one.ours.get(n, [])
                if phase.name == name
                for figures in [one.baselines.get(n, {}).get("phases", {}).get(name)]
                if figures and figures["deliveries_per_s"]
            ]
            if not pairs:
                continue
            measured = True
            shares = [phase.deliveries_per_second / figures["deliveries_per_s"] for phase, figures in pairs]
            share = statistics.median(shares)
            ours = statistics.median(phase.deliveries_per_second for phase, _ in pairs)
            theirs = statistics.median(figures["deliveries_per_s"] for _, figures in pairs)
            each = f", rounds {' '.join(f'{one:.0%}' for one in shares)}" if len(shares) > 1 else ""
            print(
                f"  N {n:<5} {name:<5} deliveries/s {ours:,.0f} = {share:.0%} of the baseline's {theirs:,.0f}{each} "
                f"(>= 50%: {'met' if share >= 0.5 else 'missed'})"
            )
    if not measured:
        print("  deliveries/s >= 50% of the baseline's: not measured (no baseline run)")
    every_phase = [phase for one in rounds for phases in one.ours.values() for phase in phases]
    missing = sum(max(0, phase.missing) for phase in every_phase)
    duplicates = sum(phase.duplicates for phase in every_phase)
    send_errors = sum(phase.send_errors for phase in every_phase)
    print(
        f"  missing deliveries {missing}, duplicates {duplicates} "
        f"(both 0: {'met' if missing == 0 and duplicates == 0 else 'missed'})"
    )
    sequential = [phase for one in rounds for phase in one.ours.get(50, []) if phase.name == "seq"]
    if not sequential:
        print("  at N = 50, sequential send p50 <= 5 ms and delivery p50 <= 10 ms: not measured (no seq run at N 50)")
    else:
        send_p50 = statistics.median(nearest_rank(phase.send_ms, 50) for phase in sequential)
        delivery_p50 = statistics.median(nearest_rank(phase.delivery_ms, 50) for phase in sequential)
        limits = [
            figures for one in rounds for figures in [one.baselines.get(50, {}).get("phases", {}).get("seq")] if figures
        ]
        beside = (
            f"; the baseline's own: send p50 {statistics.median(f['send_latency_ms']['p50'] for f in limits):g} ms, "
            f"delivery p50 {statistics.median(f['delivery_latency_ms']['p50'] for f in limits):g} ms"
            if limits
            else ""
        )
        print(
            f"  at N = 50, sequential send p50 {send_p50:.2f} ms (<= 5 ms: {'met' if send_p50 <= 5 else 'missed'}), "
            f"delivery p50 {delivery_p50:.2f} ms (<= 10 ms: {'met' if delivery_p50 <= 10 else 'missed'}){beside}"
        )
    signal.alarm(0)
    if missing or duplicates or send_errors:
        sys.exit("FAILED: deliveries are missing or duplicated, or sends were refused")


if __name__ == "__main__":
    main()
