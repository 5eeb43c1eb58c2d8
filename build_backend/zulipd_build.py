"""The build backend: setuptools, plus one fix for editable installs.

twistd finds its plugins by scanning every ``twisted/plugins`` directory on
``sys.path``. A normal install copies ``twisted/plugins/zulipd_plugin.py`` into
site-packages, so twistd lists ``zulipd``. A default editable install of this
flat layout does not: setuptools maps our packages through an import hook and
never puts the project root on ``sys.path``, so twistd silently misses the
plugin. Putting the root on ``sys.path`` (``editable_mode=compat``) would also
expose ``plugins``, ``tests`` and ``bench`` as top-level packages.

So the editable wheel gets the plugin file itself, exactly where a normal
install puts it. The file only names ``zulipd.tap``, which the editable import
hook serves live from the source tree.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import zipfile

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401  (re-exported hooks)
    build_sdist,
    build_wheel,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

PLUGIN_PATH = "twisted/plugins/zulipd_plugin.py"


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, str | list[str] | None] | None = None,
    metadata_directory: str | None = None,
) -> str:
    name = _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
    project_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(project_root, PLUGIN_PATH), "rb") as plugin:
        _add_file_to_wheel(os.path.join(wheel_directory, name), PLUGIN_PATH, plugin.read())
    return name


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def _add_file_to_wheel(wheel_path: str, arcname: str, data: bytes) -> None:
    """Rewrite the wheel with one more file, keeping its RECORD exact."""
    with zipfile.ZipFile(wheel_path) as wheel:
        entries = [(info, wheel.read(info)) for info in wheel.infolist()]
    record_name = next(info.filename for info, _ in entries if info.filename.endswith(".dist-info/RECORD"))
    rows: list[list[str]] = []
    with zipfile.ZipFile(wheel_path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for info, content in entries:
            if info.filename == record_name:
                continue
            wheel.writestr(info, content)
            rows.append([info.filename, _record_hash(content), str(len(content))])
        wheel.writestr(arcname, data)
        rows.append([arcname, _record_hash(data), str(len(data))])
        rows.append([record_name, "", ""])
        record = io.StringIO()
        csv.writer(record, lineterminator="\n").writerows(rows)
        wheel.writestr(record_name, record.getvalue())
