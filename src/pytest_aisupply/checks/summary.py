"""Terminal output: the report-header line and the ``aisupply`` summary section (controller only).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ..settings.config import Settings

STATUSES = ("passed", "failed", "warned", "waived")
_STATUS_COLOURS = {"passed": "green", "failed": "red", "warned": "yellow", "waived": "yellow"}


def header_line(config: pytest.Config, settings: Settings) -> str:
    if settings.source is None:
        source = "defaults (--aisupply, no [tool.aisupply] table)"
    else:
        shown = settings.source
        if shown.is_relative_to(config.rootpath):
            shown = shown.relative_to(config.rootpath)
        source = f"{shown} [tool.aisupply]"
    overrides = ", ".join(f"{rule}={severity}" for rule, severity in sorted(settings.rules.items()))
    parts = [f"aisupply: {source}", f"pickle={settings.pickle}"]
    if overrides:
        parts.append(f"rules: {overrides}")
    if settings.waivers:
        parts.append(f"{len(settings.waivers)} waiver{'s' if len(settings.waivers) != 1 else ''}")
    return "; ".join(parts)


class SummaryReporter:
    name = "aisupply-summary"

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.statuses: Counter[str] = Counter()
        self.formats: Counter[str] = Counter()
        self.waived: list[str] = []
        self.inline_ignored: Counter[str] = Counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data: dict[str, Any] | None = getattr(report, "aisupply", None)
        if not data:
            # A check that failed without a verdict: a worker that crashed running it, a rule
            # whose subjects could not be collected. It counts as failed, never as nothing.
            if report.failed and report.nodeid.startswith("aisupply::") and report.when not in ("setup", "teardown"):
                self.statuses["failed"] += 1
            return
        if report.when != "call":
            return
        from .items import report_records

        for record in report_records(data):  # per subject, also for a check of a whole folder
            self.statuses[record["status"]] += 1
            if record["rule"] == "no-pickle" and record.get("format"):
                self.formats[record["format"]] += 1
            if record.get("inline_ignored"):
                self.inline_ignored[record["rule"]] += int(record["inline_ignored"])
            if record["status"] == "waived":
                self.waived.append(f"{record['rule']}::{record['subject']} ({'; '.join(record['waived'])})")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        total = sum(self.statuses.values())
        if not total:
            return
        # coloured like pytest's own summary line (--color=yes/auto; plain text otherwise)
        colour = "red" if self.statuses["failed"] else "yellow" if self.statuses["warned"] else "green"
        terminalreporter.section("aisupply", **{colour: True})
        terminalreporter.write(f"{total} check{'s' if total != 1 else ''}: ")
        shown = [s for s in STATUSES if self.statuses[s]]
        for position, status in enumerate(shown):
            terminalreporter.write(f"{self.statuses[status]} {status}", **{_STATUS_COLOURS[status]: True})
            if position < len(shown) - 1:
                terminalreporter.write(", ")
        terminalreporter.line("")
        if self.formats:
            listing = ", ".join(f"{name} {count}" for name, count in sorted(self.formats.items()))
            terminalreporter.write_line(f"artifacts by format: {listing}")
        for line in self.waived:
            terminalreporter.write_line(f"waived: {line}")
        if self.inline_ignored:
            total_ignored = sum(self.inline_ignored.values())
            by_rule = ", ".join(f"{rule} {count}" for rule, count in sorted(self.inline_ignored.items()))
            terminalreporter.write_line(
                f"inline ignores: {total_ignored} call site{'s' if total_ignored != 1 else ''} skipped by "
                f"'# aisupply: ignore[...]' comments ({by_rule})"
            )
