"""Unauthenticated entry points: /server_settings and /fetch_api_key."""

from __future__ import annotations

import hashlib
import html

from zulipd import __version__
from zulipd.app.api import PUBLIC, ApiRequest, Payload
from zulipd.app.routes import api
from zulipd.models import Realm

ZULIP_FEATURE_LEVEL = 372
# Clients read the Zulip version they talk to from the leading "10.2".
ZULIP_VERSION = f"10.2+zulipd-{__version__}"

AUTHENTICATION_METHODS = {
    "password": True,
    "dev": False,
    "email": True,
    "ldap": False,
    "remoteuser": False,
    "github": False,
    "azuread": False,
    "gitlab": False,
    "apple": False,
    "google": False,
    "saml": False,
    "openid connect": False,
}


# Shared with the register state of the realm type (app/realm_state.py), so that the two agree.
PUSH_NOTIFICATIONS_ENABLED = False
EMAIL_AUTH_ENABLED = True


def realm_icon_url(realm: Realm) -> str:
    """The organization's icon: a Gravatar identicon of its subdomain (icons cannot be uploaded)."""
    digest = hashlib.md5(realm.string_id.encode(), usedforsecurity=False).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}?d=identicon"


@api.get("server_settings", access=PUBLIC, api_only=True)
async def get_server_settings(ctx: ApiRequest) -> Payload:
    payload: Payload = {
        "authentication_methods": AUTHENTICATION_METHODS,
        "external_authentication_methods": [],
        "zulip_feature_level": ZULIP_FEATURE_LEVEL,
        "zulip_version": ZULIP_VERSION,
        "zulip_merge_base": ZULIP_VERSION,
        "push_notifications_enabled": PUSH_NOTIFICATIONS_ENABLED,
        "is_incompatible": False,
        "email_auth_enabled": EMAIL_AUTH_ENABLED,
        "require_email_format_usernames": True,
    }
    realm = ctx.realm
    if realm is not None:
        url = ctx.server.realms.url_for(realm, ctx.request.isSecure())
        payload.update(
            {
                "realm_uri": url,
                "realm_url": url,
                "realm_name": realm.name,
                "realm_icon": realm_icon_url(realm),
                "realm_description": f"<p>{html.escape(realm.description)}</p>" if realm.description else "",
                "realm_web_public_access_enabled": False,
            }
        )
    return payload


@api.post("fetch_api_key", access=PUBLIC, api_only=True)
async def fetch_api_key(ctx: ApiRequest, *, username: str, password: str) -> Payload:
    user = await ctx.server.authenticator.check_login(ctx.realm, username, password)
    return {"api_key": user.api_key, "email": user.email, "user_id": user.id}
