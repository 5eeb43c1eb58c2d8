# The twistd drop-in: `twistd -n zulipd`. Keep it light: twistd imports every
# plugin module to list them, and an import error here would silently hide
# zulipd from that list. The real work is in zulipd.tap, imported on use.
from twisted.application.service import ServiceMaker

zulipd = ServiceMaker(
    "zulipd",
    "zulipd.tap",
    "A team-chat server that speaks the Zulip API",
    "zulipd",
)
