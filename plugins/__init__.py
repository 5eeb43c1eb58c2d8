"""Incoming-webhook integrations, one module each, loaded by name.

Installed as ``zulipd.plugins``; never as a top-level package.
"""
