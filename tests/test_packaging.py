"""Packaging: ``twistd --help`` lists zulipd after a normal and after an editable install.

Each test makes a fresh virtualenv from the base interpreter (not .venv), installs
the pinned Twisted into it, then installs the project without dependencies from a
copy of the working tree: the build writes into the copy, never into the
developer's tree, and an editable install points at the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
CONSTRAINTS = REPOSITORY / "constraints.txt"
# Bounds against a hung install; installs take seconds.
INSTALL_TIMEOUT = 900.0
COMMAND_TIMEOUT = 120.0


class Install:
    """A fresh virtualenv in a temporary directory, with a copy of the project beside it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.source = root / "src"
        self.venv = root / "venv"
        # Commands run from here, so that nothing is importable from the working directory.
        self.empty = root / "empty"
        self.empty.mkdir()

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    @property
    def twistd(self) -> str:
        return str(self.venv / "bin" / "twistd")

    def run(self, command: list[str], timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, cwd=self.empty, env=clean_environment(), capture_output=True, text=True, timeout=timeout
        )

    def check(self, command: list[str], timeout: float = COMMAND_TIMEOUT) -> str:
        result = self.run(command, timeout)
        assert result.returncode == 0, (
            f"{' '.join(command)} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
        return result.stdout

    def site_packages(self) -> Path:
        code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        return Path(self.check([self.python, "-I", "-c", code]).strip())

    def prepare(self, editable: bool) -> None:
        copy_working_tree(REPOSITORY, self.source)
        self.check([base_interpreter(), "-m", "venv", str(self.venv)])
        self.check([self.python, "-m", "pip", "install", "-c", str(CONSTRAINTS), "Twisted"], INSTALL_TIMEOUT)
        install = [self.python, "-m", "pip", "install", "--no-deps"]
        install += ["-e", str(self.source)] if editable else [str(self.source)]
        self.check(install, INSTALL_TIMEOUT)


@pytest.fixture
def install() -> Iterator[Install]:
    root = Path(tempfile.mkdtemp(prefix="zulipd-packaging-"))
    try:
        yield Install(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def clean_environment() -> dict[str, str]:
    """This environment without anything that would point Python at .venv or the working tree."""
    dropped = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV"}
    return {name: value for name, value in os.environ.items() if name not in dropped}


def base_interpreter() -> str:
    """The interpreter .venv was made from, so that the new venv shares none of .venv's packages."""
    base = getattr(sys, "_base_executable", "") or shutil.which("python3") or ""
    if not base or not os.access(base, os.X_OK):
        pytest.skip("cannot find the base Python interpreter to make a fresh virtualenv")
    return str(base)


def copy_working_tree(repository: Path, target: Path) -> None:
    """Copy the files git knows or would add (tracked, plus untracked but not ignored)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed, so the working tree cannot be copied as git sees it")
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repository,
        capture_output=True,
        check=True,
        timeout=COMMAND_TIMEOUT,
    ).stdout
    copied = 0
    for name in sorted({entry for entry in listing.decode().split("\0") if entry}):
        source = repository / name
        if not source.is_file() and not source.is_symlink():
            continue  # deleted in the working tree
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination, follow_symlinks=False)
        copied += 1
    assert (target / "setup.cfg").is_file(), f"copied {copied} files, but no setup.cfg"


def twistd_commands(help_text: str) -> list[str]:
    """The plugin names in ``twistd --help``'s "Commands:" list."""
    lines = help_text.splitlines()
    assert "Commands:" in lines, help_text
    commands = []
    for line in lines[lines.index("Commands:") + 1 :]:
        # A command starts a line indented by 4 spaces; its wrapped description is indented further.
        if line.startswith("    ") and not line.startswith("     "):
            commands.append(line.split()[0])
    return commands


def assert_twistd_runs_zulipd(install: Install, site_packages: Path) -> None:
    commands = twistd_commands(install.check([install.twistd, "--help"]))
    assert "zulipd" in commands, commands
    # The plugin resolves to zulipd.tap: its own options are there.
    assert "--check-config" in install.check([install.twistd, "zulipd", "--help"])
    assert (site_packages / "twisted" / "plugins" / "zulipd_plugin.py").is_file()


def assert_plugins_only_under_zulipd(install: Install) -> None:
    install.check([install.python, "-I", "-c", "import zulipd.plugins"])
    top_level = install.run([install.python, "-I", "-c", "import plugins"])
    assert top_level.returncode != 0, "plugins/ must not be importable as a top-level package"
    assert "No module named 'plugins'" in top_level.stderr, top_level.stderr


def imported_from(install: Install, module: str) -> Path:
    code = f"import {module}; print({module}.__file__)"
    return Path(install.check([install.python, "-I", "-c", code]).strip()).resolve()


@pytest.mark.e2e
def test_normal_install_lists_zulipd_in_twistd(install: Install) -> None:
    install.prepare(editable=False)
    site_packages = install.site_packages()
    assert_twistd_runs_zulipd(install, site_packages)
    assert_plugins_only_under_zulipd(install)
    # A copy in site-packages, with plugins/ installed as zulipd/plugins.
    assert imported_from(install, "zulipd").is_relative_to(site_packages.resolve())
    assert imported_from(install, "zulipd.plugins") == (site_packages / "zulipd" / "plugins" / "__init__.py").resolve()
    assert not (site_packages / "plugins").exists()
    for schema_file in (install.source / "zulipd" / "storage" / "schema").glob("*.sql"):
        assert (site_packages / "zulipd" / "storage" / "schema" / schema_file.name).is_file(), schema_file.name


@pytest.mark.e2e
def test_editable_install_lists_zulipd_in_twistd(install: Install) -> None:
    install.prepare(editable=True)
    site_packages = install.site_packages()
    assert_twistd_runs_zulipd(install, site_packages)
    assert_plugins_only_under_zulipd(install)
    # Editable: served live from the copy, plugins/ still under the zulipd name.
    assert imported_from(install, "zulipd") == (install.source / "zulipd" / "__init__.py").resolve()
    assert imported_from(install, "zulipd.plugins") == (install.source / "plugins" / "__init__.py").resolve()
