"""WebSocket conformance: the kosoku suite (Autobahn's cases) against Autobahn with zulipd's options.

The suite drives an echo server, so it runs against one built on the events
transport's protocol class (its own handling of small text frames included) with
the same protocol options (zulipd.app.ws.PROTOCOL_OPTIONS),
except the message-size limits, which are raised so that the large-message
cases (9.*) can echo; the permessage-deflate cases (12.*, 13.*) are left out,
since zulipd offers no compression.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

import pytest
from autobahn.twisted.websocket import WebSocketServerFactory
from twisted.internet import reactor, threads
from twisted.internet.endpoints import TCP4ServerEndpoint

from tests.support.async_tests import async_test
from zulipd.app.ws import PROTOCOL_OPTIONS, EventsProtocol

KOSOKU = os.path.join(os.path.dirname(sys.executable), "kosoku")
LARGEST_CASE_MESSAGE = 32 * 1024 * 1024
# Autobahn's verdicts that are not failures (NON-STRICT: e.g. a close sent a little late).
PASSING = ("OK", "NON-STRICT", "INFORMATIONAL")


class _Echo(EventsProtocol):
    """The events transport's own frame handling (its fast path for small text messages included), echoing."""

    def onOpen(self) -> None:
        pass

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.sendMessage(payload, isBinary)  # type: ignore[no-untyped-call]


@pytest.mark.skipif(not os.path.exists(KOSOKU), reason="kosoku is not installed (make test installs it)")
@async_test
async def test_the_autobahn_cases_pass() -> None:
    factory: Any = WebSocketServerFactory()  # type: ignore[no-untyped-call]
    factory.protocol = _Echo
    options = {**PROTOCOL_OPTIONS, "maxFramePayloadSize": LARGEST_CASE_MESSAGE,
               "maxMessagePayloadSize": LARGEST_CASE_MESSAGE, "autoPingInterval": 0}  # fmt: skip
    factory.setProtocolOptions(**options)
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
    reports = tempfile.mkdtemp(prefix="zulipd-kosoku-")
    try:
        address = f"ws://127.0.0.1:{port.getHost().port}/"
        command = [KOSOKU, "-p", "2", "-x", "12.*", "-x", "13.*", "-o", reports, address]
        result = await threads.deferToThread(subprocess.run, command, capture_output=True, text=True, timeout=300)
        with open(os.path.join(reports, "index.json"), encoding="utf-8") as index_file:
            index = json.load(index_file)
        outcomes = {case: entry["behavior"] for agent in index.values() for case, entry in agent.items()}
        failed = {
            case: outcome for case, outcome in outcomes.items() if outcome not in ("OK", "NON-STRICT", "INFORMATIONAL")
        }
        assert len(outcomes) > 290, (len(outcomes), result.stdout[-2000:], result.stderr[-2000:])
        assert not failed, failed
    finally:
        await port.stopListening()
        shutil.rmtree(reports, ignore_errors=True)
