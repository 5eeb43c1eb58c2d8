"""Memory of idle event listeners: many registered queues, each with a parked long-poll or an open WebSocket.

    .venv/bin/python bench/idle_connections.py [--n 10000] [--users 100] [--transport longpoll,ws]
                                               [--hold 20] [--max-seconds 900]

For each transport, a fresh zulipd starts, ``--users`` users are made, and the
resident memory of the zulipd process is read. Then N event queues are
registered, spread round-robin over the users (Zulip lets a user hold many
queues: one per browser tab or device), and each gets a connection of its own:
a ``GET /api/v1/events`` long-poll that parks (and is sent again when a
heartbeat answers it), or the queue's WebSocket at ``/api/v1/events/ws``
(aiohttp, which acknowledges the heartbeats it gets). After every connection is
open, the benchmark holds them for ``--hold`` seconds, reading zulipd's RSS
every second, and checks that they are all still open and parked.

It prints, per transport: zulipd's RSS before the queues, after registering
them, and while holding the connections; the RSS per queue and per connection;
zulipd's CPU seconds while idle; and the connections lost. Target: 10,000 idle
WebSocket connections in under 300 MB of zulipd's RSS.

The load generator needs a file descriptor per connection: the benchmark raises
its soft limit to the hard one, and zulipd inherits it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from fanout import RATELIMIT_BY_IP, SETUP_CONCURRENCY, Client, call_all, make_users
from harness import Zulipd, cpu_seconds_of, peak_rss_mb, rss_mb, start_zulipd, workspace

TARGET_WS_MB = 300.0
# Descriptors the load generator and zulipd need beyond one per connection.
SPARE_DESCRIPTORS = 200
# Queues are registered in batches of this many calls at a time, over SETUP_CONCURRENCY connections.
REGISTER_BATCH = 500


@dataclass
class Listeners:
    """What the connections saw while they were held."""

    opened: int = 0
    heartbeats: int = 0
    other_events: int = 0
    lost: int = 0
    lost_samples: list[str] = field(default_factory=list)

    def lose(self, text: str) -> None:
        self.lost += 1
        if len(self.lost_samples) < 3:
            self.lost_samples.append(text)

    def heard(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            if event["type"] == "heartbeat":
                self.heartbeats += 1
            else:
                self.other_events += 1


async def hold_long_poll(
    client: Client, auth: str, queue_id: str, last: int, gate: asyncio.Semaphore, listeners: Listeners
) -> None:
    """Keep one long-poll parked on the queue until cancelled; a heartbeat's answer is polled again."""
    try:
        async with gate:
            await client.open()
    except OSError as error:
        listeners.lose(f"connect: {error!r}")
        return
    listeners.opened += 1
    while True:
        request = client.build("GET", "/api/v1/events", auth, {"queue_id": queue_id, "last_event_id": last})
        try:
            status, body = await client.exchange(request)
        except (OSError, asyncio.IncompleteReadError) as error:
            listeners.lose(repr(error))
            return
        if status != 200:
            listeners.lose(f"{status} {body[:200]!r}")
            return
        events = json.loads(body)["events"]
        listeners.heard(events)
        last = max([last, *(event["id"] for event in events)])


async def hold_websocket(session: Any, url: str, auth: str, gate: asyncio.Semaphore, listeners: Listeners) -> None:
    """Open the queue's WebSocket and keep it open until cancelled, acknowledging what it hears."""
    try:
        async with gate:
            socket = await session.ws_connect(url, headers={"Authorization": auth}, autoping=True, heartbeat=None)
    except Exception as error:
        listeners.lose(f"connect: {error!r}")
        return
    listeners.opened += 1
    try:
        async for frame in socket:
            if frame.type.name != "TEXT":
                listeners.lose(f"WebSocket {frame.type.name} {frame.data!r:.200}")
                return
            events = json.loads(frame.data)["events"]
            listeners.heard(events)
            await socket.send_str(json.dumps({"ack": events[-1]["id"]}))
        listeners.lose(f"WebSocket closed: {socket.close_code}")
    finally:
        await socket.close()


async def register_queues(zulipd: Zulipd, auths: list[str], n: int) -> list[tuple[str, str, int]]:
    """N queues for every event type, spread over the users: (auth, queue_id, last_event_id) each."""
    queues: list[tuple[str, str, int]] = []
    for start in range(0, n, REGISTER_BATCH):
        calls = [
            ("POST", "/api/v1/register", auths[number % len(auths)], {"fetch_event_types": ["message"]})
            for number in range(start, min(n, start + REGISTER_BATCH))
        ]
        for (_, _, auth, _), answer in zip(calls, await call_all(zulipd.base_url, calls), strict=True):
            queues.append((auth, str(answer["queue_id"]), int(answer["last_event_id"])))
    return queues


async def measure(zulipd: Zulipd, transport: str, args: argparse.Namespace) -> None:
    pid = zulipd.process.pid
    made = await make_users(zulipd, args.users, 0)
    # Warm the paths the queues use, so that their one-off allocations are not charged to the queues.
    warm = await register_queues(zulipd, made.listener_auths, 10)
    await call_all(
        zulipd.base_url,
        [("GET", "/api/v1/events", auth, {"queue_id": queue_id, "dont_block": True}) for auth, queue_id, _ in warm],
    )
    await call_all(zulipd.base_url, [("DELETE", "/api/v1/events", auth, {"queue_id": q}) for auth, q, _ in warm])
    await asyncio.sleep(1.0)
    before = rss_mb(pid)

    began = time.perf_counter()
    queues = await register_queues(zulipd, made.listener_auths, args.n)
    registered_seconds = time.perf_counter() - began
    await asyncio.sleep(1.0)
    registered = rss_mb(pid)

    listeners = Listeners()
    session: Any = None
    began = time.perf_counter()
    # Connections are opened a few at a time: a burst of thousands overflows the listening socket's backlog.
    gate = asyncio.Semaphore(SETUP_CONCURRENCY * 4)
    if transport == "ws":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        ws_url = zulipd.base_url.replace("http://", "ws://") + "/api/v1/events/ws"
        tasks = [
            asyncio.ensure_future(
                hold_websocket(session, f"{ws_url}?queue_id={queue_id}&last_event_id={last}", auth, gate, listeners)
            )
            for auth, queue_id, last in queues
        ]
    else:
        tasks = [
            asyncio.ensure_future(hold_long_poll(Client(zulipd.base_url), auth, queue_id, last, gate, listeners))
            for auth, queue_id, last in queues
        ]
    while listeners.opened + listeners.lost < args.n and time.perf_counter() - began < args.max_seconds:
        await asyncio.sleep(0.2)
    opened_seconds = time.perf_counter() - began
    await asyncio.sleep(2.0)  # the last requests reach zulipd and park

    cpu_before = cpu_seconds_of([pid])
    samples = []
    for _ in range(max(1, math.ceil(args.hold))):
        await asyncio.sleep(1.0)
        samples.append(rss_mb(pid))
    idle_cpu = cpu_seconds_of([pid]) - cpu_before
    held = max(samples)
    still_open = sum(1 for task in tasks if not task.done())

    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if session is not None:
        await session.close()

    name = "WebSocket" if transport == "ws" else "long-poll"
    per_queue_kb = (registered - before) * 1024 / max(1, len(queues))
    per_connection_kb = (held - registered) * 1024 / max(1, listeners.opened)
    per_listener_kb = (held - before) * 1024 / max(1, listeners.opened)
    print(
        f"{name:<9}  N {args.n:,} queues of {args.users} users   registered in {registered_seconds:.1f} s, "
        f"connected in {opened_seconds:.1f} s\n"
        f"           zulipd RSS: {before:.0f} MB before the queues, {registered:.0f} MB with them, "
        f"{held:.0f} MB holding {listeners.opened:,} {name} connections (peak {peak_rss_mb(pid):.0f} MB)\n"
        f"           per queue {per_queue_kb:.1f} KB, per connection {per_connection_kb:.1f} KB, "
        f"queue and connection {per_listener_kb:.1f} KB\n"
        f"           held {args.hold:g} s: zulipd CPU {idle_cpu:.2f} s, still open {still_open:,}/{args.n:,}, "
        f"lost {listeners.lost}, heartbeats {listeners.heartbeats}, other events {listeners.other_events}",
        flush=True,
    )
    for sample in listeners.lost_samples:
        print(f"           lost: {sample}", flush=True)
    if transport == "ws":
        verdict = "met" if held < TARGET_WS_MB and still_open == args.n else "missed"
        print(f"target: {args.n:,} idle WebSockets in under {TARGET_WS_MB:.0f} MB of RSS: {held:.0f} MB, {verdict}")


def raise_descriptor_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"--n needs {needed} file descriptors but the hard limit is {hard}: raise it (ulimit -Hn)")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="queues and connections (default 10000)")
    parser.add_argument("--users", type=int, default=100, help="users that own the queues (default 100)")
    parser.add_argument("--transport", default="longpoll,ws", help="comma list of longpoll and ws (default both)")
    parser.add_argument("--hold", type=float, default=20.0, help="seconds to hold the connections (default 20)")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="cap on the whole run (default 900)")
    args = parser.parse_args()
    transports = [name.strip() for name in args.transport.split(",") if name.strip()]
    if not transports or not set(transports) <= {"longpoll", "ws"} or len(set(transports)) != len(transports):
        parser.error("--transport is a comma list of longpoll and ws, each at most once")
    if not 1 <= args.n <= 100_000 or not 1 <= args.users <= min(args.n, 2000) or not 1 <= args.hold <= 600:
        parser.error("--n must be 1..100000, --users 1..min(n, 2000), --hold 1..600")
    raise_descriptor_limit(args.n + SPARE_DESCRIPTORS)

    def out_of_time(signum: int, frame: object) -> None:
        raise SystemExit(f"stopped: the run took more than --max-seconds {args.max_seconds:g} s and a minute")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(math.ceil(args.max_seconds) + 60)
    config = RATELIMIT_BY_IP + f"[events]\nmax_websockets = {args.n + 10}\n"
    print(f"Idle event listeners: {args.n:,} queues, each with a parked connection, on one zulipd process", flush=True)
    for transport in transports:
        with workspace() as (workdir, started):
            zulipd = start_zulipd(workdir, started, config)
            asyncio.run(measure(zulipd, transport, args))


if __name__ == "__main__":
    main()
