"""Channel-message sends on one zulipd process with the embedded PostgreSQL.

    .venv/bin/python bench/send_messages.py [--duration 10] [--subscribers 100] [--senders 20]

A channel gets ``--subscribers`` subscribers (so every message writes that
many per-user rows). ``wrk`` then POSTs /api/v1/messages to it: first from one
connection, one send at a time (sequential latency), then from ``--senders``
concurrent connections (throughput). Every 200 means the message was
committed; the benchmark checks afterwards that the number of stored
messages equals the number of acknowledged sends.

Targets: sequential send p50 <= 5 ms; at least 500 messages/s with 20 senders.
"""

from __future__ import annotations

import argparse
import json
import urllib.parse
import urllib.request
from typing import Any

from harness import Run, basic_auth, require_wrk, start_zulipd, workspace, wrk

SEND_SCRIPT = """
wrk.method = "POST"
wrk.body = "type=stream&to=bench&topic=load&content=A%20message%20for%20the%20benchmark"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
"""


def call(base_url: str, auth: str, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
    data = urllib.parse.urlencode(
        {key: value if isinstance(value, str) else json.dumps(value) for key, value in params.items()}
    ).encode()
    request = urllib.request.Request(  # noqa: S310  (loopback URL we built)
        f"{base_url}/api/v1/{path}", data=data, method=method, headers={"Authorization": auth}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        body: dict[str, Any] = json.loads(response.read())
    return body


def report(name: str, run: Run) -> None:
    print(
        f"{name:<28} {run.requests_per_second:>8,.0f} msg/s   p50 {run.p50_ms:6.2f} ms   p95 {run.p95_ms:6.2f} ms   "
        f"p99 {run.p99_ms:6.2f} ms   sends {run.requests}   errors {run.errors}   server CPU {run.cpu_seconds:5.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--senders", type=int, default=20)
    args = parser.parse_args()
    require_wrk()
    with workspace() as (workdir, started):
        zulipd = start_zulipd(workdir, started)
        auth = basic_auth("iago@zulip.com", zulipd.dev_keys()["iago@zulip.com"])
        user_ids: list[int] = []
        for number in range(args.subscribers - 1):
            created = call(
                zulipd.base_url,
                auth,
                "POST",
                "users",
                {"email": f"bench{number}@example.com", "password": "bench-password", "full_name": f"Bench {number}"},
            )
            user_ids.append(created["user_id"])
        call(
            zulipd.base_url, auth, "POST", "users/me/subscriptions",
            {"subscriptions": [{"name": "bench"}], "principals": [*user_ids, call(zulipd.base_url, auth, "GET",
             "users/me", {})["user_id"]]},
        )  # fmt: skip

        def marker() -> int:
            sent = call(zulipd.base_url, auth, "POST", "messages",
                        {"type": "stream", "to": "bench", "topic": "marker", "content": "marker"})  # fmt: skip
            return int(sent["id"])

        url = f"{zulipd.base_url}/api/v1/messages"
        headers = {"Authorization": auth}
        wrk(url, 2, 1, zulipd.process.pid, headers, SEND_SCRIPT)  # warm-up
        before = marker()
        sequential = wrk(url, args.duration, 1, zulipd.process.pid, headers, SEND_SCRIPT)
        concurrent = wrk(url, args.duration, args.senders, zulipd.process.pid, headers, SEND_SCRIPT)
        after = marker()
    acknowledged = sequential.requests - sequential.errors + concurrent.requests - concurrent.errors
    stored = after - before - 1
    print(f"Sends to a channel with {args.subscribers} subscribers, {args.duration:g} s each")
    report("sequential (1 connection)", sequential)
    report(f"concurrent ({args.senders} connections)", concurrent)
    # wrk stops with sends in flight: those are stored but not counted, so stored may exceed acknowledged.
    print(f"acknowledged {acknowledged}, stored {stored} (ids between two marker messages; never fewer)")
    print(
        f"targets: sequential p50 {sequential.p50_ms:.2f} ms (<= 5 ms), "
        f"{concurrent.requests_per_second:,.0f} msg/s with {args.senders} senders (>= 500)"
    )


if __name__ == "__main__":
    main()
