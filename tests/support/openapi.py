"""Validate responses against Zulip's own OpenAPI spec, strictly (additionalProperties: false counts)."""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

# Zulip's spec is not part of this repository; it is looked for here, in order.
SPEC_CANDIDATES = [
    os.environ.get("ZULIPD_OPENAPI_SPEC", ""),
    os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "reference", "zulip-openapi.yaml"),
    "/work/shared/reference/zulip-openapi.yaml",
]


def spec_path() -> str | None:
    return next((path for path in SPEC_CANDIDATES if path and os.path.isfile(path)), None)


@functools.cache
def spec() -> OpenAPI:
    """Loaded once per test process (about 3 s). Skips the calling test if the spec is nowhere."""
    path = spec_path()
    if path is None:
        import pytest

        pytest.skip("Zulip's OpenAPI spec was not found; set ZULIPD_OPENAPI_SPEC to its path")
    with open(path, encoding="utf-8") as spec_file:
        document = yaml.safe_load(spec_file)
    document["servers"] = [{"url": "http://zulipd.test/api/v1"}]
    return OpenAPI.from_dict(document)


def assert_valid(method: str, path: str, status: int, body: Any) -> None:
    """``path`` as requested under /api/v1, e.g. ``users/5``."""
    request = MockRequest("http://zulipd.test", method.lower(), "/api/v1/" + path.lstrip("/"))
    response = MockResponse(json.dumps(body).encode(), status_code=status, content_type="application/json")
    spec().validate_response(request, response)
