"""The REST API's route table. Each module under zulipd.app registers its routes on it."""

from __future__ import annotations

import importlib

from zulipd.app.api import ApiRouter

api = ApiRouter()


ROUTE_MODULES = (
    "server_settings",
    "users",
    "bots",
    "bot_storage",
    "settings",
    "streams",
    "messages",
    "message_edits",
    "reactions",
    "flags",
    "groups",
    "presence",
    "typing",
    "user_topics",
    "user_status",
    "alert_words",
    "linkifiers",
    "events",
)


def load_routes() -> ApiRouter:
    """Import every module that declares routes, and return the full table."""
    for name in ROUTE_MODULES:
        importlib.import_module(f"zulipd.app.{name}")
    return api
