"""The value types every rule produces and every report consumes.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warn", "off"]
SEVERITIES: tuple[Severity, ...] = ("error", "warn", "off")


@dataclass(frozen=True)
class Subject:
    """What one check looks at: a file, a call site, a reference.

    ``id`` is the stable, project-relative name used in node ids and matched by waiver paths.
    """

    id: str
    path: Path
    kind: str = "artifact"
    format: str | None = None


@dataclass(frozen=True)
class Finding:
    """One problem a rule found in one subject."""

    rule: str
    subject: str
    message: str
    fix: str
    where: str | None = None
    line: int | None = None
    details: tuple[str, ...] = field(default_factory=tuple)

    def headline(self) -> str:
        place = f" ({self.where})" if self.where else ""
        return f"{self.message}{place}"
