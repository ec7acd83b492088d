"""``--aisupply-update``: the controller gathers what the integrity checks recorded (carried on
the test reports, so it works under xdist) and writes the lockfile once, atomically.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..lockfile.lock import ArtifactEntry, HubEntry, Lock, LockDiff, entry_from_json, merge, write_lock
from ..settings.config import Settings
from .items import CheckGroupItem, CheckItem, selection_is_narrowed

if TYPE_CHECKING:
    from ..verdicts.engine import Verdict


def hub_key(subject_id: str) -> tuple[str, str, str]:
    """``model:org/name@<sha>`` (the integrity rule's subject id) -> the lock's key."""
    repo_type, _, rest = subject_id.partition(":")
    repo_id, _, revision = rest.rpartition("@")
    return repo_type, repo_id, revision


class LockUpdater:
    name = "aisupply-update"

    def __init__(self, config: pytest.Config, settings: Settings, lock: Lock, invalid: str | None = None) -> None:
        self.config = config
        self.settings = settings
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
        #: Rule ``signature``: the Hub repositories a ``[[tool.aisupply.signed]]`` entry names; a recorded
        #: signer of any other is dropped by a complete update.
        self.signed_repos = {spec.hub for spec in settings.signed if spec.hub is not None}
        self.complete = False
        #: (rule, subject id) of every check this run reported: the ones it judged itself
        self.judged: set[tuple[str, str]] = set()
        #: verdicts on what this update recorded that no check of this run could judge yet
        self.recorded_failures: list[Verdict] = []
        #: code files whose Hub references could not be read (syntax error, unreadable)
        self.unread_code: list[str] = []

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        if any(isinstance(item, (CheckItem, CheckGroupItem)) and item.rule_id == "integrity" for item in items):
            self.deselected_integrity = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data: dict[str, Any] | None = getattr(report, "aisupply", None)
        if data and report.when == "call" and "members" in data:
            # a check of a whole folder (granularity, issue 18): its subjects one by one
            for record in data["members"]:
                self._record(report.when, record)
            return
        self._record(report.when, data)

    def _record(self, when: str, data: dict[str, Any] | None) -> None:
        if data and when == "call":
            self.judged.add((str(data.get("rule")), str(data.get("subject"))))
        if data and when == "call" and data.get("rule") == "signature":
            for value in (data.get("recorded") or {}).values():
                signed = entry_from_json(value)
                if isinstance(signed, HubEntry) and signed.signer is not None:
                    self.signers[signed.key] = signed.signer
            return
        if not data or when != "call" or data.get("rule") != "integrity":
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
        unfiltered = (
            not self.deselected_integrity
            and not selection_is_narrowed(self.config, session)
            and self.integrity_items > 0
        )
        self.complete = unfiltered and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
        hub = [replace(e, signer=self._signer(e)) for e in hub]
        # an update narrowed to the signature checks (-k signature) records a newly verified signer on
        # the commit's reviewed entry (the commit is immutable: its files are the ones verified)
        fresh = {e.key for e in hub}
        hub += [
            replace(self.lock.hub[key], signer=signer)
            for key, signer in sorted(self.signers.items())
            if key not in fresh and key in self.lock.hub and self.lock.hub[key].signer != signer
        ]
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
            from .report_writer import new_file_mode

            # write_lock's temporary file is created 0600; a committed lockfile is 0644 under umask 022
            self.path.chmod(new_file_mode())
        if self.written and unfiltered:
            self._judge_recorded(session, new_lock)

    def _judge_recorded(self, session: pytest.Session, new_lock: Lock) -> None:
        """Judge what this update recorded and no check of this run could see.

        Checks of Hub entries (``license``, and the artifact rules on ``hf://`` files) judge the
        lockfile as it was when the run started, so a reference recorded for the first time had no
        check: the run would pass and the next one fail on the same entry. The recorded entries are
        judged here, from the new lockfile, with the same rules, severities and waivers."""
        from ..verdicts.engine import Engine
        from .keys import engine_key

        engine = self.config.stash.get(engine_key, None)
        if engine is None:
            return
        fresh = Engine(
            self.settings,
            list(engine.rules.values()),
            engine.inventory.readers,
            limits=engine.inventory.limits,
            lock=new_lock,
            today=engine.today,
            local_files=False,  # the local files had their checks this run: not walked or read again
        )
        for rule in fresh.active_rules():
            try:
                subjects = fresh.subjects_of(rule)
            except Exception:  # the run's own check of this rule reported whatever it raises
                continue
            for subject in subjects:
                if not (subject.kind == "hub" or subject.id.startswith("hf://")):
                    continue
                if (rule.id, subject.id) in self.judged:
                    continue
                verdict = fresh.evaluate(rule.id, subject)
                if verdict.status == "failed":
                    self.recorded_failures.append(verdict)
        if self.recorded_failures and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _signer(self, entry: HubEntry) -> str | None:
        """The signer this run verified, else the reviewed one: a run whose signature check was off,
        deselected or failed never removes a recorded signer; only a complete, unfiltered run drops
        the signer of a repository that no ``[[tool.aisupply.signed]]`` entry names any more."""
        if entry.key in self.signers:
            return self.signers[entry.key]
        if self.complete and entry.key[0] == "model" and entry.key[1] not in self.signed_repos:
            return None  # no [[tool.aisupply.signed]] entry asks for it any more: a complete run drops it
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
        if self.recorded_failures:
            terminalreporter.write_line(
                f"{len(self.recorded_failures)} check(s) of what this update recorded fail "
                "(they run as checks from the next run on):",
                red=True,
            )
            from ..verdicts.render import render_verdict

            for verdict in self.recorded_failures:
                terminalreporter.write_line(f"  aisupply::{verdict.rule}::{verdict.subject.id}", red=True)
                for line in render_verdict(verdict).splitlines()[1:]:
                    terminalreporter.write_line(f"  {line}")
