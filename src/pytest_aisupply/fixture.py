"""The ``aisupply`` fixture: the same engine as the collected checks, for hand-written tests.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from .code.references import HubReference, extract
from .config import ConfigError, Settings, _Parser
from .findings import Finding
from .lockfile import Lock

ARTIFACT_RULES = ("no-pickle", "safetensors", "unsafe-format")
#: ``@pytest.mark.aisupply_policy(...)`` may override these settings (the [tool.aisupply] key names).
OVERRIDABLE = (
    "pickle",
    "pickle_allowed_globals",
    "allowed_licenses",
    "allowed_sources",
    "denied_sources",
    "trust_remote_code",
    "max_review_age_days",
    "exclude",
)


def apply_overrides(settings: Settings, overrides: Mapping[str, Any], source: str) -> Settings:
    """Settings with a test's marker overrides, validated like the pyproject table."""
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise pytest.UsageError(
            f"{source}: @pytest.mark.aisupply_policy got unknown override(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(OVERRIDABLE)}"
        )
    try:
        parsed = _Parser(Path(source), "", settings.root).parse(dict(overrides))
    except ConfigError as exc:
        raise pytest.UsageError(f"{source}: @pytest.mark.aisupply_policy: {exc}".replace(": : ", ": ")) from None
    return dataclasses.replace(settings, **{key: getattr(parsed, key) for key in overrides})


class Aisupply:
    """Scan paths, list Hub references and assert supply-chain rules inside a test.

    Failures use ``pytest.fail`` with the same text as the collected checks, without a traceback
    into the plugin.
    """

    def __init__(self, settings: Settings, lock: Lock | None) -> None:
        self.settings = settings
        self._lock = lock

    @property
    def lock(self) -> Lock | None:
        """The parsed lockfile (None when ``lockfile = ""``)."""
        return self._lock

    # -- facts --------------------------------------------------------------------------------
    def scan(self, path: str | Path, rules: tuple[str, ...] = ARTIFACT_RULES) -> list[Finding]:
        """Findings of the artifact rules for a file or every artifact under a folder.

        Inside the project, files are named by their project path and the configured
        ``[[tool.aisupply.waive]]`` entries apply, as in the collected checks; outside it (a
        ``tmp_path``), files are named relative to the folder scanned and no waiver applies."""
        from .engine import Engine
        from .formats import builtin_readers
        from .rules import builtin_rules

        target = Path(path).resolve()
        project = self.settings.root.resolve()
        if target.is_relative_to(project):
            root, waivers = project, self.settings.waivers
            entry = target.relative_to(project).as_posix() or "."
        else:
            root, waivers = (target if target.is_dir() else target.parent), ()
            entry = "." if target.is_dir() else target.name
        settings = dataclasses.replace(self.settings, root=root, artifacts=(entry,), code=(), waivers=waivers)
        engine = Engine(settings, [r for r in builtin_rules() if r.id in rules], builtin_readers())
        findings: list[Finding] = []
        for rule, subjects in engine.subjects():
            for subject in subjects:
                findings.extend(engine.evaluate(rule.id, subject).findings)
        return findings

    def references(self, path_or_code: str | Path) -> list[HubReference]:
        """Hub references in a Python file, notebook, folder of them, or a code string."""
        return [reference for _, reference in self._references(path_or_code)]

    def _references(self, path_or_code: str | Path) -> Iterator[tuple[str, HubReference]]:
        candidate = Path(path_or_code)
        is_path = isinstance(path_or_code, Path) or ("\n" not in str(path_or_code) and candidate.exists())
        if not is_path:
            facts = extract(str(path_or_code), "<code>")
            if facts.error:
                pytest.fail(f"[aisupply] the code given cannot be checked: {facts.error}", pytrace=False)
            for reference in facts.references:
                yield f"<code>:{reference.line}", reference
            return
        from .code.index import CodeIndex
        from .discovery import Walker

        target = candidate.resolve()
        root = target if target.is_dir() else target.parent
        index = CodeIndex(root, Walker(root, ()), ("." if target.is_dir() else target.name,))
        for code_file in index.files:
            parsed = index.parsed(code_file)
            if parsed.facts.error:
                pytest.fail(f"[aisupply] {code_file.relpath} cannot be checked: {parsed.facts.error}", pytrace=False)
            for reference in parsed.facts.references:
                yield f"{code_file.relpath}:{parsed.source.place(reference.line, reference.col)}", reference

    # -- assertions ---------------------------------------------------------------------------
    def assert_safe(self, path: str | Path) -> None:
        """No artifact rule finds anything in the file or folder."""
        __tracebackhide__ = True
        self._fail_on(self.scan(path), f"{path} is not safe")

    def assert_no_pickle(self, path: str | Path) -> None:
        __tracebackhide__ = True
        self._fail_on(self.scan(path, ("no-pickle",)), f"{path} holds pickle")

    def assert_pinned(self, path_or_code: str | Path) -> None:
        """Every Hub reference in the code is pinned to a 40-hex commit."""
        __tracebackhide__ = True
        from .rules.pinned_revision import pin_fix, revision_problem

        problems = []
        for where, reference in self._references(path_or_code):
            problem = "cannot pin a revision" if not reference.can_pin else revision_problem(reference)
            if problem:
                repo = reference.repo_id if isinstance(reference.repo_id, str) else "<not a constant>"
                problems.append(f"  - {where}: {reference.api}({repo!r}): {problem}\n    fix:   {pin_fix(reference)}")
        if problems:
            pytest.fail("[aisupply] pinned-revision: unpinned Hub references\n" + "\n".join(problems), pytrace=False)

    def assert_license(
        self, repo_id_or_model_dir: str | Path, allowed: list[str] | tuple[str, ...] | None = None
    ) -> None:
        """The model's license (from the lockfile, or a local model card) is allowed."""
        __tracebackhide__ = True
        from .licenses import check_license
        from .modelcard import read_card

        policy = tuple(allowed) if allowed is not None else self.settings.allowed_licenses
        target = Path(repo_id_or_model_dir)
        if target.is_dir():
            card = read_card(target / "README.md")
            if card is None or card.error:
                reason = card.error if card else "has no README.md model card with metadata"
                pytest.fail(f"[aisupply] license: {target}: {reason}", pytrace=False)
            verdict = check_license(card.licenses(), policy, license_name=card.metadata.get("license_name"))
            subject = str(target)
        else:
            entry = self._lock.hub_entry("model", str(repo_id_or_model_dir)) if self._lock else None
            if entry is None:
                pytest.fail(
                    f"[aisupply] license: {repo_id_or_model_dir} is not in the lockfile; "
                    "run pytest --aisupply-update to record its license",
                    pytrace=False,
                )
            verdict = check_license(entry.license, policy, license_name=entry.license_name)
            subject = str(repo_id_or_model_dir)
        if not verdict.allowed:
            pytest.fail(
                f"[aisupply] license: {subject}: license {verdict.shown}: {verdict.reason} "
                f"(allowed: {', '.join(policy) or 'none configured'})",
                pytrace=False,
            )

    def assert_locked(self, path_or_repo_id: str | Path) -> None:
        """A local artifact matches its lockfile entry, or a repo id has one."""
        __tracebackhide__ = True
        from .hashing import sha256_file

        if self._lock is None:
            pytest.fail('[aisupply] integrity: no lockfile is configured (lockfile = "")', pytrace=False)
        target = Path(path_or_repo_id)
        if target.is_file():
            relpath = target.resolve().relative_to(self.settings.root.resolve()).as_posix()
            entry = self._lock.artifacts.get(relpath)
            if entry is None:
                pytest.fail(f"[aisupply] integrity: {relpath} is unreviewed: not in the lockfile", pytrace=False)
            actual = sha256_file(target)
            if actual != entry.sha256:
                pytest.fail(f"[aisupply] integrity: {relpath}: sha256 {actual}, reviewed {entry.sha256}", pytrace=False)
            return
        repo = str(path_or_repo_id)
        if not any(entry.repo_id == repo for entry in self._lock.hub.values()):
            pytest.fail(f"[aisupply] integrity: {repo} is unreviewed: not in the lockfile", pytrace=False)

    def _fail_on(self, findings: list[Finding], headline: str) -> None:
        __tracebackhide__ = True
        if not findings:
            return
        lines = [f"[aisupply] {headline}: {len(findings)} finding{'s' if len(findings) != 1 else ''}"]
        for finding in findings:
            lines.append(f"  - {finding.rule}: {finding.subject}: {finding.message}")
            if finding.where:
                lines.append(f"    where: {finding.where}")
            lines.extend(f"    {detail}" for detail in finding.details)
            lines.append(f"    fix:   {finding.fix}")
        pytest.fail("\n".join(lines), pytrace=False)
