"""pytest side of the run-time guards: which guards a test gets, and its failure message.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .lockfile import Lock

GUARD_MARKERS = {
    "aisupply_no_pickle": "no_pickle",
    "aisupply_pinned": "pinned",
    "aisupply_verified": "verified",
}
INI_NAMES = {"no-pickle": "no_pickle", "pinned": "pinned", "verified": "verified"}


def check_runtime_ini(config: pytest.Config) -> None:
    """A typo in ``aisupply_runtime`` stops the session at start-up, like a [tool.aisupply] error."""
    for value in config.getini("aisupply_runtime"):
        if value not in INI_NAMES:
            raise pytest.UsageError(
                f"ini option aisupply_runtime: unknown guard {value!r}; use {', '.join(sorted(INI_NAMES))}"
            )


def wanted_guards(item: pytest.Item) -> set[str]:
    names = {attribute for marker, attribute in GUARD_MARKERS.items() if item.get_closest_marker(marker)}
    names.update(INI_NAMES[value] for value in item.config.getini("aisupply_runtime") if value in INI_NAMES)
    return names


def run_guarded(
    item: pytest.Item, guards: set[str], context: tuple[Lock | None, tuple[Path, ...], Path]
) -> Generator[None, Any, Any]:
    """Run the test under ``guards``; ``context`` (lockfile, artifact roots, project root) comes from
    the plugin, which owns the session's settings, so that nothing here imports the plugin back."""
    from . import runtime

    lock, roots, root = context
    state = runtime.GuardState(
        no_pickle="no_pickle" in guards,
        pinned="pinned" in guards,
        verified="verified" in guards,
        lock=lock,
        artifact_roots=roots,
        project_root=root,
        caller_files=(Path(item.path).resolve(),),
    )
    runtime.activate(state)
    raised: BaseException | None = None
    result = None
    try:
        result = yield
    except BaseException as exc:
        raised = exc
    finished = runtime.deactivate()
    if finished is not None and finished.violations:
        # Outside the except clause, so the failure does not drag the refused operation's
        # exception (and the library frames under it) along as "during handling ..." noise.
        raised = None
        _fail(finished.violations)
    if raised is not None:
        raise raised
    return result


def _fail(violations: list[str]) -> None:
    __tracebackhide__ = True
    lines = [f"[aisupply] run-time guard refused {len(violations)} operation{'s' if len(violations) != 1 else ''}:"]
    lines.extend(f"  - {violation}" for violation in violations)
    pytest.fail("\n".join(lines), pytrace=False)


def artifact_roots(root: Path, entries: tuple[str, ...]) -> tuple[Path, ...]:
    return tuple(Path((root / entry).resolve()) for entry in entries if not any(c in entry for c in "*?["))
