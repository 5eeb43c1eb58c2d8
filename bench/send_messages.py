"""Channel-message sends on one zulipd process with the embedded PostgreSQL.

    .venv/bin/python bench/send_messages.py [--duration 10] [--rounds 3] [--subscribers 100] [--senders 20]

A channel gets ``--subscribers`` subscribers (so every message writes that
many per-user rows). Then, for each round, ``POST /api/v1/messages`` to it:
first from one sender on one keep-alive connection, one send at a time
(sequential latency), then from ``--senders`` senders, each a different user
on its own connection, sending its next message as soon as the last one is
answered (throughput). A 200 means the message is committed. The load
generator stops sending at the end of each run and waits for the sends in
flight, so every send is answered; afterwards the benchmark reads the
database and checks that the stored messages are exactly the acknowledged
ones, each with one row per subscriber.

Targets: sequential send p50 <= 5 ms; at least 500 messages/s with 20 senders.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import urllib.parse
from collections.abc import Callable

import psycopg2
from harness import Load, Zulipd, api_call, basic_auth, http_load, http_request, start_zulipd, workspace

CHANNEL = "bench"


def send_maker(zulipd: Zulipd, auth: str, sender: int, topic: str) -> Callable[[int], bytes]:
    host = urllib.parse.urlsplit(zulipd.base_url).netloc
    headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
    prefix = urllib.parse.urlencode({"type": "stream", "to": CHANNEL, "topic": topic})

    def make(number: int) -> bytes:
        content = urllib.parse.quote(f"Message {number} from sender {sender}, sent by the benchmark.")
        return http_request("POST", "/api/v1/messages", host, headers, f"{prefix}&content={content}".encode())

    return make


def report(name: str, load: Load) -> None:
    print(
        f"{name:<24} {load.rate:>6,.0f} msg/s   p50 {load.percentile(50):6.2f} ms   p95 {load.percentile(95):6.2f} ms"
        f"   p99 {load.percentile(99):6.2f} ms   sends {load.ok}   errors {load.errors}"
        f"   CPU zulipd {load.cpu_seconds:4.1f} s, PostgreSQL {load.database_cpu_seconds:4.1f} s"
    )
    for sample in load.error_samples:
        print(f"    error: {sample}")


def spread(values: list[float], unit: str, precision: int) -> str:
    return (
        f"median {statistics.median(values):.{precision}f} {unit} "
        f"(min {min(values):.{precision}f}, max {max(values):.{precision}f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each measured run")
    parser.add_argument("--rounds", type=int, default=3, help="measured (sequential, concurrent) pairs")
    parser.add_argument("--subscribers", type=int, default=100, help="subscribers of the channel, senders included")
    parser.add_argument("--senders", type=int, default=20, help="concurrent senders")
    args = parser.parse_args()
    if not 1 <= args.senders < args.subscribers:
        parser.error("--senders must be at least 1 and fewer than --subscribers")
    runs: list[tuple[str, Load]] = []
    with workspace() as (workdir, started):
        zulipd = start_zulipd(workdir, started)
        admin_auth = basic_auth("iago@zulip.com", zulipd.dev_keys()["iago@zulip.com"])
        user_ids = [api_call(zulipd.base_url, admin_auth, "GET", "users/me", {})["user_id"]]
        sender_auths = []
        for number in range(args.subscribers - 1):
            email = f"bench{number}@example.com"
            new_user = {"email": email, "password": "bench-password", "full_name": f"Bench {number}"}
            created = api_call(zulipd.base_url, admin_auth, "POST", "users", new_user)
            user_ids.append(created["user_id"])
            if number < args.senders:
                key = api_call(zulipd.base_url, "", "POST", "fetch_api_key",
                               {"username": email, "password": "bench-password"})["api_key"]  # fmt: skip
                sender_auths.append(basic_auth(email, key))
        api_call(zulipd.base_url, admin_auth, "POST", "users/me/subscriptions",
                 {"subscriptions": [{"name": CHANNEL}], "principals": user_ids})  # fmt: skip

        def sequential(topic: str, duration: float) -> Load:
            return http_load(zulipd.base_url, [send_maker(zulipd, admin_auth, 0, topic)], duration,
                             zulipd.process.pid, zulipd.database_pids())  # fmt: skip

        def concurrent(topic: str, duration: float) -> Load:
            makers = [send_maker(zulipd, auth, number + 1, topic) for number, auth in enumerate(sender_auths)]
            return http_load(zulipd.base_url, makers, duration, zulipd.process.pid, zulipd.database_pids())

        sequential("warm-up", 2)
        concurrent("warm-up", 2)
        for round_number in range(1, args.rounds + 1):
            runs.append((f"sequential {round_number}", sequential(f"sequential {round_number}", args.duration)))
            runs.append((f"concurrent {round_number}", concurrent(f"concurrent {round_number}", args.duration)))
        with psycopg2.connect(zulipd.database_dsn()) as connection, connection.cursor() as cursor:
            cursor.execute("SHOW fsync")
            fsync = cursor.fetchone()[0]  # type: ignore[index]
            cursor.execute("SHOW synchronous_commit")
            synchronous_commit = cursor.fetchone()[0]  # type: ignore[index]
            cursor.execute(
                """SELECT m.subject, m.id, (SELECT count(*) FROM user_message um WHERE um.message_id = m.id)
                   FROM message m JOIN recipient r ON r.id = m.recipient_id AND r.type = 2
                   JOIN stream s ON s.id = r.type_id
                   WHERE s.name = %s AND m.subject = ANY(%s)""",
                (CHANNEL, [name for name, _ in runs]),
            )
            stored_rows = cursor.fetchall()
        connection.close()
    print(
        f"Sends to a channel with {args.subscribers} subscribers: {args.rounds} rounds of {args.duration:g} s "
        f"sequential (1 sender), then {args.duration:g} s concurrent ({args.senders} senders)"
    )
    for name, load in runs:
        report(name, load)
    sequential_runs = [load for name, load in runs if name.startswith("sequential")]
    concurrent_runs = [load for name, load in runs if name.startswith("concurrent")]
    print(f"sequential p50: {spread([load.percentile(50) for load in sequential_runs], 'ms', 2)}")
    print(f"concurrent rate: {spread([load.rate for load in concurrent_runs], 'msg/s', 0)}")

    acknowledged = {int(json.loads(body)["id"]) for _, load in runs for body in load.bodies}
    stored = {row[1] for row in stored_rows}
    short_rows = [row[1] for row in stored_rows if row[2] != args.subscribers]
    print(
        f"durability: acknowledged {len(acknowledged)}, stored {len(stored)}, "
        f"acknowledged but not stored {len(acknowledged - stored)}, stored but not acknowledged "
        f"{len(stored - acknowledged)}, messages without {args.subscribers} user rows {len(short_rows)} "
        f"(fsync {fsync}, synchronous_commit {synchronous_commit})"
    )
    sequential_p50 = statistics.median(load.percentile(50) for load in sequential_runs)
    concurrent_rate = statistics.median(load.rate for load in concurrent_runs)
    print(
        f"targets: sequential p50 {sequential_p50:.2f} ms (<= 5 ms: {'met' if sequential_p50 <= 5 else 'missed'}), "
        f"{concurrent_rate:,.0f} msg/s with {args.senders} senders "
        f"(>= 500: {'met' if concurrent_rate >= 500 else 'missed'})"
    )
    errors = sum(load.errors for _, load in runs)
    if acknowledged != stored or short_rows or errors:
        sys.exit("FAILED: the stored messages are not exactly the acknowledged ones, or sends failed")


if __name__ == "__main__":
    main()
