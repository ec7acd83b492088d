"""The engine: settings -> inventory -> rules -> verdicts (with severities and waivers).

Both faces of the plugin (collected items and, later, the fixture) ask this engine; it runs
without pytest.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from ..inventory.core import Inventory

if TYPE_CHECKING:
    import pathspec

    from ..findings import Finding, Severity, Subject
    from ..formats import FormatReader, Limits
    from ..lockfile.hashing import HashCache
    from ..lockfile.lock import Lock
    from ..rules.base import Rule
    from ..settings.config import Settings
    from ..settings.tables import Waiver

Status = Literal["passed", "failed", "warned", "waived"]


class Verdict:
    """One rule's judgement of one subject: what it found, what waivers took out and why, and the
    severity the findings count at. A plain class: a dataclass would generate and compile its
    methods at every start-up, and the engine module is loaded by every configured run."""

    __slots__ = ("findings", "rule", "severity", "subject", "waived", "waiver_notes")

    def __init__(
        self,
        rule: str,
        subject: Subject,
        severity: Severity,
        findings: list[Finding] | None = None,
        waived: list[tuple[Finding, Waiver]] | None = None,
        waiver_notes: list[str] | None = None,
    ) -> None:
        self.rule = rule
        self.subject = subject
        self.severity = severity
        self.findings = findings if findings is not None else []
        self.waived = waived if waived is not None else []
        self.waiver_notes = waiver_notes if waiver_notes is not None else []

    def __repr__(self) -> str:
        return f"Verdict({self.rule!r}, {self.subject.id!r}, {self.status}, {len(self.findings)} findings)"

    @property
    def status(self) -> Status:
        if self.findings:
            return "warned" if self.severity == "warn" else "failed"
        if self.waived:
            return "waived"
        return "passed"


class Engine:
    def __init__(
        self,
        settings: Settings,
        rules: Sequence[Rule],
        readers: Sequence[FormatReader],
        *,
        limits: Limits | None = None,
        today: dt.date | None = None,
        lock: Lock | None = None,
        hash_cache: HashCache | None = None,
        update: bool = False,
        local_files: bool = True,
    ) -> None:
        self.settings = settings
        self.rules = {rule.id: rule for rule in rules}
        self.today = today or dt.date.today()
        self.inventory = Inventory(
            settings,
            readers,
            limits,
            lock=lock,
            hash_cache=hash_cache,
            update=update,
            today=self.today,
            local_files=local_files,
        )

    def active_rules(self) -> list[Rule]:
        return [rule for rule in self.rules.values() if self.settings.severity(rule.id) != "off"]

    def subjects(self) -> list[tuple[Rule, list[Subject]]]:
        """Every (rule, subjects) pair to check, in a stable order (rule order, then subject id)."""
        return [(rule, self.subjects_of(rule)) for rule in self.active_rules()]

    def subjects_of(self, rule: Rule) -> list[Subject]:
        """One rule's subjects, by id (may raise whatever the rule raises)."""
        unique = {subject.id: subject for subject in rule.subjects(self.inventory)}
        return [unique[key] for key in sorted(unique)]

    def evaluate(self, rule_id: str, subject: Subject) -> Verdict:
        rule = self.rules[rule_id]
        verdict = Verdict(rule_id, subject, self.settings.severity(rule_id))
        try:
            findings = list(rule.check(subject, self.inventory))
        except Exception as exc:
            from ..findings import Finding

            findings = [
                Finding(
                    rule_id,
                    subject.id,
                    f"internal error in rule {rule_id}: {type(exc).__name__}: {exc}",
                    "this is a bug in the rule; please report it",
                )
            ]
        applicable = self._applicable_waivers(rule_id, subject, verdict, bool(findings))
        for finding in findings:
            waiver = next((w for w in applicable if w.line is None or w.line == finding.line), None)
            if waiver is None:
                verdict.findings.append(finding)
            else:
                verdict.waived.append((finding, waiver))
        return verdict

    def _applicable_waivers(self, rule_id: str, subject: Subject, verdict: Verdict, needed: bool) -> list[Waiver]:
        applicable = []
        for waiver in self.settings.waivers:
            if waiver.rule != rule_id or not _path_matches(waiver.path, subject.id):
                continue
            if waiver.expires is not None and self.today > waiver.expires:
                if needed:
                    verdict.waiver_notes.append(
                        f"{waiver.describe()} expired on {waiver.expires.isoformat()}; renew it or fix the finding"
                    )
                continue
            if waiver.sha256 is not None:
                try:
                    actual = self.inventory.subject_sha256(subject)
                except OSError as exc:
                    actual = f"unreadable ({exc.strerror or exc})"
                if actual != waiver.sha256:
                    if needed:
                        verdict.waiver_notes.append(
                            f"{waiver.describe()} no longer applies: the file changed "
                            f"(sha256 {actual}, waiver pins {waiver.sha256})"
                        )
                    continue
            applicable.append(waiver)
        return applicable


def _path_matches(pattern: str, subject_id: str) -> bool:
    return _waiver_spec(pattern).match_file(subject_id)


@lru_cache(maxsize=1024)
def _waiver_spec(pattern: str) -> pathspec.GitIgnoreSpec:
    """A waiver's pattern, compiled once (every check of every subject asks each waiver)."""
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines([pattern])
