"""Python sources and Jupyter notebooks as parseable text with a way back to the user's lines.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from json.decoder import scanstring as _scanstring  # type: ignore[attr-defined]
from pathlib import Path

from ..settings.limits import Limits, cap_hint
from .cell_syntax import CellSyntaxError, transform_cell


@dataclass(frozen=True)
class SourceFile:
    """Text to parse; for notebooks, which cell and cell line each text line came from."""

    text: str
    cells: tuple[tuple[int, int], ...] = ()  # per text line (1-based index - 1): (cell, line)
    error: str | None = None
    notebook: bool = False
    lines: tuple[str, ...] = field(default_factory=tuple)
    #: notebooks: per text line, the line of the ``.ipynb`` file that holds it (0: not known)
    file_lines: tuple[int, ...] = ()

    def file_line(self, line: int) -> int:
        """The line of the file a text line came from: itself for scripts, the ``.ipynb`` line
        holding that cell line for notebooks (what SARIF regions and ``waive`` entries use)."""
        if not self.notebook:
            return line
        if 0 < line <= len(self.file_lines):
            return self.file_lines[line - 1]
        return 0

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


def read_source(path: Path, limits: Limits | None = None) -> SourceFile:
    """The text to parse. A file over its cap (``max_notebook_bytes``, ``max_code_file_bytes``)
    is not read: its ``error`` says which cap it exceeds."""
    limits = limits or Limits()
    notebook = path.suffix == ".ipynb"
    key = "max_notebook_bytes" if notebook else "max_code_file_bytes"
    cap: int = getattr(limits, key)
    try:
        with path.open("rb") as handle:
            raw = handle.read(cap + 1)
    except OSError as exc:
        return SourceFile("", error=f"cannot be read: {exc.strerror or exc}", notebook=notebook)
    if len(raw) > cap:
        return SourceFile("", error=f"larger than {cap} bytes ({cap_hint(key)}); not parsed", notebook=notebook)
    if notebook:
        return read_notebook(raw, limits.max_code_file_bytes)
    return parse_source(raw)


def parse_source(raw: bytes) -> SourceFile:
    """A Python file's bytes as text (UTF-8, with or without a BOM)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return SourceFile("", error=f"not UTF-8 (byte {exc.start}); cannot be checked")
    return SourceFile(text, lines=tuple(text.splitlines()))


def read_notebook(raw: bytes, max_code_bytes: int = Limits.max_code_file_bytes) -> SourceFile:
    """A notebook's code cells as one text, each cell as IPython runs it (see :mod:`.cell_syntax`),
    one text line per cell line; code cells holding more than
    ``max_code_bytes`` characters are not kept (an error naming the cap)."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return SourceFile("", error=f"notebook is not valid JSON: {exc}", notebook=True)
    cells = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(cells, list):
        return SourceFile("", error="notebook has no 'cells' list", notebook=True)
    text_lines: list[str] = []
    origin: list[tuple[int, int]] = []
    code_bytes = 0
    bound = _EarlierNames()  # names earlier cells define: they shadow automagic names
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(part for part in source if isinstance(part, str))
        if not isinstance(source, str):
            return SourceFile("", error=f"cell {number} has a source that is not text", notebook=True)
        code_bytes += len(source)
        if code_bytes > max_code_bytes:
            return SourceFile(
                "",
                error=f"its code cells hold more than {max_code_bytes} characters "
                f"({cap_hint('max_code_file_bytes')}); not parsed",
                notebook=True,
            )
        if not source.strip():
            continue
        try:
            lines = transform_cell(source, bound)
        except CellSyntaxError as exc:
            return SourceFile("", error=f"cell {number} cannot be read as IPython does: {exc}", notebook=True)
        bound.cells.append("\n".join(lines))
        for line_number, line in enumerate(lines, start=1):
            text_lines.append(line)
            origin.append((number, line_number))
    places = _cell_line_places(raw.decode("utf-8-sig", errors="replace"))
    return SourceFile(
        "\n".join(text_lines) + "\n",
        cells=tuple(origin),
        notebook=True,
        lines=tuple(text_lines),
        file_lines=tuple(places.get(entry, 0) for entry in origin),
    )


def _cell_line_places(text: str) -> dict[tuple[int, int], int]:
    """(cell, cell line) -> line of the ``.ipynb`` text where that cell line's source starts.

    Walks the JSON with the standard decoder, skipping every value but ``cells[*].source``, so the
    positions are exact whatever the file's layout; {} for JSON this walk does not expect."""
    decoder = json.JSONDecoder()
    places: dict[tuple[int, int], int] = {}
    try:
        position = _skip_space(text, 0)
        cells_at = _member(text, position, "cells", decoder)
        if cells_at is None or text[cells_at] != "[":
            return {}
        position = _skip_space(text, cells_at + 1)
        number = 0
        while text[position] != "]":
            number += 1
            source_at = _member(text, position, "source", decoder)
            if source_at is not None:
                _source_places(text, source_at, number, decoder, places)
            position = _skip_space(text, decoder.raw_decode(text, position)[1])
            if text[position] == ",":
                position = _skip_space(text, position + 1)
    except (ValueError, IndexError):
        return places
    return places


def _skip_space(text: str, position: int) -> int:
    while text[position] in " \t\r\n":
        position += 1
    return position


def _member(text: str, position: int, name: str, decoder: json.JSONDecoder) -> int | None:
    """Where the value of key ``name`` of the object at ``position`` starts."""
    if text[position] != "{":
        return None
    position = _skip_space(text, position + 1)
    while text[position] != "}":
        key, position = _scanstring(text, position + 1)
        position = _skip_space(text, position)
        position = _skip_space(text, position + 1)  # the ':'
        if key == name:
            return position
        position = _skip_space(text, decoder.raw_decode(text, position)[1])
        if text[position] == ",":
            position = _skip_space(text, position + 1)
    return None


def _source_places(
    text: str, position: int, cell: int, decoder: json.JSONDecoder, places: dict[tuple[int, int], int]
) -> None:
    line = 1
    if text[position] == '"':  # one string: every cell line sits on this file line
        value, _ = _scanstring(text, position + 1)
        for offset in range(value.count("\n") + 1):
            places[(cell, offset + 1)] = text.count("\n", 0, position) + 1
        return
    if text[position] != "[":
        return
    position = _skip_space(text, position + 1)
    file_line = text.count("\n", 0, position) + 1
    last = position
    while text[position] != "]":
        file_line += text.count("\n", last, position)
        last = position
        value, end = decoder.raw_decode(text, position)
        if isinstance(value, str):
            for _ in range(max(value.count("\n"), 1)):
                places.setdefault((cell, line), file_line)
                line += 1
            if not value.endswith("\n") and value.count("\n"):
                places.setdefault((cell, line), file_line)
        position = _skip_space(text, end)
        if text[position] == ",":
            position = _skip_space(text, position + 1)


class _EarlierNames:
    """Names bound by the cells read so far, parsed only when an automagic check asks (rarely)."""

    def __init__(self) -> None:
        self.cells: list[str] = []
        self._names: set[str] = set()
        self._parsed = 0

    def __contains__(self, name: object) -> bool:
        while self._parsed < len(self.cells):
            self._names |= _bound_names(self.cells[self._parsed])
            self._parsed += 1
        return name in self._names


def _bound_names(text: str) -> set[str]:
    """Names a cell binds (assignments, imports, definitions); an unparseable cell binds none."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names
