"""pytest wiring: options, configuration, collection of the checks, reporting. Hooks only; the
work is done by the engine and the modules it uses, imported when the checks are enabled.

The hooks live here rather than in ``plugin`` (the entry-point module, which re-exports them):
pytest compiles the entry-point module through its assertion rewriter (parse to an AST, then
compile), this one is loaded as plain Python.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import hookspecs

if TYPE_CHECKING:
    from .fixture.aisupply import Aisupply
    from .lockfile.lock import Lock
    from .settings.config import Settings

settings_key = pytest.StashKey["Settings"]()
fixture_base_key = pytest.StashKey["tuple[Settings, Lock | None]"]()

#: Registered in every run, also with the checks off or ``--no-aisupply``, so that
#: ``--strict-markers`` accepts them wherever the project's tests use them.
MARKERS = (
    "aisupply: a collected pytest-aisupply supply-chain check (select exactly the checks with -m aisupply)",
    "aisupply_policy(**overrides): per-test [tool.aisupply] policy for the aisupply fixture, e.g. "
    "allowed_licenses=[...], pickle='scan'",
    "aisupply_no_pickle: fail the test when its code unpickles anything that imports a global",
    "aisupply_pinned: fail the test when its code asks the Hub for an unpinned revision or an unlocked repo",
    "aisupply_verified: fail the test when its code opens a cached Hub file or artifact that differs from the lockfile",
)
POLICY_MARKER = "aisupply_policy"


class AisupplyDeprecationWarning(pytest.PytestDeprecationWarning):
    """A pytest-aisupply spelling that still works but is going away."""


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
        "--aisupply-sarif",
        dest="aisupply_sarif",
        metavar="PATH",
        default=None,
        help="write the checks' findings as SARIF 2.1.0 (for code-scanning dashboards) to PATH",
    )
    group.addoption(
        "--aisupply-bom",
        dest="aisupply_bom",
        metavar="PATH",
        default=None,
        help="write a CycloneDX 1.6 ML-BOM of every model, dataset and artifact found to PATH",
    )
    group.addoption(
        "--aisupply-bom-check",
        dest="aisupply_bom_check",
        metavar="PATH",
        default=None,
        help="fail when the committed CycloneDX BOM at PATH no longer matches what this run found",
    )
    group.addoption(
        "--aisupply-offline",
        action="store_true",
        dest="aisupply_offline",
        default=False,
        help="put huggingface_hub, transformers and datasets in offline mode before any test module is "
        "imported, so the suite cannot reach the Hub",
    )
    parser.addini(
        "aisupply_runtime",
        type="args",
        default=[],
        help="run-time guards for every test: no-pickle, pinned, verified",
    )
    group.addoption(
        "--aisupply-only",
        action="store_true",
        dest="aisupply_only",
        default=False,
        help="run only the supply-chain checks: no test module and no conftest below the rootdir is "
        "imported, so the project's test dependencies need not be installed",
    )
    group.addoption(
        "--aisupply-granularity",
        dest="aisupply_granularity",
        choices=("file", "folder", "rule"),
        default=None,
        help="how many subjects one collected check covers: one item per file (default), per folder, or per "
        "rule; overrides [tool.aisupply] granularity. Failures still name every file; the lockfile, SARIF "
        "and the BOM stay per file",
    )
    group.addoption(  # written by selection.rewrite_arguments for check ids given as arguments
        "--aisupply-select",
        action="append",
        dest="aisupply_select",
        default=[],
        help=argparse.SUPPRESS,
    )


def _pyproject(config: pytest.Config) -> Path:
    inipath = config.inipath
    if inipath is not None and inipath.name == "pyproject.toml":
        return inipath
    return config.rootpath / "pyproject.toml"


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    namespace = early_config.known_args_namespace
    if namespace.aisupply_offline:
        from .hub.offline import go_offline

        go_offline()
    positional = [str(value) for value in namespace.file_or_dir]
    if namespace.no_aisupply or not (namespace.aisupply_only or any("aisupply" in value for value in positional)):
        return
    from .checks.selection import CheckIdError, check_id_of, rewrite_arguments

    rootpath, invocation_dir = early_config.rootpath, early_config.invocation_params.dir
    try:
        if not (namespace.aisupply or namespace.aisupply_only or has_table(_pyproject(early_config))):
            for value in positional:  # still explain a check id copied from another project's run
                check_id_of(value, rootpath, invocation_dir)
            return
        namespace.file_or_dir = rewrite_arguments(
            args,
            positional,
            only_checks=namespace.aisupply_only,
            anchor=anchor_file(early_config),
            rootpath=rootpath,
            invocation_dir=invocation_dir,
        )
    except CheckIdError as exc:
        raise pytest.UsageError(str(exc)) from None


def has_table(pyproject: Path) -> bool:
    """True when the file exists and has a ``[tool.aisupply]`` table (invalid TOML counts as True
    when the table header is present, so the syntax error is reported rather than ignored).

    Here rather than in ``config``: a project without the table decides this without loading the
    configuration parser."""
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if "aisupply" not in text:
        return False
    import re

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return bool(re.search(r"^\s*\[+\s*tool\.aisupply\b", text, re.M))
    return isinstance(data.get("tool"), dict) and "aisupply" in data["tool"]


def anchor_file(config: pytest.Config) -> Path | None:
    """The file collected in place of the test paths when only checks run (it holds no tests)."""
    pyproject = _pyproject(config)
    if pyproject.is_file():
        return pyproject
    return config.inipath


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    if config.getini("aisupply_runtime"):
        from .fixture.guard_markers import check_runtime_ini

        check_runtime_ini(config)
    if config.option.aisupply_offline:
        from .hub.offline import go_offline

        go_offline()
    if config.option.no_aisupply:
        if config.option.aisupply_only:
            raise pytest.UsageError("--aisupply-only and --no-aisupply cannot be used together")
        return
    pyproject = _pyproject(config)
    if not (config.option.aisupply or config.option.aisupply_only or has_table(pyproject)):
        return
    from .checks.collection import ChecksPlugin

    settings = _load_settings(config, pyproject)
    config.stash[settings_key] = settings
    config.pluginmanager.register(ChecksPlugin(config, settings, anchor_file(config)), ChecksPlugin.name)
    if not hasattr(config, "workerinput"):
        from .checks.summary import SummaryReporter

        config.pluginmanager.register(SummaryReporter(config, settings), SummaryReporter.name)
        option = config.option
        if option.aisupply_sarif or option.aisupply_bom or option.aisupply_bom_check:
            from .checks.report_writer import ReportWriter

            config.pluginmanager.register(ReportWriter(config, settings), ReportWriter.name)


def _load_settings(config: pytest.Config, pyproject: Path) -> Settings:
    from .settings.config import ConfigError, load_settings

    try:
        root = pyproject.parent if pyproject.is_file() else config.rootpath
        settings = load_settings(pyproject, root)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    granularity = config.option.aisupply_granularity
    if granularity is not None and granularity != settings.granularity:
        from dataclasses import replace

        settings = replace(settings, granularity=granularity)
    return settings


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.aisupply(**overrides)`` is the old spelling of ``aisupply_policy``: rename
    it (with a deprecation warning) before ``-m`` selects, so ``-m aisupply`` means the checks."""
    seen: set[int] = set()
    for item in items:
        for node in item.listchain():
            if id(node) in seen:
                continue
            seen.add(id(node))
            if not any(_is_old_policy(mark) for mark in node.own_markers):
                continue
            node.own_markers[:] = [
                pytest.mark.aisupply_policy.with_args(*mark.args, **mark.kwargs).mark if _is_old_policy(mark) else mark
                for mark in node.own_markers
            ]
            node.warn(
                AisupplyDeprecationWarning(
                    "@pytest.mark.aisupply(...) with policy overrides is deprecated: rename it to "
                    "@pytest.mark.aisupply_policy(...); -m aisupply selects only the collected checks"
                )
            )


def _is_old_policy(mark: Any) -> bool:
    return bool(mark.name == "aisupply" and mark.kwargs)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    if getattr(item, "aisupply_check", False):  # our own checks: nothing to guard, markers not read
        return (yield)
    from .fixture.guard_markers import wanted_guards

    guards = wanted_guards(item)
    if not guards:
        return (yield)
    from .fixture.guard_markers import run_guarded

    return (yield from run_guarded(item, guards, guard_context(item.config)))


@pytest.fixture
def aisupply(request: pytest.FixtureRequest) -> Aisupply:
    """Scan paths, list Hub references and assert supply-chain rules; honours
    ``@pytest.mark.aisupply_policy(**overrides)``."""
    from .fixture.aisupply import Aisupply, apply_overrides

    settings, lock = _fixture_base(request.config)
    marker = request.node.get_closest_marker(POLICY_MARKER)
    if marker is not None and marker.kwargs:
        settings = apply_overrides(settings, marker.kwargs, request.node.nodeid)
    return Aisupply(settings, lock)


def _fixture_base(config: pytest.Config) -> tuple[Settings, Lock | None]:
    cached = config.stash.get(fixture_base_key, None)
    if cached is None:
        from .lockfile.lock import LockError, read_lock

        settings = config.stash.get(settings_key, None)
        if settings is None:
            pyproject = _pyproject(config)
            settings = _load_settings(config, pyproject)
        lock = None
        if settings.lockfile:
            try:
                lock = read_lock(settings.root / settings.lockfile)
            except LockError as exc:
                raise pytest.UsageError(str(exc)) from None
        cached = config.stash[fixture_base_key] = (settings, lock)
    return cached


def guard_context(config: pytest.Config) -> tuple[Lock | None, tuple[Path, ...], Path]:
    """Lockfile and artifact roots for the run-time guards."""
    from .fixture.guard_markers import artifact_roots

    settings, lock = _fixture_base(config)
    return lock, artifact_roots(settings.root, settings.artifacts), settings.root


def pytest_report_header(config: pytest.Config) -> Any:
    settings = config.stash.get(settings_key, None)
    if settings is None:
        return None
    from .checks.summary import header_line

    return header_line(config, settings)
