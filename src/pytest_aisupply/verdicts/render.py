"""Plain-text rendering of verdicts for failure reports, warnings and the summary.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import Verdict


def render_verdict(verdict: Verdict, format_name: str | None = None) -> str:
    subject = verdict.subject
    what = ""
    if format_name:
        from ..rules.no_pickle import describe_format

        what = f" ({describe_format(format_name)})"
    count = len(verdict.findings)
    lines = [f"[aisupply] {verdict.rule}: {subject.id}{what}: {count} finding{'s' if count != 1 else ''}"]
    for finding in verdict.findings:
        location = f"{subject.id}:{finding.line}" if finding.line else None
        lines.append(f"  - found: {finding.message}")
        if finding.where:
            lines.append(f"    where: {finding.where}")
        elif location:
            lines.append(f"    where: {location}")
        for detail in finding.details:
            lines.append(f"    {detail}")
        lines.append(f"    fix:   {finding.fix}")
    for note in verdict.waiver_notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def render_waived(verdict: Verdict) -> str:
    reasons = sorted({waiver.reason for _, waiver in verdict.waived})
    return f"{verdict.rule}: {verdict.subject.id} waived ({'; '.join(reasons)})"
