"""zulipd-admin: the operator's command-line tool."""
