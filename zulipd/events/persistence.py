"""Event queues across a graceful restart: saved to the state directory on stop, restored on start.

Zulip's clients keep their queue over a server restart and are told of it by a
``restart`` event. The file is removed once read, so after a crash (when
nothing was saved) no stale queue comes back: clients get BAD_EVENT_QUEUE_ID
and register again.
"""

from __future__ import annotations

import json
import os
from typing import Any

from twisted.internet import threads
from twisted.logger import Logger

from zulipd.events.queue import EventQueue
from zulipd.events.router import EventRouter

log = Logger()

QUEUES_FILE = "event_queues.json"
FORMAT_VERSION = 1


def queues_path(state_dir: str) -> str:
    return os.path.join(state_dir, QUEUES_FILE)


def _write(path: str, data: bytes) -> None:
    partial = path + ".partial"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as output:
        output.write(data)
        output.flush()
        os.fsync(output.fileno())
    os.replace(partial, path)


def _read_and_remove(path: str) -> bytes | None:
    try:
        with open(path, "rb") as saved:
            data = saved.read()
    except FileNotFoundError:
        return None
    os.unlink(path)
    return data


async def save_queues(router: EventRouter, state_dir: str) -> int:
    """Write every queue to the state directory (in a thread); how many were saved."""
    snapshots = [queue.snapshot() for queue in router.queues()]
    data = json.dumps({"version": FORMAT_VERSION, "queues": snapshots}, ensure_ascii=True).encode("ascii")
    os.makedirs(state_dir, exist_ok=True)
    await threads.deferToThread(_write, queues_path(state_dir), data)
    return len(snapshots)


async def restore_queues(router: EventRouter, state_dir: str, now: float, restart_event: dict[str, Any]) -> int:
    """Bring back the queues a graceful stop saved, each told of the restart; how many came back."""
    data = await threads.deferToThread(_read_and_remove, queues_path(state_dir))
    if data is None:
        return 0
    try:
        saved = json.loads(data)
        if saved.get("version") != FORMAT_VERSION:
            raise ValueError(f"unknown format {saved.get('version')!r}")
        queues = [EventQueue.from_snapshot(snapshot, now) for snapshot in saved["queues"]]
    except (ValueError, KeyError, TypeError) as error:
        log.warn("Ignoring the saved event queues, which cannot be read: {error}", error=error)
        return 0
    for queue in queues:
        router.add(queue)
    router.push_restart(restart_event)
    return len(queues)
