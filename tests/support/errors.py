"""Exact checks of Zulip's error answers, for routes whose specification lists no error response."""

from __future__ import annotations

from typing import Any

from tests.support.http import Response


def assert_error(response: Response, status: int, code: str, msg: str, **extra: Any) -> None:
    """The response is exactly Zulip's coded error: ``{"result": "error", "msg", "code", **extra}``.

    This is as strict as the specification's ``CodedError`` schema: no other field may appear.
    """
    assert response.status == status, (response.status, response.body)
    assert response.json() == {"result": "error", "msg": msg, "code": code, **extra}, response.body
