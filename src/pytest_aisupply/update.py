"""``--aisupply-update``: the controller gathers what the integrity checks recorded (carried on
the test reports, so it works under xdist) and writes the lockfile once, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .config import Settings
from .items import CheckItem, selection_is_narrowed
from .lockfile import ArtifactEntry, HubEntry, Lock, LockDiff, entry_from_json, merge, write_lock


def hub_key(subject_id: str) -> tuple[str, str, str]:
    """``model:org/name@<sha>`` (the integrity rule's subject id) -> the lock's key."""
    repo_type, _, rest = subject_id.partition(":")
    repo_id, _, revision = rest.rpartition("@")
    return repo_type, repo_id, revision


class LockUpdater:
    name = "aisupply-update"

    def __init__(self, config: pytest.Config, settings: Settings, lock: Lock) -> None:
        self.config = config
        self.path = settings.root / settings.lockfile
        self.lock = lock
        self.recorded: dict[str, ArtifactEntry | HubEntry] = {}
        #: every Hub reference checked this run, recorded or not: the ones that must not be pruned
        self.hub_subjects: set[tuple[str, str, str]] = set()
        self.integrity_items = 0
        self.deselected_integrity = False
        self.diff: LockDiff | None = None
        self.written = False

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        if any(isinstance(item, CheckItem) and item.rule_id == "integrity" for item in items):
            self.deselected_integrity = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data: dict[str, Any] | None = getattr(report, "aisupply", None)
        if not data or report.when != "call" or data.get("rule") != "integrity":
            return
        self.integrity_items += 1
        if data.get("kind") == "hub":
            # whatever the item's outcome (a Hub fault, an internal error): the reference is still
            # in the code, so its reviewed entry stays; only a fresh recording may replace it
            self.hub_subjects.add(hub_key(str(data.get("subject", ""))))
        for key, value in (data.get("recorded") or {}).items():
            self.recorded[key] = entry_from_json(value)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        artifacts = [e for e in self.recorded.values() if isinstance(e, ArtifactEntry)]
        hub = [e for e in self.recorded.values() if isinstance(e, HubEntry)]
        unfiltered = (
            not self.deselected_integrity
            and not selection_is_narrowed(self.config, session)
            and self.integrity_items > 0
        )
        new_lock, self.diff = merge(
            self.lock,
            artifacts,
            hub,
            prune_artifacts={e.path for e in artifacts} if unfiltered else None,
            prune_hub=unfiltered,
            seen_hub_keys=self.hub_subjects | {e.key for e in hub},
        )
        self.written = write_lock(self.path, new_lock)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("aisupply lockfile")
        if self.diff is None:
            return
        shown = Path(self.path.name)
        lines = self.diff.lines()
        if not self.written:
            terminalreporter.write_line(f"{shown}: unchanged ({len(self.recorded)} entries checked)")
            return
        terminalreporter.write_line(f"{shown}: written; review the diff before committing it")
        for line in lines or ["(only formatting or new file)"]:
            terminalreporter.write_line(f"  {line}")
