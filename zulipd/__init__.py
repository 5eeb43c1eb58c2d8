"""zulipd: a team-chat server that speaks the Zulip API, on Twisted."""

__version__ = "0.1.0"
