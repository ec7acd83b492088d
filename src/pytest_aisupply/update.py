"""``--aisupply-update``: the controller gathers what the integrity checks recorded (carried on
the test reports, so it works under xdist) and writes the lockfile once, atomically."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from .config import Settings
from .items import CheckItem, selection_is_narrowed
from .lockfile import ArtifactEntry, HubEntry, Lock, LockDiff, entry_from_json, merge, write_lock


class LockUpdater:
    name = "aisupply-update"

    def __init__(self, config: pytest.Config, settings: Settings, lock: Lock) -> None:
        self.config = config
        self.path = settings.root / settings.lockfile
        self.lock = lock
        self.recorded: dict[str, ArtifactEntry | HubEntry] = {}
        self.integrity_items = 0
        self.deselected_integrity = False
        self.diff: LockDiff | None = None
        self.written = False
        #: Rule ``signature``: the verified signer of each Hub commit, added to its entry.
        self.signers: dict[tuple[str, str, str], str] = {}

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        if any(isinstance(item, CheckItem) and item.rule_id == "integrity" for item in items):
            self.deselected_integrity = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data: dict[str, Any] | None = getattr(report, "aisupply", None)
        if data and report.when == "call" and data.get("rule") == "signature":
            for value in (data.get("recorded") or {}).values():
                signed = entry_from_json(value)
                if isinstance(signed, HubEntry) and signed.signer is not None:
                    self.signers[signed.key] = signed.signer
            return
        if not data or report.when != "call" or data.get("rule") != "integrity":
            return
        self.integrity_items += 1
        for key, value in (data.get("recorded") or {}).items():
            self.recorded[key] = entry_from_json(value)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        artifacts = [e for e in self.recorded.values() if isinstance(e, ArtifactEntry)]
        hub = [e for e in self.recorded.values() if isinstance(e, HubEntry)]
        hub = [replace(e, signer=self.signers.get(e.key)) for e in hub]
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
            seen_hub_keys={e.key for e in hub},
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
