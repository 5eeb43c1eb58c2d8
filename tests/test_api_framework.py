"""The REST framework through HTTP: envelope, parameters, routing, and error handling.

Behaviours that no production route exercises (aliases, confusing variables,
literals, list and dict checks, a crashing handler, multipart files) are
served by a router of test routes, mounted in a ZulipdSite of its own on
loopback, over the harness's server so that Basic authentication works.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.web import resource
from twisted.web.client import Agent, FileBodyProducer
from twisted.web.http_headers import Headers

from tests.support.api import ApiHarness
from tests.support.async_tests import async_fixture, async_test, captured_logs
from tests.support.http import Response, read_body
from tests.support.openapi import assert_valid
from zulipd.app.api import ApiRequest, ApiResource, ApiRouter, Payload, _parse_urlencoded
from zulipd.app.params import ApiParam, Json
from zulipd.app.site import ZulipdSite

ECHO_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
FORM = "application/x-www-form-urlencoded"
HAMLET = "hamlet@zulip.com"
IAGO = "iago@zulip.com"

router = ApiRouter()


def _register_echo(method: str) -> None:
    async def echo(
        ctx: ApiRequest,
        *,
        text: str | None = None,
        number: Json[int] | None = None,
        flag: Json[bool] | None = None,
        numbers: Json[list[int]] | None = None,
        mapping: Json[dict[str, str]] | None = None,
        ratio: Json[float] | None = None,
        color: Literal["red", "green"] | None = None,
        level: Json[Literal[1, 2]] | None = None,
        short: Annotated[str, ApiParam(max_length=5)] | None = None,
        bounded: Annotated[Json[int], ApiParam(min_value=1, max_value=10)] | None = None,
    ) -> Payload:
        values = {
            "text": text,
            "number": number,
            "flag": flag,
            "numbers": numbers,
            "mapping": mapping,
            "ratio": ratio,
            "color": color,
            "level": level,
            "short": short,
            "bounded": bounded,
        }
        return {"route": method, "values": {name: value for name, value in values.items() if value is not None}}

    router.route(method, "echo")(echo)


for _method in ECHO_METHODS:
    _register_echo(_method)


@router.post("messages_like")
async def messages_like(
    ctx: ApiRequest,
    *,
    topic: Annotated[str, ApiParam(aliases=("subject",))],
    content: str,
    recipient: Annotated[str, ApiParam(whence="to")] = "",
) -> Payload:
    return {"topic": topic, "content": content, "recipient": recipient}


@router.patch("patch_only")
async def patch_only(ctx: ApiRequest, *, value: str = "") -> Payload:
    return {"route": "PATCH", "value": value}


@router.get("boom")
async def boom(ctx: ApiRequest) -> Payload:
    raise RuntimeError("kaboom: the secret internals of zulipd")


@router.post("upload")
async def upload(ctx: ApiRequest, *, description: str) -> Payload:
    files = {name: [filename, content.decode("utf-8")] for name, (filename, content) in ctx.files.items()}
    return {"description": description, "files": files}


@router.get("items/{item_id}")
async def get_item(ctx: ApiRequest, *, item_id: int) -> Payload:
    return {"route": "int", "item_id": item_id}


@router.get("tags/{item_id}")
async def get_tag_by_id(ctx: ApiRequest, *, item_id: int) -> Payload:
    return {"route": "int", "item_id": item_id}


@router.get("tags/{name}")
async def get_tag_by_name(ctx: ApiRequest, *, name: str) -> Payload:
    return {"route": "str", "name": name}


# --- the test site -------------------------------------------------------


@async_fixture
async def framework(api: ApiHarness) -> AsyncIterator[ApiHarness]:
    """The test routes under /api/v1/, on a loopback port, sharing the harness's server and users."""
    root = resource.Resource()
    api_prefix = resource.Resource()
    api_prefix.putChild(b"v1", ApiResource(api.server, router, "api"))
    root.putChild(b"api", api_prefix)
    site = ZulipdSite(root, reactor)
    port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(site)
    harness = ApiHarness(api.server, port, site)
    harness.realm = api.realm
    harness.users = api.users
    try:
        yield harness
    finally:
        await defer.maybeDeferred(port.stopListening)
        await site.drain(0)


async def send(
    harness: ApiHarness,
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    body: bytes | None = None,
    content_type: str = FORM,
    as_user: str | None = HAMLET,
    prefix: str = "/api/v1/",
    headers: Mapping[str, str] | None = None,
) -> Response:
    """One request with exactly the query string and body given (for any method, GET included)."""
    url = harness.base_url + prefix + path
    if query:
        url += "?" + urlencode(query)
    all_headers = dict(headers or {})
    if as_user is not None:
        all_headers["Authorization"] = harness.basic_auth(as_user)
    if form is not None:
        body = urlencode(form).encode()
    producer = None
    if body is not None:
        all_headers["Content-Type"] = content_type
        producer = FileBodyProducer(io.BytesIO(body))
    raw_headers = Headers({name: [value] for name, value in all_headers.items()})
    response = await Agent(reactor).request(method.encode(), url.encode(), raw_headers, producer)
    return Response(response.code, response.headers, await read_body(response))


def assert_json(response: Response) -> Any:
    assert response.header("Content-Type") == "application/json"
    assert response.body.endswith(b"\n")
    return response.json()


def assert_success(response: Response) -> dict[str, Any]:
    assert response.status == 200, response.body
    body: dict[str, Any] = assert_json(response)
    assert body["result"] == "success"
    assert body["msg"] == ""
    return body


def assert_error(response: Response, status: int, msg: str, code: str = "BAD_REQUEST", **fields: Any) -> None:
    assert response.status == status, response.body
    assert assert_json(response) == {"result": "error", "msg": msg, "code": code, **fields}


# --- the envelope ----------------------------------------------------------


@async_test
async def test_success_envelope_and_headers(framework: ApiHarness) -> None:
    response = await send(framework, "GET", "echo", query={"text": "hello"})
    body = assert_success(response)
    assert body == {"result": "success", "msg": "", "route": "GET", "values": {"text": "hello"}}
    cache_control = response.header("Cache-Control") or ""
    assert "no-store" in cache_control
    assert "private" in cache_control


@async_test
async def test_error_envelope_carries_a_code(framework: ApiHarness) -> None:
    response = await send(framework, "GET", "echo", query={"number": "five"})
    assert_error(response, 400, "number is not valid JSON")
    assert "ignored_parameters_unsupported" not in response.json()


@async_test
async def test_real_route_success_is_spec_valid(api: ApiHarness) -> None:
    response = await api.call("GET", "users", as_user=HAMLET)
    body = assert_success(response)
    assert {member["email"] for member in body["members"]} >= {HAMLET, IAGO}
    assert_valid("GET", "users", 200, body)


# --- where parameters come from ------------------------------------------


@async_test
async def test_query_string_is_read_for_every_method(framework: ApiHarness) -> None:
    for method in ECHO_METHODS:
        body = assert_success(await send(framework, method, "echo", query={"text": "from-query", "number": "7"}))
        assert (body["route"], body["values"]) == (method, {"text": "from-query", "number": 7})


@async_test
async def test_form_body_is_read_for_every_method(framework: ApiHarness) -> None:
    for method in ECHO_METHODS:
        body = assert_success(await send(framework, method, "echo", form={"text": "from-body", "flag": "true"}))
        assert (body["route"], body["values"]) == (method, {"text": "from-body", "flag": True})


@async_test
async def test_the_body_wins_over_the_query_string(framework: ApiHarness) -> None:
    for method in ECHO_METHODS:
        response = await send(
            framework,
            method,
            "echo",
            query={"text": "from-query", "number": "1"},
            form={"text": "from-body", "flag": "false"},
        )
        # Each key is read from one place: text from the body, number from the query string.
        assert assert_success(response)["values"] == {"text": "from-body", "number": 1, "flag": False}, method


@async_test
async def test_a_body_of_another_content_type_is_not_read(framework: ApiHarness) -> None:
    response = await send(framework, "POST", "echo", body=b'{"text": "json"}', content_type="application/json")
    assert assert_success(response)["values"] == {}


# --- typed values --------------------------------------------------------


@async_test
async def test_json_values_are_decoded(framework: ApiHarness) -> None:
    response = await send(
        framework,
        "POST",
        "echo",
        form={
            "text": '"kept as sent"',
            "number": "-42",
            "flag": "true",
            "numbers": "[1, 2, 3]",
            "mapping": '{"a": "b", "c": ""}',
            "ratio": "2",
            "color": "green",
            "level": "2",
            "short": "12345",
            "bounded": "10",
        },
    )
    assert assert_success(response)["values"] == {
        "text": '"kept as sent"',
        "number": -42,
        "flag": True,
        "numbers": [1, 2, 3],
        "mapping": {"a": "b", "c": ""},
        "ratio": 2.0,
        "color": "green",
        "level": 2,
        "short": "12345",
        "bounded": 10,
    }


@async_test
async def test_the_json_falsy_values_are_not_confused_with_absence(framework: ApiHarness) -> None:
    response = await send(framework, "GET", "echo", query={"flag": "false", "number": "0", "numbers": "[]"})
    assert assert_success(response)["values"] == {"flag": False, "number": 0, "numbers": []}
    # An optional JSON parameter may be sent as null: it is used, and arrives as None.
    body = assert_success(await send(framework, "GET", "echo", query={"number": "null"}))
    assert body["values"] == {}
    assert "ignored_parameters_unsupported" not in body


BAD_JSON = [
    ("number", "five"),
    ("number", ""),
    ("flag", "True"),
    ("numbers", "[1, 2"),
    ("mapping", "{'a': 'b'}"),
    ("level", "one"),
]

WRONG_TYPES = [
    ("number", '"5"', "number is not an integer"),
    ("number", "5.5", "number is not an integer"),
    ("number", "true", "number is not an integer"),
    ("flag", "1", "flag is not a boolean"),
    ("flag", '"true"', "flag is not a boolean"),
    ("numbers", '{"a": 1}', "numbers is not a list"),
    ("numbers", "3", "numbers is not a list"),
    ("numbers", '[1, "2"]', "numbers[1] is not an integer"),
    ("numbers", "[1, true]", "numbers[1] is not an integer"),
    ("mapping", "[]", "mapping is not a dict"),
    ("color", "blue", "Invalid color"),
    ("color", "RED", "Invalid color"),
    ("level", "3", "Invalid level"),
    ("level", "true", "Invalid level"),
    ("short", "123456", "short is too long (limit: 5 characters)"),
    ("bounded", "0", "bounded is too small"),
    ("bounded", "11", "bounded is too large"),
]


@async_test
async def test_bad_json_is_refused(framework: ApiHarness) -> None:
    for name, raw in BAD_JSON:
        response = await send(framework, "POST", "echo", form={name: raw})
        assert (response.status, response.json()) == (
            400,
            {"result": "error", "msg": f"{name} is not valid JSON", "code": "BAD_REQUEST"},
        ), raw


@async_test
async def test_wrong_types_are_refused_with_zulips_messages(framework: ApiHarness) -> None:
    for name, raw, msg in WRONG_TYPES:
        response = await send(framework, "POST", "echo", form={name: raw})
        assert (response.status, response.json()) == (
            400,
            {"result": "error", "msg": msg, "code": "BAD_REQUEST"},
        ), f"{name}={raw}"


@async_test
async def test_a_wrong_dict_value_is_named_as_zulip_names_it(framework: ApiHarness) -> None:
    response = await send(framework, "POST", "echo", form={"mapping": '{"a": 1}'})
    assert_error(response, 400, 'mapping["a"] is not a string')


@async_test
async def test_a_wrong_float_is_named_as_zulip_names_it(framework: ApiHarness) -> None:
    response = await send(framework, "POST", "echo", form={"ratio": '"x"'})
    assert_error(response, 400, "ratio is not a float")


@async_test
async def test_a_float_is_not_an_int_literal(framework: ApiHarness) -> None:
    response = await send(framework, "POST", "echo", form={"level": "1.0"})
    assert_error(response, 400, "Invalid level")


@async_test
async def test_a_missing_required_parameter(framework: ApiHarness) -> None:
    response = await send(framework, "POST", "messages_like", form={"content": "hi"})
    assert_error(response, 400, "Missing 'topic' argument", "REQUEST_VARIABLE_MISSING", var_name="topic")
    response = await send(framework, "POST", "messages_like", form={"topic": "t"})
    assert_error(response, 400, "Missing 'content' argument", "REQUEST_VARIABLE_MISSING", var_name="content")


@async_test
async def test_an_alias_is_accepted_and_counts_as_used(framework: ApiHarness) -> None:
    response = await send(framework, "POST", "messages_like", form={"subject": "greetings", "content": "hi"})
    body = assert_success(response)
    assert body == {"result": "success", "msg": "", "topic": "greetings", "content": "hi", "recipient": ""}


@async_test
async def test_an_alias_in_the_query_string_with_its_name_in_the_body_is_confusing(framework: ApiHarness) -> None:
    response = await send(framework, "POST", "messages_like", form={"topic": "a", "content": "hi"})
    assert_success(response)
    response = await send(
        framework, "POST", "messages_like", query={"subject": "b"}, form={"topic": "a", "content": "hi"}
    )
    assert_error(
        response,
        400,
        "Can't decide between 'topic' and 'subject' arguments",
        "REQUEST_CONFUSING_VAR",
        var_name1="topic",
        var_name2="subject",
    )


@async_test
async def test_sending_a_parameter_and_its_alias_is_confusing(framework: ApiHarness) -> None:
    response = await send(framework, "POST", "messages_like", form={"topic": "a", "subject": "b", "content": "hi"})
    assert_error(
        response,
        400,
        "Can't decide between 'topic' and 'subject' arguments",
        "REQUEST_CONFUSING_VAR",
        var_name1="topic",
        var_name2="subject",
    )


@async_test
async def test_whence_renames_a_parameter(framework: ApiHarness) -> None:
    response = await send(
        framework, "POST", "messages_like", form={"topic": "t", "content": "c", "to": "Verona", "recipient": "x"}
    )
    body = assert_success(response)
    assert body["recipient"] == "Verona"
    assert body["ignored_parameters_unsupported"] == ["recipient"]


# --- the method override, HEAD, OPTIONS, 404, 405 ---------------------------


@async_test
async def test_method_override_in_a_post_body_reaches_the_patch_route(framework: ApiHarness) -> None:
    response = await send(framework, "POST", "patch_only", form={"method": "PATCH", "value": "v"})
    body = assert_success(response)
    assert body == {"result": "success", "msg": "", "route": "PATCH", "value": "v"}
    # The override itself is consumed, not reported as ignored.
    assert "ignored_parameters_unsupported" not in body


@async_test
async def test_method_override_reaches_any_method(framework: ApiHarness) -> None:
    for method in ECHO_METHODS:
        response = await send(framework, "POST", "echo", form={"method": method, "text": "t"})
        assert (assert_success(response)["route"], response.json()["values"]) == (method, {"text": "t"})


@async_test
async def test_method_in_the_query_string_does_not_override(framework: ApiHarness) -> None:
    response = await send(framework, "POST", "echo", query={"method": "PATCH"}, form={"text": "t"})
    body = assert_success(response)
    assert body["route"] == "POST"
    assert body["ignored_parameters_unsupported"] == ["method"]


@async_test
async def test_method_override_only_applies_to_post(framework: ApiHarness) -> None:
    response = await send(framework, "PUT", "echo", form={"method": "PATCH"})
    body = assert_success(response)
    assert body["route"] == "PUT"
    assert body["ignored_parameters_unsupported"] == ["method"]


@async_test
async def test_head_on_a_get_route_has_the_headers_and_no_body(framework: ApiHarness) -> None:
    response = await send(framework, "HEAD", "echo", query={"text": "x"})
    assert response.status == 200
    assert response.body == b""
    assert response.header("Content-Type") == "application/json"


@async_test
async def test_head_on_a_real_route(api: ApiHarness) -> None:
    response = await api.call("HEAD", "users/me", as_user=HAMLET)
    assert response.status == 200
    assert response.body == b""
    assert response.header("Content-Type") == "application/json"
    response = await api.call("HEAD", "users/me")
    assert response.status == 401
    assert response.body == b""


@async_test
async def test_head_on_a_route_without_get_is_not_allowed(framework: ApiHarness) -> None:
    response = await send(framework, "HEAD", "patch_only")
    assert response.status == 405
    assert response.body == b""


def allowed_methods(response: Response) -> set[str]:
    return {method.strip() for method in (response.header("Allow") or "").split(",")}


@async_test
async def test_options_lists_the_allowed_methods(framework: ApiHarness) -> None:
    response = await send(framework, "OPTIONS", "patch_only", as_user=None)
    assert response.status == 204
    assert response.body == b""
    assert response.header("Allow") == "PATCH"
    response = await send(framework, "OPTIONS", "echo", as_user=None)
    assert response.status == 204
    assert allowed_methods(response) - {"HEAD"} == set(ECHO_METHODS)


@async_test
async def test_options_on_a_real_route(api: ApiHarness) -> None:
    response = await api.call("OPTIONS", "users")
    assert response.status == 204
    assert allowed_methods(response) - {"HEAD"} == {"GET", "POST"}
    response = await api.call("OPTIONS", f"users/{api.user(HAMLET).id}")
    assert allowed_methods(response) - {"HEAD"} == {"GET", "PATCH", "DELETE"}


USERS_ME_SHADOWED = (
    "zulipd bug: werkzeug matches users/me against the users/{email} rule for methods users/me lacks, so "
    "PATCH /users/me reaches update_user_by_email (email 'me') and OPTIONS/405 list PATCH; in Zulip the "
    "literal users/me pattern wins and answers 405"
)


@async_test
async def test_options_on_users_me_lists_only_its_own_methods(api: ApiHarness) -> None:
    response = await api.call("OPTIONS", "users/me")
    assert response.status == 204
    assert allowed_methods(response) - {"HEAD"} == {"GET", "DELETE"}


@async_test
async def test_patch_on_users_me_is_not_allowed(api: ApiHarness) -> None:
    response = await api.call("PATCH", "users/me", {"full_name": "Someone"}, as_user=IAGO)
    assert response.status == 405
    assert set(response.json()["allowed_methods"]) - {"HEAD"} == {"GET", "DELETE"}


@async_test
async def test_an_unknown_path_is_a_json_404(framework: ApiHarness) -> None:
    for path in ["nowhere", "echo/extra", "items", "users/me/nowhere"]:
        for method in ("GET", "POST", "OPTIONS"):
            response = await send(framework, method, path, as_user=None)
            assert_error(response, 404, "Not Found")


@async_test
async def test_an_unknown_real_path_is_a_json_404_before_authentication(api: ApiHarness) -> None:
    for prefix, path in [("/api/v1/", "nowhere"), ("/json/", "nowhere"), ("/api/v2/", "users"), ("/api/", "")]:
        response = await api.call("GET", path, prefix=prefix)
        assert_error(response, 404, "Not Found")


@async_test
async def test_a_wrong_method_is_a_405_with_the_allowed_methods(framework: ApiHarness) -> None:
    response = await send(framework, "GET", "patch_only", as_user=None)
    assert response.status == 405
    assert assert_json(response) == {"result": "error", "msg": "Method Not Allowed", "allowed_methods": ["PATCH"]}
    response = await send(framework, "POST", "patch_only", form={"value": "v"})
    assert response.status == 405
    assert response.json() == {"result": "error", "msg": "Method Not Allowed", "allowed_methods": ["PATCH"]}


@async_test
async def test_a_wrong_method_on_a_real_route(api: ApiHarness) -> None:
    response = await api.call("PUT", "users", {"x": "1"}, as_user=HAMLET)
    assert response.status == 405
    body = assert_json(response)
    assert set(body) == {"result", "msg", "allowed_methods"}
    assert body["result"] == "error"
    assert body["msg"] == "Method Not Allowed"
    assert set(body["allowed_methods"]) - {"HEAD"} == {"GET", "POST"}
    assert body["allowed_methods"] == sorted(body["allowed_methods"])


@async_test
async def test_a_405_has_an_allow_header(framework: ApiHarness) -> None:
    response = await send(framework, "GET", "patch_only", as_user=None)
    assert response.status == 405
    assert response.header("Allow") == "PATCH"


@async_test
async def test_an_overridden_method_that_is_not_served_is_a_405(framework: ApiHarness) -> None:
    response = await send(framework, "POST", "patch_only", form={"method": "DELETE"})
    assert response.status == 405
    assert response.json()["allowed_methods"] == ["PATCH"]


# --- ignored_parameters_unsupported ----------------------------------------


@async_test
async def test_ignored_parameters_are_listed_sorted(framework: ApiHarness) -> None:
    response = await send(
        framework, "POST", "echo", query={"zeta": "1", "alpha": "2"}, form={"text": "t", "mango": "3", "Beta": "4"}
    )
    body = assert_success(response)
    assert body["values"] == {"text": "t"}
    assert body["ignored_parameters_unsupported"] == ["Beta", "alpha", "mango", "zeta"]


@async_test
async def test_ignored_parameters_are_absent_when_everything_was_used(framework: ApiHarness) -> None:
    response = await send(framework, "GET", "echo", query={"text": "t", "number": "1"})
    assert "ignored_parameters_unsupported" not in assert_success(response)
    response = await send(framework, "GET", "echo")
    assert "ignored_parameters_unsupported" not in assert_success(response)


@async_test
async def test_ignored_parameters_are_only_reported_on_success(framework: ApiHarness) -> None:
    response = await send(framework, "POST", "messages_like", form={"unknown": "1", "content": "c"})
    assert_error(response, 400, "Missing 'topic' argument", "REQUEST_VARIABLE_MISSING", var_name="topic")
    response = await send(framework, "GET", "patch_only", query={"unknown": "1"})
    assert "ignored_parameters_unsupported" not in response.json()


@async_test
async def test_ignored_parameters_on_a_real_route_are_spec_valid(api: ApiHarness) -> None:
    response = await api.call("GET", "users/me", {"bogus": "1", "another": "2"}, as_user=HAMLET)
    body = assert_success(response)
    assert body["ignored_parameters_unsupported"] == ["another", "bogus"]
    assert_valid("GET", "users/me", 200, body)


# --- failures --------------------------------------------------------------


@async_test
async def test_an_unexpected_exception_is_a_500_without_internals(framework: ApiHarness) -> None:
    with captured_logs() as logs:
        response = await send(framework, "GET", "boom")
    assert response.status == 500
    body = assert_json(response)
    assert body["result"] == "error"
    assert body["msg"] == "Internal server error"
    for secret in (b"kaboom", b"Traceback", b"RuntimeError", b"secret internals", b".py"):
        assert secret not in response.body
    failures = [event["log_failure"] for event in logs.events if "log_failure" in event]
    assert len(failures) == 1
    assert failures[0].check(RuntimeError)
    assert "kaboom" in str(failures[0].value)
    assert "secret internals" in failures[0].getTraceback()


@async_test
async def test_after_a_500_the_server_keeps_serving(framework: ApiHarness) -> None:
    with captured_logs():
        assert (await send(framework, "GET", "boom")).status == 500
    assert_success(await send(framework, "GET", "echo"))


def multipart_body(fields: Mapping[str, str], files: Mapping[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "zulipd-test-boundary-2f6c1a"
    chunks: list[bytes] = []
    for name, value in fields.items():
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        chunks.append(value.encode("utf-8") + b"\r\n")
    for name, (filename, content) in files.items():
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: text/plain\r\n\r\n".encode()
        )
        chunks.append(content + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


@async_test
async def test_a_multipart_body_is_parsed(framework: ApiHarness) -> None:
    body, content_type = multipart_body(
        {"description": "a file ✓", "extra": "x"}, {"notes.txt": ("notes.txt", b"line one\nline two\n")}
    )
    response = await send(framework, "POST", "upload", body=body, content_type=content_type)
    result = assert_success(response)
    assert result["description"] == "a file ✓"
    assert result["files"] == {"notes.txt": ["notes.txt", "line one\nline two\n"]}
    assert result["ignored_parameters_unsupported"] == ["extra"]


@async_test
async def test_a_multipart_body_without_a_boundary_is_refused(framework: ApiHarness) -> None:
    response = await send(framework, "PATCH", "echo", body=b"whatever", content_type="multipart/form-data")
    assert_error(response, 400, "The multipart request body has no boundary")
    # For POST, Twisted parses the body itself first and answers a bare 400 of its own.
    response = await send(framework, "POST", "upload", body=b"whatever", content_type="multipart/form-data")
    assert response.status == 400


@async_test
async def test_a_body_that_is_not_utf8_is_refused(framework: ApiHarness) -> None:
    for method in ("POST", "PATCH"):
        response = await send(framework, method, "echo", body=b"text=caf\xe9")
        assert_error(response, 400, "The request body is not valid UTF-8")
    multipart = b'--b\r\nContent-Disposition: form-data; name="description"\r\n\r\ncaf\xe9\r\n--b--\r\n'
    response = await send(framework, "POST", "upload", body=multipart, content_type="multipart/form-data; boundary=b")
    assert response.status == 400
    result = assert_json(response)
    assert (result["result"], result["code"]) == ("error", "BAD_REQUEST")
    assert result["msg"].startswith("The multipart request body cannot be parsed")


@async_test
async def test_utf8_in_the_body_and_query_string_is_decoded(framework: ApiHarness) -> None:
    response = await send(framework, "PATCH", "echo", query={"short": "शिव"}, form={"text": "Zoë ✓"})
    assert assert_success(response)["values"] == {"text": "Zoë ✓", "short": "शिव"}


# --- path parameters -------------------------------------------------------


@async_test
async def test_an_int_path_parameter(framework: ApiHarness) -> None:
    body = assert_success(await send(framework, "GET", "items/42"))
    assert (body["route"], body["item_id"]) == ("int", 42)


@async_test
async def test_an_int_path_parameter_does_not_match_other_segments(framework: ApiHarness) -> None:
    for segment in ["abc", "4x2", "-1", "1.5", "%20", "0x10"]:
        response = await send(framework, "GET", f"items/{segment}")
        assert_error(response, 404, "Not Found")


@async_test
async def test_non_ascii_digits_are_not_an_int(framework: ApiHarness) -> None:
    assert_error(await send(framework, "GET", "items/%D9%A1%D9%A2"), 404, "Not Found")
    body = assert_success(await send(framework, "GET", "tags/%D9%A1%D9%A2"))
    assert (body["route"], body["name"]) == ("str", "١٢")


@async_test
async def test_a_non_int_segment_falls_through_to_the_string_route(framework: ApiHarness) -> None:
    body = assert_success(await send(framework, "GET", "tags/17"))
    assert (body["route"], body["item_id"]) == ("int", 17)
    body = assert_success(await send(framework, "GET", "tags/seventeen"))
    assert (body["route"], body["name"]) == ("str", "seventeen")


@async_test
async def test_users_by_id_and_by_email(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    by_id = assert_success(await api.call("GET", f"users/{hamlet.id}", as_user=IAGO))
    by_email = assert_success(await api.call("GET", f"users/{HAMLET}", as_user=IAGO))
    assert by_id["user"] == by_email["user"]
    assert by_id["user"]["user_id"] == hamlet.id
    assert_valid("GET", f"users/{hamlet.id}", 200, by_id)
    response = await api.call("GET", "users/nobody@zulip.com", as_user=IAGO)
    assert_error(response, 400, "No such user")


# --- the real routes -------------------------------------------------------


@async_test
async def test_create_user_requires_its_parameters(api: ApiHarness) -> None:
    response = await api.call("POST", "users", {"email": "new@zulip.com", "full_name": "New"}, as_user=IAGO)
    assert_error(response, 400, "Missing 'password' argument", "REQUEST_VARIABLE_MISSING", var_name="password")
    response = await api.call(
        "POST", "users", {"email": "new@zulip.com", "full_name": "New", "password": "secret-enough"}, as_user=IAGO
    )
    body = assert_success(response)
    assert_valid("POST", "users", 200, body)
    new = assert_success(await api.call("GET", "users/new@zulip.com", as_user=IAGO))
    assert new["user"]["user_id"] == body["user_id"]


@async_test
async def test_update_user_takes_a_json_role(api: ApiHarness) -> None:
    hamlet = api.user(HAMLET)
    response = await api.call("PATCH", f"users/{hamlet.id}", {"role": "300"}, as_user=IAGO)
    assert_success(response)
    user = assert_success(await api.call("GET", f"users/{hamlet.id}", as_user=IAGO))["user"]
    assert user["role"] == 300
    for raw, msg in [
        ("moderator", "role is not valid JSON"),
        ('"300"', "role is not an integer"),
        ("true", "role is not an integer"),
        ("301", "Invalid role"),
    ]:
        response = await api.call("PATCH", f"users/{hamlet.id}", {"role": raw}, as_user=IAGO)
        assert_error(response, 400, msg)


@async_test
async def test_json_bools_on_a_real_get_route(api: ApiHarness) -> None:
    body = assert_success(await api.call("GET", "users", {"client_gravatar": "false"}, as_user=HAMLET))
    assert all(member["avatar_url"] for member in body["members"])
    body = assert_success(await api.call("GET", "users", {"client_gravatar": "true"}, as_user=HAMLET))
    assert all(member["avatar_url"] is None for member in body["members"])
    response = await api.call("GET", "users", {"client_gravatar": "yes"}, as_user=HAMLET)
    assert_error(response, 400, "client_gravatar is not valid JSON")


@async_test
async def test_settings_table_parameters(api: ApiHarness) -> None:
    response = await api.call("PATCH", "settings", {"full_name": "Prince Hamlet"}, as_user=HAMLET)
    body = assert_success(response)
    assert body == {"result": "success", "msg": ""}
    me = assert_success(await api.call("GET", "users/me", as_user=HAMLET))
    assert me["full_name"] == "Prince Hamlet"


@async_test
async def test_method_override_on_a_real_route(api: ApiHarness) -> None:
    response = await api.call("POST", "settings", {"method": "PATCH", "full_name": "Hamlet the Dane"}, as_user=HAMLET)
    assert assert_success(response) == {"result": "success", "msg": ""}
    me = assert_success(await api.call("GET", "users/me", as_user=HAMLET))
    assert me["full_name"] == "Hamlet the Dane"


@async_test
async def test_bot_storage_takes_json_lists_and_dicts(api: ApiHarness) -> None:
    response = await api.call("PUT", "bot_storage", {"storage": json.dumps({"k": "v"})}, as_user=HAMLET)
    assert_success(response)
    body = assert_success(await api.call("GET", "bot_storage", {"keys": json.dumps(["k"])}, as_user=HAMLET))
    assert body["storage"] == {"k": "v"}
    response = await api.call("PUT", "bot_storage", {"storage": json.dumps({"k": 1})}, as_user=HAMLET)
    assert response.status == 400
    response = await api.call("GET", "bot_storage", {"keys": "k"}, as_user=HAMLET)
    assert_error(response, 400, "keys is not valid JSON")


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="ab=&+%20%zé ;\x00", max_size=30))
def test_form_fields_are_read_as_parse_qsl_reads_them(text: str) -> None:
    assert _parse_urlencoded(text.encode(), "body") == dict(parse_qsl(text, keep_blank_values=True))
