"""pytest wiring: options, configuration, collection of the checks, reporting. Hooks only; the
work is done by the engine and the modules it uses, imported when the checks are enabled."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import hookspecs

if TYPE_CHECKING:
    from .config import Settings

settings_key = pytest.StashKey["Settings"]()

MARKERS = ("aisupply: a pytest-aisupply supply-chain check (select all of them with -m aisupply)",)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import builtin

    pluginmanager.add_hookspecs(hookspecs)
    pluginmanager.register(builtin, "aisupply-builtin")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("aisupply", "AI/ML supply-chain checks (pytest-aisupply)")
    group.addoption(
        "--aisupply",
        action="store_true",
        dest="aisupply",
        default=False,
        help="collect the supply-chain checks even without a [tool.aisupply] table in pyproject.toml",
    )
    group.addoption(
        "--no-aisupply",
        action="store_true",
        dest="no_aisupply",
        default=False,
        help="do not collect the supply-chain checks (configuration is not read)",
    )
    group.addoption(
        "--aisupply-update",
        action="store_true",
        dest="aisupply_update",
        default=False,
        help="record the current artifacts and pinned Hub references (asking the Hub through HF_ENDPOINT) "
        "into the lockfile, keeping the review date of unchanged entries; writes only the lockfile, prunes "
        "entries only on unfiltered runs; other rules still fail as usual",
    )
    group.addoption(
        "--aisupply-only",
        action="store_true",
        dest="aisupply_only",
        default=False,
        help="run only the supply-chain checks; deselect every other test",
    )


def _pyproject(config: pytest.Config) -> Path:
    inipath = config.inipath
    if inipath is not None and inipath.name == "pyproject.toml":
        return inipath
    return config.rootpath / "pyproject.toml"


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    if config.option.no_aisupply:
        if config.option.aisupply_only:
            raise pytest.UsageError("--aisupply-only and --no-aisupply cannot be used together")
        return
    from .config import has_table

    pyproject = _pyproject(config)
    if not (config.option.aisupply or config.option.aisupply_only or has_table(pyproject)):
        return
    from .checks import ChecksPlugin

    settings = _load_settings(config, pyproject)
    config.stash[settings_key] = settings
    config.pluginmanager.register(ChecksPlugin(config, settings), ChecksPlugin.name)
    if not hasattr(config, "workerinput"):
        from .summary import SummaryReporter

        config.pluginmanager.register(SummaryReporter(config, settings), SummaryReporter.name)


def _load_settings(config: pytest.Config, pyproject: Path) -> Settings:
    from .config import ConfigError, load_settings

    try:
        root = pyproject.parent if pyproject.is_file() else config.rootpath
        return load_settings(pyproject, root)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> Any:
    settings = config.stash.get(settings_key, None)
    if settings is None:
        return None
    from .summary import header_line

    return header_line(config, settings)
