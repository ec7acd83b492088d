"""Python sources and Jupyter notebooks as parseable text with a way back to the user's lines."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

_MAGIC_LINE = re.compile(r"^\s*(%|!|\?|[A-Za-z_][\w.]*\?\s*$)")


@dataclass(frozen=True)
class SourceFile:
    """Text to parse; for notebooks, which cell and cell line each text line came from."""

    text: str
    cells: tuple[tuple[int, int], ...] = ()  # per text line (1-based index - 1): (cell, line)
    error: str | None = None
    notebook: bool = False
    lines: tuple[str, ...] = field(default_factory=tuple)

    def place(self, line: int, col: int | None = None) -> str:
        """``line:col`` for scripts, ``cell N:line M`` for notebooks."""
        if self.notebook and 0 < line <= len(self.cells):
            cell, cell_line = self.cells[line - 1]
            return f"cell {cell}:line {cell_line}"
        return f"{line}:{col + 1}" if col is not None else str(line)

    def source_line(self, line: int) -> str:
        if 0 < line <= len(self.lines):
            return self.lines[line - 1].strip()
        return ""


def read_source(path: Path) -> SourceFile:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return SourceFile("", error=f"cannot be read: {exc.strerror or exc}")
    if path.suffix == ".ipynb":
        return _read_notebook(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return SourceFile("", error=f"not UTF-8 (byte {exc.start}); cannot be checked")
    return SourceFile(text, lines=tuple(text.splitlines()))


def _read_notebook(raw: bytes) -> SourceFile:
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return SourceFile("", error=f"notebook is not valid JSON: {exc}", notebook=True)
    cells = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(cells, list):
        return SourceFile("", error="notebook has no 'cells' list", notebook=True)
    text_lines: list[str] = []
    origin: list[tuple[int, int]] = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(part for part in source if isinstance(part, str))
        if not isinstance(source, str):
            return SourceFile("", error=f"cell {number} has a source that is not text", notebook=True)
        lines = source.splitlines()
        cell_magic = bool(lines) and lines[0].lstrip().startswith("%%")
        for line_number, line in enumerate(lines, start=1):
            # IPython magics and shell escapes are not Python: blank them, keeping line numbers.
            text_lines.append("" if cell_magic or _MAGIC_LINE.match(line) else line)
            origin.append((number, line_number))
    return SourceFile("\n".join(text_lines) + "\n", cells=tuple(origin), notebook=True, lines=tuple(text_lines))
