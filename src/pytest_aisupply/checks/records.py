"""What a collected check's report carries for the controller's reporters (``report.aisupply``):
one record per verdict, plain JSON so that it crosses xdist's wire. Loaded when the first check
reports, not at start-up.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .items import CheckGroupItem, CheckItem
from .keys import group_verdicts_key, verdict_key

if TYPE_CHECKING:
    import pytest

    from ..findings import Finding, Subject
    from ..verdicts.engine import Engine, Verdict


def check_record(item: pytest.Item, rootpath: Path, *, full: bool) -> dict[str, Any] | None:
    """What a check item's report carries: its verdict's record, or one per subject of a grouped
    check; None for an item that is not a check of one or more subjects."""
    if isinstance(item, CheckItem):
        verdict = item.stash.get(verdict_key, None)
        return verdict_record(item.engine, item.rule_id, item.subject, verdict, rootpath, full=full)
    if isinstance(item, CheckGroupItem):
        verdicts = item.stash.get(group_verdicts_key, None) or [None] * len(item.subjects)
        members = [
            verdict_record(item.engine, item.rule_id, subject, verdict, rootpath, full=full)
            for subject, verdict in zip(item.subjects, verdicts, strict=True)
        ]
        return {"rule": item.rule_id, "subject": item.name, "kind": "group", "members": members}
    return None


def verdict_record(
    engine: Engine, rule_id: str, subject: Subject, verdict: Verdict | None, rootpath: Path, *, full: bool = True
) -> dict[str, Any]:
    """What the controller's reporters need of one verdict (it crosses xdist's wire as JSON).

    ``full=False`` (no SARIF, BOM or lockfile update asked for): a check that passed outright
    carries only what the terminal summary counts, so under xdist a large tree of clean files ships
    a few bytes per check instead of its path, kind and severity; anything else (failed, warned,
    waived, an inline ignore, a recorded lockfile entry, a signer) still carries the whole record."""
    inventory = engine.inventory
    if not full and verdict is not None and verdict.status == "passed":
        brief = _passed_record(engine, rule_id, subject)
        if brief is not None:
            return brief
    record: dict[str, Any] = {
        "rule": rule_id,
        "subject": subject.id,
        "kind": subject.kind,
        "format": inventory.format_of(subject),
        "status": verdict.status if verdict else "failed",
        "severity": verdict.severity if verdict else "error",
        "path": _relative(subject.path, rootpath, plain=inventory.is_plain_file(subject)),
    }
    # Under xdist every record crosses the wire: empty lists are left out (readers use .get).
    if verdict is not None and verdict.findings:
        record["findings"] = [_finding_json(f) for f in verdict.findings]
    if verdict is not None and verdict.waived:
        record["waived"] = sorted({w.reason for _, w in verdict.waived})
        record["waived_findings"] = [{**_finding_json(f), "reason": w.reason} for f, w in verdict.waived]
    ignored = _inline_ignores(engine, rule_id, subject)
    if ignored:
        record["inline_ignored"] = ignored
    recorded = inventory.recorded.get(subject.id)
    if recorded is not None:
        from ..lockfile.lock import entry_to_json

        record["recorded"] = {subject.id: entry_to_json(recorded)}
    signer = inventory.signers.get(subject.id) if rule_id == "signature" else None
    if signer is not None:
        record["signer"] = signer
    return record


def _passed_record(engine: Engine, rule_id: str, subject: Subject) -> dict[str, Any] | None:
    """The summary's share of a passed check (its rule, its status and, for ``no-pickle``, the
    format it counts per artifact), or None when the full record holds more the controller uses."""
    inventory = engine.inventory
    if subject.id in inventory.recorded or (rule_id == "signature" and subject.id in inventory.signers):
        return None
    if _inline_ignores(engine, rule_id, subject):
        return None
    record: dict[str, Any] = {"rule": rule_id, "status": "passed"}
    if rule_id == "no-pickle":
        record["format"] = inventory.format_of(subject)
    return record


def _inline_ignores(engine: Engine, rule_id: str, subject: Subject) -> int:
    """How many call sites a ``# aisupply: ignore[rule] reason`` comment took out of this check
    (counted for the summary, as Bandit counts its ``# nosec`` lines)."""
    if subject.kind != "code":  # asked first: for an artifact, a lazy rule's missing helper costs a raise
        return 0
    call_sites = getattr(engine.rules.get(rule_id), "call_sites", None)
    if call_sites is None:
        return 0
    inventory = engine.inventory
    code_file = next((f for f in inventory.code.files if f.relpath == subject.id), None)
    if code_file is None:
        return 0
    parsed = inventory.code.parsed(code_file)
    if parsed.facts.error:
        return 0
    count = 0
    for site in call_sites(parsed, inventory):
        ignore = parsed.ignore_for(rule_id, site.line, site.end_line)
        if ignore is not None and ignore.reason:
            count += 1
    return count


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "message": finding.message,
        "fix": finding.fix,
        "where": finding.where,
        "line": finding.line,
        "details": list(finding.details),
    }


def _relative(path: Path, root: Path, *, plain: bool = False) -> str:
    """``path.resolve().relative_to(root.resolve())`` in POSIX form, or ``path`` when it lies
    outside; the folders are resolved once each, not once per file. ``plain``: the walk found the
    file as a regular file, not a link (its real path is then its real folder's)."""
    try:
        real = _real_path(os.fspath(path), plain)
        real_root = _real_dir(os.fspath(root))
    except OSError:
        return path.as_posix()
    if real == real_root:
        return "."
    prefix = real_root if real_root.endswith(os.sep) else real_root + os.sep
    if not real.startswith(prefix):
        return path.as_posix()
    # realpath's result has no "." segments or doubled separators: Path(...).as_posix() would only
    # change the separators.
    relative = real[len(prefix) :]
    return relative if os.sep == "/" else relative.replace(os.sep, "/")


def _real_path(path: str, plain: bool = False) -> str:
    """``os.path.realpath``: a name that is not a link resolves as its folder does."""
    folder, name = os.path.split(os.path.abspath(path))
    if not name or (not plain and os.path.islink(path)):
        return os.path.realpath(path)
    return os.path.join(_real_dir(folder), name)


@lru_cache(maxsize=4096)
def _real_dir(folder: str) -> str:
    return os.path.realpath(folder)
