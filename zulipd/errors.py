"""Errors that reach API clients, with Zulip's ``code`` and HTTP status.

Actions raise these; the HTTP layer turns them into Zulip's envelope
``{"result": "error", "msg": ..., "code": ..., **data}``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar


class JsonableError(Exception):
    code: ClassVar[str] = "BAD_REQUEST"
    http_status: ClassVar[int] = 400

    def __init__(self, msg: str, **data: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.data = data

    def headers(self) -> dict[str, str]:
        return {}

    def body(self) -> dict[str, Any]:
        result = "success" if 200 <= self.http_status < 300 else "error"
        return {"result": result, "msg": self.msg, "code": self.code, **self.data}


class RequestVariableMissing(JsonableError):
    code = "REQUEST_VARIABLE_MISSING"

    def __init__(self, var_name: str) -> None:
        super().__init__(f"Missing '{var_name}' argument", var_name=var_name)


class RequestVariableInvalid(JsonableError):
    code = "REQUEST_VARIABLE_INVALID"

    def __init__(self, var_name: str, bad_value: Any) -> None:
        super().__init__(f"Bad value for '{var_name}': {bad_value}", var_name=var_name, bad_value=bad_value)


class RequestConfusingVar(JsonableError):
    code = "REQUEST_CONFUSING_VAR"

    def __init__(self, var_name1: str, var_name2: str) -> None:
        super().__init__(
            f"Can't decide between '{var_name1}' and '{var_name2}' arguments",
            var_name1=var_name1,
            var_name2=var_name2,
        )


class InvalidJson(JsonableError):
    code = "INVALID_JSON"

    def __init__(self) -> None:
        super().__init__("Malformed JSON")


class Unauthorized(JsonableError):
    """401 with a ``WWW-Authenticate`` challenge for the scheme the route expects."""

    code = "UNAUTHORIZED"
    http_status = 401

    def __init__(self, msg: str, scheme: str = "Basic") -> None:
        super().__init__(msg)
        self.scheme = scheme

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'{self.scheme} realm="zulip"'}


class UserDeactivated(JsonableError):
    code = "USER_DEACTIVATED"
    http_status = 401

    def __init__(self) -> None:
        super().__init__("Account is deactivated")


class RealmDeactivated(JsonableError):
    code = "REALM_DEACTIVATED"
    http_status = 401

    def __init__(self) -> None:
        super().__init__("This organization has been deactivated")


class AuthenticationFailed(JsonableError):
    code = "AUTHENTICATION_FAILED"
    http_status = 401

    def __init__(self) -> None:
        super().__init__("Your username or password is incorrect")


class RateLimited(JsonableError):
    code = "RATE_LIMIT_HIT"
    http_status = 429

    def __init__(self, retry_after: float) -> None:
        super().__init__("API usage exceeded rate limit")
        self.retry_after = retry_after
        self.data["retry-after"] = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


class CsrfFailed(JsonableError):
    code = "CSRF_FAILED"
    http_status = 403

    def __init__(self, reason: str) -> None:
        super().__init__(f"CSRF error: {reason}", reason=reason)


class NotFound(JsonableError):
    http_status = 404


class AccessDenied(JsonableError):
    """Insufficient permission for an action (Zulip answers 400 with UNAUTHORIZED_PRINCIPAL)."""

    code = "UNAUTHORIZED_PRINCIPAL"


class ServerNotReady(JsonableError):
    code = "SERVER_NOT_READY"
    http_status = 500
