"""``twistd zulipd``: command-line options and the service tree.

twistd -n zulipd [--config FILE] [--check-config]
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.application import service
from twisted.python import usage

from zulipd.config import ConfigError, load_config


class Options(usage.Options):
    synopsis = "[--config FILE] [--check-config]"
    longdesc = (
        "Run zulipd, a team-chat server that speaks the Zulip API. The configuration "
        "comes from FILE (default: ./zulipd.conf if it exists), and from environment "
        "variables ZULIPD_<SECTION>_<KEY>, which win. See etc/zulipd.conf.example."
    )
    optParameters = [["config", "c", None, "The configuration file (INI)."]]
    optFlags = [["check-config", None, "Validate the configuration, print the result and exit."]]


def makeService(options: Options) -> service.IService:
    from twisted.internet import reactor

    from zulipd.server import Server
    from zulipd.service import ZulipdService

    try:
        config = load_config(options["config"])
    except ConfigError as error:
        # One line, no traceback: this runs before twistd starts logging.
        sys.stderr.write(f"zulipd: {error}\n")
        sys.exit(2)
    if options["check-config"]:
        sys.stdout.write(f"zulipd: the configuration is valid ({config.source or 'defaults only'})\n")
        sys.exit(0)
    reactor_: Any = reactor
    return ZulipdService(Server(config, reactor_))
