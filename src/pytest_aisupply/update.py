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


def hub_key(subject_id: str) -> tuple[str, str, str]:
    """``model:org/name@<sha>`` (the integrity rule's subject id) -> the lock's key."""
    repo_type, _, rest = subject_id.partition(":")
    repo_id, _, revision = rest.rpartition("@")
    return repo_type, repo_id, revision


class LockUpdater:
    name = "aisupply-update"

    def __init__(self, config: pytest.Config, settings: Settings, lock: Lock, invalid: str | None = None) -> None:
        self.config = config
        self.path = settings.root / settings.lockfile
        self.lock = lock
        #: why the lockfile on disk could not be read; it is set aside before the new one is written
        self.invalid = invalid
        self.kept_as: Path | None = None
        self.not_repaired = False
        self.recorded: dict[str, ArtifactEntry | HubEntry] = {}
        #: every Hub reference checked this run, recorded or not: the ones that must not be pruned
        self.hub_subjects: set[tuple[str, str, str]] = set()
        self.integrity_items = 0
        self.deselected_integrity = False
        self.diff: LockDiff | None = None
        self.written = False
        #: Rule ``signature``: the verified signer of each Hub commit, added to its entry.
        self.signers: dict[tuple[str, str, str], str] = {}
        #: code files whose Hub references could not be read (syntax error, unreadable)
        self.unread_code: list[str] = []

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
        if data.get("kind") == "code":
            # a code file whose references could not be read: no [[hub]] entry may be pruned this run
            self.unread_code.append(str(data.get("subject", "")))
            return
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
        hub = [replace(e, signer=self._signer(e)) for e in hub]
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
            prune_hub=unfiltered and not self.unread_code,
            seen_hub_keys=self.hub_subjects | {e.key for e in hub},
        )
        if self.invalid is not None:
            if not unfiltered or session.exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
                # a narrowed or interrupted run records too little to replace even an invalid lockfile
                self.not_repaired = True
                return
            self.kept_as = self.path.with_name(self.path.name + ".invalid")
            self.path.replace(self.kept_as)
        self.written = write_lock(self.path, new_lock)
        if self.written:
            from .reporting import new_file_mode

            # write_lock's temporary file is created 0600; a committed lockfile is 0644 under umask 022
            self.path.chmod(new_file_mode())

    def _signer(self, entry: HubEntry) -> str | None:
        """The signer this run verified, else the reviewed one: a run whose signature check was off,
        deselected or failed never removes a recorded signer."""
        if entry.key in self.signers:
            return self.signers[entry.key]
        previous = self.lock.hub.get(entry.key)
        return previous.signer if previous is not None else None

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("aisupply lockfile")
        if self.not_repaired:
            terminalreporter.write_line(
                f"{self.path.name} is invalid ({self.invalid}); not replaced: repair it with an unfiltered, "
                "complete run of pytest --aisupply-update (no -k, -m, node ids, -x)",
                red=True,
            )
            return
        if self.diff is None:
            return
        shown = Path(self.path.name)
        if self.kept_as is not None:
            terminalreporter.write_line(
                f"{shown} was invalid ({self.invalid}); kept it as {self.kept_as.name} and recorded the "
                "lockfile anew: review every entry",
                yellow=True,
            )
        lines = self.diff.lines()
        if self.unread_code:
            terminalreporter.write_line(
                f"{shown}: no [[hub]] entry pruned: the Hub references of {', '.join(sorted(self.unread_code))} "
                "could not be read",
                yellow=True,
            )
        if not self.written:
            terminalreporter.write_line(f"{shown}: unchanged ({len(self.recorded)} entries checked)")
            return
        terminalreporter.write_line(f"{shown}: written; review the diff before committing it")
        for line in lines or ["(only formatting or new file)"]:
            terminalreporter.write_line(f"  {line}")
