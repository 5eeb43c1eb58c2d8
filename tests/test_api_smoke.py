"""A first pass over the API framework: envelope, auth, routing."""

from __future__ import annotations

from tests.support.api import ApiHarness
from tests.support.async_tests import async_test
from tests.support.openapi import assert_valid


@async_test
async def test_own_user_is_spec_valid(api: ApiHarness) -> None:
    response = await api.call("GET", "users/me", as_user="iago@zulip.com")
    assert response.status == 200
    body = response.json()
    assert body["email"] == "iago@zulip.com"
    assert body["role"] == 200
    assert_valid("GET", "users/me", 200, body)
