"""The JSON envelope's encoder."""

from __future__ import annotations

import json

from zulipd.app.response import encode_json


def test_plain_payloads_are_compact_json_with_a_newline() -> None:
    assert encode_json({"result": "success", "msg": "", "id": 7}) == b'{"result":"success","msg":"","id":7}\n'


def test_a_lone_surrogate_is_escaped_rather_than_failing() -> None:
    body = encode_json({"result": "error", "msg": "Invalid channel name 'x\ud800'"})
    assert body.endswith(b"\n")
    assert b"\\ud800" in body
    assert json.loads(body) == {"result": "error", "msg": "Invalid channel name 'x\ud800'"}
