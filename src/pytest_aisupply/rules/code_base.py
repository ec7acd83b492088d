"""What the three code rules share: one subject per code file, call-site findings with
``path:line:col`` (or ``cell N:line M``), the code line, and inline ignores that need a reason.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ..findings import Finding, Subject

if TYPE_CHECKING:
    from ..inventory.code_files import CodeFile, ParsedCode
    from ..inventory.core import Inventory


class CallSite:
    """A place in a code file that a rule found wrong."""

    def __init__(self, line: int, col: int, end_line: int, message: str, fix: str) -> None:
        self.line = line
        self.col = col
        self.end_line = end_line
        self.message = message
        self.fix = fix


class CodeRule:
    """Base of the code rules: subclasses say which call sites are relevant and which are wrong."""

    id = ""
    summary = ""

    def relevant(self, parsed: ParsedCode) -> bool:
        raise NotImplementedError

    def call_sites(self, parsed: ParsedCode, inventory: Inventory) -> Iterable[CallSite]:
        raise NotImplementedError

    def subjects(self, inventory: Inventory) -> Iterator[Subject]:
        for code_file in inventory.code.files:
            parsed = inventory.code.parsed(code_file)
            if code_file.problem or parsed.facts.error or self.relevant(parsed):
                yield Subject(code_file.relpath, code_file.path, kind="code")

    def check(self, subject: Subject, inventory: Inventory) -> Iterator[Finding]:
        code_file = _find(inventory, subject)
        if code_file is None:
            return
        parsed = inventory.code.parsed(code_file)
        if parsed.facts.error:
            yield Finding(
                self.id,
                subject.id,
                f"cannot be checked: {parsed.facts.error}",
                "fix the file so that it parses (or exclude it in [tool.aisupply] code/exclude)",
            )
            return
        for site in self.call_sites(parsed, inventory):
            ignore = parsed.ignore_for(self.id, site.line, site.end_line)
            details = [parsed.source.source_line(site.line)]
            if ignore is not None:
                if ignore.reason:
                    continue
                details.append(f"the '# aisupply: ignore[{self.id}]' comment here has no reason, so it does not apply")
            yield Finding(
                self.id,
                subject.id,
                site.message,
                site.fix,
                where=f"{subject.id}:{parsed.source.place(site.line, site.col)}",
                line=parsed.source.file_line(site.line) or None,
                details=tuple(detail for detail in details if detail),
            )


def _find(inventory: Inventory, subject: Subject) -> CodeFile | None:
    for code_file in inventory.code.files:
        if code_file.relpath == subject.id:
            return code_file
    return None
