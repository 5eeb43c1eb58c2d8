"""The reference point for bench/users_me.py: a bare twisted.web resource with a fixed JSON body.

    python bench/bare_json_server.py PORT LOGFILE

It logs each request through the same buffered text observer that the benchmark
gives zulipd (``--logger zulipd.logs.text_lines``), so both sides pay for an access log.
"""

from __future__ import annotations

import json
import sys

from twisted.internet import reactor
from twisted.logger import globalLogBeginner
from twisted.web import resource, server
from twisted.web.iweb import IRequest

from zulipd.logs import text_lines

BODY = (
    json.dumps(
        {
            "result": "success",
            "msg": "",
            "user_id": 3,
            "delivery_email": "iago@zulip.com",
            "email": "iago@zulip.com",
            "full_name": "Iago",
            "date_joined": "2026-11-22T03:38:09.213636+00:00",
            "is_active": True,
            "is_owner": False,
            "is_admin": True,
            "is_guest": False,
            "is_bot": False,
            "role": 200,
            "timezone": "",
            "avatar_url": "https://secure.gravatar.com/avatar/af4f06322c177ef4e1e9b2c424986b54?d=identicon&version=1",
            "avatar_version": 1,
            "profile_data": {},
            "max_message_id": -1,
        }
    ).encode()
    + b"\n"
)


class FixedJson(resource.Resource):
    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        request.setHeader(b"Content-Type", b"application/json")  # type: ignore[no-untyped-call]
        return BODY


def main() -> None:
    port, log_path = int(sys.argv[1]), sys.argv[2]
    globalLogBeginner.beginLoggingTo([text_lines(open(log_path, "a"))])  # noqa: SIM115
    reactor.listenTCP(port, server.Site(FixedJson()), interface="127.0.0.1")  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
