"""Zulip's JSON envelope: ``{"result": "success", "msg": "", ...}`` or an error with a ``code``."""

from __future__ import annotations

import json
from typing import Any

import orjson
from twisted.web.iweb import IRequest

_NEVER_CACHE = b"no-cache, no-store, must-revalidate, max-age=0, private"


def encode_json(payload: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(payload, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        # orjson refuses strings that are not valid UTF-8, such as a lone surrogate a request
        # carried in and an answer quotes back; JSON can still spell them as \u escapes.
        return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def json_response(request: IRequest, payload: dict[str, Any], status: int = 200) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"application/json")
    request.setHeader(b"Cache-Control", _NEVER_CACHE)
    return encode_json(payload)


def json_success(request: IRequest, data: dict[str, Any] | None = None) -> bytes:
    return json_response(request, {"result": "success", "msg": "", **(data or {})})


def json_error(request: IRequest, msg: str, code: str, status: int = 400, **extra: Any) -> bytes:
    return json_response(request, {"result": "error", "msg": msg, "code": code, **extra}, status)
