"""Browser pages: a minimal /login/ form, /accounts/logout/, and the page at / that holds a session.

The web client proper comes later; these pages give a browser a session so
that it can call /json/ with its CSRF token. Login forms are protected from
cross-site posting by a double-submit token: a ``csrftoken`` cookie that must
match the form's hidden field.
"""

from __future__ import annotations

import hmac
import html
import secrets
from typing import TYPE_CHECKING

from klein import Klein

from zulipd.actions.auth import session_cookie_name
from zulipd.app.api import parse_request
from zulipd.app.site import ZulipdRequest
from zulipd.errors import JsonableError, RateLimited
from zulipd.models import UserProfile

if TYPE_CHECKING:
    from zulipd.server import Server

LOGIN_CSRF_COOKIE = b"csrftoken"

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - zulipd</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main>{body}</main></body></html>
"""


def _page(request: ZulipdRequest, title: str, body: str, status: int = 200) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"text/html; charset=utf-8")  # type: ignore[no-untyped-call]
    request.setHeader(b"Cache-Control", b"no-store")  # type: ignore[no-untyped-call]
    request.setHeader(b"X-Frame-Options", b"DENY")  # type: ignore[no-untyped-call]
    request.setHeader(b"Content-Security-Policy", b"default-src 'none'; form-action 'self'")  # type: ignore[no-untyped-call]
    return _PAGE.format(title=html.escape(title), body=body).encode("utf-8")


def _form_value(request: ZulipdRequest, name: str) -> str:
    """A form field, from the body (or else the query string), parsed as the API parses it; "" if absent."""
    try:
        parsed = parse_request(request)
    except JsonableError:
        return ""  # a body that is not a readable form has no fields
    return parsed.body.get(name, parsed.query.get(name, ""))


def _set_cookie(request: ZulipdRequest, name: bytes, value: str, max_age: int | None = None) -> None:
    secure = request.isSecure()
    request.addCookie(  # type: ignore[no-untyped-call]
        name,
        value.encode("ascii"),
        path=b"/",
        max_age=str(max_age).encode() if max_age is not None else None,
        secure=secure,
        httpOnly=True,
        sameSite="lax",
    )


def _redirect(request: ZulipdRequest, location: bytes) -> bytes:
    request.setResponseCode(302)
    request.setHeader(b"Location", location)  # type: ignore[no-untyped-call]
    return b""


class WebPages:
    def __init__(self, server: Server) -> None:
        self.server = server

    def add_routes(self, app: Klein) -> None:
        app.route("/login/", methods=["GET", "HEAD"])(self.login_page)
        app.route("/login/", methods=["POST"])(self.login)
        app.route("/", methods=["GET", "HEAD"])(self.home)
        app.route("/accounts/logout/", methods=["POST"])(self.logout)

    def _login_form(self, request: ZulipdRequest, error: str = "", status: int = 200) -> bytes:
        token = request.cookie(LOGIN_CSRF_COOKIE)
        if not token:
            token = secrets.token_urlsafe(32)
            _set_cookie(request, LOGIN_CSRF_COOKIE, token)
        message = f'<p role="alert">{html.escape(error)}</p>' if error else ""
        body = f"""<h1>Log in</h1>{message}
<form method="post" action="/login/">
<input type="hidden" name="csrfmiddlewaretoken" value="{html.escape(token)}">
<p><label>Email <input type="email" name="username" autocomplete="username" required></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Log in</button></p>
</form>"""
        return _page(request, "Log in", body, status)

    def login_page(self, request: ZulipdRequest) -> bytes:
        return self._login_form(request)

    async def login(self, request: ZulipdRequest) -> bytes:
        cookie = request.cookie(LOGIN_CSRF_COOKIE) or ""
        sent = _form_value(request, "csrfmiddlewaretoken")
        if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
            return self._login_form(request, "Your login form expired; please try again.", 403)
        realm = await self.server.realms.for_host(request)
        try:
            user = await self.server.authenticator.check_login(
                realm, _form_value(request, "username"), _form_value(request, "password")
            )
        except RateLimited:
            return self._login_form(request, "Too many failed attempts; please wait and try again.", 429)
        except JsonableError as error:
            return self._login_form(request, error.msg, 401)
        key, _ = await self.server.authenticator.create_session(user)
        _set_cookie(request, session_cookie_name(request.isSecure()), key,
                    max_age=self.server.config.auth.session_days * 86400)  # fmt: skip
        return _redirect(request, b"/")

    async def home(self, request: ZulipdRequest) -> bytes:
        session = await self._session(request)
        if session is None:
            return _redirect(request, b"/login/")
        user, csrf_token = session
        token = html.escape(csrf_token)
        body = f"""<h1>zulipd</h1>
<p>Logged in as {html.escape(user.full_name)} ({html.escape(user.delivery_email)}).</p>
<p>The web client is not here yet; this session can call the <code>/json/</code> API with the token below.</p>
<form method="post" action="/accounts/logout/">
<input type="hidden" name="csrfmiddlewaretoken" value="{token}">
<button type="submit">Log out</button></form>"""
        return _page(request, "zulipd", body)

    async def logout(self, request: ZulipdRequest) -> bytes:
        session = await self._session(request)
        key = request.cookie(session_cookie_name(request.isSecure()))
        if session is not None and key:
            sent = _form_value(request, "csrfmiddlewaretoken") or request.header("x-csrftoken") or ""
            if not hmac.compare_digest(sent.encode(), session[1].encode()):
                return _page(request, "Log out", "<p>Your logout form expired; please try again.</p>", 403)
            await self.server.authenticator.end_session(key)
        _set_cookie(request, session_cookie_name(request.isSecure()), "", max_age=0)
        return _redirect(request, b"/login/")

    async def _session(self, request: ZulipdRequest) -> tuple[UserProfile, str] | None:
        from zulipd.app.api import ApiRequest

        realm = await self.server.realms.for_host(request)
        ctx = ApiRequest(request, self.server, "json", realm)
        session = await self.server.authenticator.session_for(ctx)
        if session is None or realm is None or not session[0].is_active or realm.deactivated:
            return None
        return session
