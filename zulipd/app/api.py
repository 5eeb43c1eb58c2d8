"""One route table for the REST API, served under both ``/api/v1/`` and ``/json/``.

``/api/v1/`` authenticates with HTTP Basic ``email:api_key``; ``/json/`` with
a session cookie plus a CSRF header. A route is declared once:

    @api.get("users/me")
    async def get_own_user(ctx: ApiRequest) -> Payload:
        ...

The dispatcher reads the body and the query string, applies a ``method=``
override, matches the route (404, or 405 with ``allowed_methods``), finds
the realm from the Host header, authenticates, rate-limits, converts the
typed parameters, calls the handler, and writes Zulip's envelope, with
``ignored_parameters_unsupported`` listing what nobody consumed.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import unquote

import multipart
from twisted.internet import defer
from twisted.logger import Logger
from twisted.web import resource, server
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.routing import IntegerConverter, Map, Rule

from zulipd.app.params import ParamSpec, describe_parameters, extract_parameters
from zulipd.app.response import encode_json
from zulipd.app.site import ZulipdRequest
from zulipd.errors import JsonableError, NotFound, Unauthorized
from zulipd.models import Realm, UserProfile

if TYPE_CHECKING:
    from zulipd.server import Server

log = Logger()

Payload = dict[str, Any]
Handler = Callable[..., Awaitable[Payload]]
HandlerT = TypeVar("HandlerT", bound=Handler)
Prefix = Literal["api", "json"]

# Who may call a route: an authenticated user, or anyone.
AUTHENTICATED = "authenticated"
PUBLIC = "public"

_NEVER_CACHE = [b"no-cache, no-store, must-revalidate, max-age=0, private"]
_JSON = [b"application/json"]
# Reason phrases twisted.web does not know.
_REASONS = {429: b"Too Many Requests"}
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")
# Bodies larger than this are refused before parsing.
MAX_FORM_BYTES = 25 * 1024 * 1024


@dataclasses.dataclass
class Route:
    method: str
    template: str
    handler: Handler
    params: list[ParamSpec]
    access: str
    api_only: bool
    allow_incoming_webhook: bool
    # Whether the per-user API rate limit counts calls to the route.
    rate_limited: bool = True


class ApiRouter:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(
        self,
        method: str,
        template: str,
        *,
        access: str = AUTHENTICATED,
        api_only: bool = False,
        allow_incoming_webhook: bool = False,
        rate_limited: bool = True,
        extra_params: Sequence[ParamSpec] = (),
    ) -> Callable[[HandlerT], HandlerT]:
        """Register a handler. ``extra_params`` (e.g. a settings table) arrive as more keyword arguments."""

        def register(handler: HandlerT) -> HandlerT:
            path_names = _PATH_PARAMETER.findall(template)
            self.routes.append(
                Route(
                    method=method,
                    template=template,
                    handler=handler,
                    params=[*describe_parameters(handler, path_names), *extra_params],
                    access=access,
                    api_only=api_only,
                    allow_incoming_webhook=allow_incoming_webhook,
                    rate_limited=rate_limited,
                )
            )
            return handler

        return register

    def get(self, template: str, **options: Any) -> Callable[[HandlerT], HandlerT]:
        return self.route("GET", template, **options)

    def post(self, template: str, **options: Any) -> Callable[[HandlerT], HandlerT]:
        return self.route("POST", template, **options)

    def patch(self, template: str, **options: Any) -> Callable[[HandlerT], HandlerT]:
        return self.route("PATCH", template, **options)

    def put(self, template: str, **options: Any) -> Callable[[HandlerT], HandlerT]:
        return self.route("PUT", template, **options)

    def delete(self, template: str, **options: Any) -> Callable[[HandlerT], HandlerT]:
        return self.route("DELETE", template, **options)

    def url_map(self, prefix: Prefix) -> Map:
        rules = []
        static_methods: dict[str, set[str]] = {}
        for index, route in enumerate(self.routes):
            if prefix == "json" and route.api_only:
                continue
            path = "/" + _werkzeug_path(route)
            rules.append(Rule(path, methods=[route.method], endpoint=index, strict_slashes=False))
            if not _PATH_PARAMETER.search(route.template):
                static_methods.setdefault(path, set()).add(route.method)
        # A literal path owns every method: PATCH users/me must answer 405, not
        # fall through to users/{email} with email "me".
        for path, methods in static_methods.items():
            others = sorted(ALL_METHODS - methods - ({"HEAD"} if "GET" in methods else set()))
            rules.append(Rule(path, methods=others, endpoint=METHOD_NOT_ALLOWED, strict_slashes=False))
        return Map(rules, merge_slashes=False, converters={"digits": AsciiDigitsConverter})


class AsciiDigitsConverter(IntegerConverter):
    """werkzeug's int converter matches any Unicode digit; ids are ASCII digits."""

    regex = r"[0-9]+"


ALL_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
METHOD_NOT_ALLOWED = -1


def _werkzeug_path(route: Route) -> str:
    """``users/{user_id}`` as werkzeug writes it: ``users/<digits:user_id>``."""
    converters = {spec.python_name: "digits" if spec.annotation is int else "string" for spec in route.params}

    def rule(match: re.Match[str]) -> str:
        return f"<{converters[match.group(1)]}:{match.group(1)}>"

    return _PATH_PARAMETER.sub(rule, route.template)


@dataclasses.dataclass
class ApiRequest:
    """What a handler knows about the request it serves."""

    request: ZulipdRequest
    server: Server
    prefix: Prefix
    realm: Realm | None
    user: UserProfile | None = None
    # The files of a multipart body, by field name.
    files: dict[str, tuple[str, bytes]] = dataclasses.field(default_factory=dict)

    @property
    def requester(self) -> UserProfile:
        """The authenticated user; only for routes that require one."""
        assert self.user is not None
        return self.user

    @property
    def requester_realm(self) -> Realm:
        assert self.realm is not None
        return self.realm

    @property
    def client_ip(self) -> str:
        return self.request.client_ip

    @property
    def client_name(self) -> str:
        """Zulip's client name: the User-Agent up to its first slash."""
        agent = self.request.header("user-agent") or ""
        return (agent.split("/", 1)[0].strip() or "Unspecified")[:30]


class ParsedRequest:
    """The request's parameters: the form body first, then the query string."""

    def __init__(self, body: dict[str, str], query: dict[str, str], files: dict[str, tuple[str, bytes]]) -> None:
        self.body = body
        self.query = query
        self.files = files

    def names(self) -> set[str]:
        return set(self.body) | set(self.query)


def parse_request(request: ZulipdRequest) -> ParsedRequest:
    uri: bytes = request.uri
    content = request.content
    if b"?" not in uri and (content is None or content.seek(0, 2) == 0):
        return ParsedRequest({}, {}, {})  # the common case: no parameters at all
    query_text = uri.split(b"?", 1)[1] if b"?" in uri else b""
    query = _parse_urlencoded(query_text, "query string")
    content_type = (request.header("content-type") or "").lower()
    if content is not None:
        content.seek(0)
    raw = content.read(MAX_FORM_BYTES + 1) if content is not None else b""
    if content is not None:
        content.seek(0)
    if len(raw) > MAX_FORM_BYTES:
        raise JsonableError("The request body is too large")
    files: dict[str, tuple[str, bytes]] = {}
    if content_type.startswith("application/x-www-form-urlencoded"):
        body = _parse_urlencoded(raw, "request body")
    elif content_type.startswith("multipart/form-data"):
        body, files = _parse_multipart(raw, content_type)
    else:
        body = {}
    return ParsedRequest(body, query, files)


def _parse_urlencoded(raw: bytes, where: str) -> dict[str, str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonableError(f"The {where} is not valid UTF-8") from None
    # parse_qsl(text, keep_blank_values=True), read into a dict, with no work for fields with nothing to decode.
    fields: dict[str, str] = {}
    for field in text.split("&"):
        if field:
            name, _, value = field.partition("=")
            fields[_form_decoded(name)] = _form_decoded(value)
    return fields


def _form_decoded(text: str) -> str:
    if "%" not in text and "+" not in text:
        return text
    return unquote(text.replace("+", " "))


def _parse_multipart(raw: bytes, content_type: str) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    _, options = multipart.parse_options_header(content_type)
    boundary = options.get("boundary")
    if not boundary:
        raise JsonableError("The multipart request body has no boundary")
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    try:
        parser = multipart.MultipartParser(io.BytesIO(raw), boundary, content_length=len(raw), charset="utf-8")
        for part in parser:
            if part.filename:
                files[part.name] = (part.filename, part.raw)
            else:
                fields[part.name] = part.value
            part.close()
    except (multipart.MultipartError, UnicodeDecodeError) as error:
        raise JsonableError(f"The multipart request body cannot be parsed: {error}") from None
    return fields, files


class ApiResource(resource.Resource):
    """Serves every route of the table under one prefix."""

    isLeaf = True

    def __init__(self, server: Server, router: ApiRouter, prefix: Prefix) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._server = server
        self.router = router
        self.prefix = prefix
        self._urls = router.url_map(prefix).bind("zulipd")
        # Matching is pure: remember recent answers (paths repeat; the bound keeps memory flat).
        self._match = functools.lru_cache(maxsize=4096)(self._match_uncached)

    def _match_uncached(self, path: str, method: str) -> tuple[int, Mapping[str, Any]] | list[str] | None:
        """(route index, path values); the allowed methods for a 405; None for a 404."""
        try:
            index, values = self._urls.match(path, method)
        except MethodNotAllowed as error:
            literal = self._literal_methods(path)
            return sorted(literal or error.valid_methods or [])
        except RouteNotFound:
            return None
        if index == METHOD_NOT_ALLOWED:
            return sorted(self._literal_methods(path))
        return int(index), values

    def _literal_methods(self, path: str) -> set[str]:
        methods = {route.method for route in self.router.routes if "/" + route.template.strip("/") == path.rstrip("/")}
        return methods | ({"HEAD"} if "GET" in methods else set())

    def render(self, request: ZulipdRequest) -> int:
        defer.Deferred.fromCoroutine(self._respond(request))
        return server.NOT_DONE_YET

    async def _respond(self, request: ZulipdRequest) -> None:
        extra_headers: dict[str, str] = {}
        try:
            status, payload, extra_headers = await self._handle(request, extra_headers)
        except JsonableError as error:
            status, payload = error.http_status, error.body()
            extra_headers.update(error.headers())
        except Exception:
            log.failure(
                "Unexpected error serving {method} {path}",
                method=request.method.decode("ascii", "replace"),
                path=request.path.decode("utf-8", "replace"),
            )
            status = 500
            payload = {"result": "error", "msg": "Internal server error", "code": "INTERNAL_SERVER_ERROR"}
        self.write(request, status, payload, extra_headers)

    def write(self, request: ZulipdRequest, status: int, payload: Payload | None, headers: dict[str, str]) -> None:
        """Answer with Zulip's envelope (nothing when the client has gone)."""
        if request._disconnected or request.finished:
            return
        request.setResponseCode(status, _REASONS.get(status))
        response_headers = request.responseHeaders
        for name, value in headers.items():
            response_headers.setRawHeaders(name.encode("ascii"), [value.encode("latin-1")])
        if payload is not None:
            body = encode_json(payload)
            response_headers.setRawHeaders(b"Content-Type", _JSON)
            response_headers.setRawHeaders(b"Cache-Control", _NEVER_CACHE)
            # A known length spares the client chunked encoding.
            response_headers.setRawHeaders(b"Content-Length", [str(len(body)).encode("ascii")])
            request.write(body)
        request.finish()

    async def _handle(
        self, request: ZulipdRequest, headers: dict[str, str]
    ) -> tuple[int, Payload | None, dict[str, str]]:
        # Segments split at "/", which no UTF-8 sequence contains: decoding them joined is the same.
        path = "/" + b"/".join(request.postpath or []).decode("utf-8", "replace")
        parsed = parse_request(request)
        method = request.method.decode("ascii", "replace").upper()
        if method == "POST" and "method" in parsed.body:
            method = parsed.body.pop("method").upper()
        if method == "OPTIONS":
            match = self._match(path, "OPTIONS")
            allowed = match if isinstance(match, list) else []
            if not allowed:
                raise NotFound("Not Found")
            return 204, None, {"Allow": ", ".join(allowed)}
        match = self._match(path, "GET" if method == "HEAD" else method)
        if isinstance(match, list):
            headers["Allow"] = ", ".join(match)
            return 405, {"result": "error", "msg": "Method Not Allowed", "allowed_methods": match}, headers
        if match is None:
            raise NotFound("Not Found")
        index, path_values = match
        route = self.router.routes[index]
        ctx = ApiRequest(
            request, self._server, self.prefix, await self._server.realms.for_host(request), files=parsed.files
        )
        limits = self._server.rate_limits
        if route.access == AUTHENTICATED:
            ctx.user = await self._server.authenticator.authenticate(ctx, parsed)
            if ctx.user.is_incoming_webhook and not route.allow_incoming_webhook:
                raise JsonableError("This API is not available to incoming webhook bots.")
            if route.rate_limited:
                headers.update(await limits.check_user(ctx.user.id))
        else:
            headers.update(await limits.check_ip(ctx.client_ip))
        values, used = extract_parameters(route.params, parsed.body, parsed.query, path_values)
        payload = await route.handler(ctx, **values)
        response: Payload = {"result": "success", "msg": "", **payload}
        if parsed.body or parsed.query:
            ignored = sorted(parsed.names() - used)
            if ignored:
                response["ignored_parameters_unsupported"] = ignored
        return 200, response, headers


def unauthorized_scheme(prefix: Prefix) -> str:
    return "Basic" if prefix == "api" else "Session"


def not_logged_in(prefix: Prefix) -> Unauthorized:
    return Unauthorized("Not logged in: API authentication or user session required", unauthorized_scheme(prefix))
