"""Code files under the ``code`` roots, each read and parsed once per session.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from ..code import CODE_SUFFIXES
from ..code.references import CodeFacts, CodeOptions, extract
from ..code.sources import SourceFile, read_source
from ..settings.limits import Limits
from .discovery import FoundFile, Walker

_IGNORE = re.compile(r"#\s*aisupply:\s*ignore\[([\w\s,-]+)\]\s*(.*)$")


@dataclass(frozen=True)
class CodeFile:
    relpath: str
    path: Path
    problem: str | None = None


@dataclass(frozen=True)
class Ignore:
    rules: frozenset[str]
    reason: str


@dataclass
class ParsedCode:
    source: SourceFile
    facts: CodeFacts

    @cached_property
    def ignores(self) -> dict[int, Ignore]:
        """``# aisupply: ignore[rule, ...] reason`` comments by line (real comments only)."""
        found: dict[int, Ignore] = {}
        if "aisupply:" not in self.source.text:
            return found
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(self.source.text).readline))
        except (tokenize.TokenError, SyntaxError, IndentationError):
            return found
        for token in tokens:
            if token.type == tokenize.COMMENT and (match := _IGNORE.search(token.string)):
                rules = frozenset(part.strip() for part in match[1].split(",") if part.strip())
                found[token.start[0]] = Ignore(rules, match[2].strip())
        return found

    def ignore_for(self, rule: str, first: int, last: int) -> Ignore | None:
        for line in range(first, last + 1):
            ignore = self.ignores.get(line)
            if ignore is not None and rule in ignore.rules:
                return ignore
        return None


class CodeIndex:
    def __init__(
        self,
        root: Path,
        walker: Walker,
        entries: tuple[str, ...],
        limits: Limits | None = None,
        options: CodeOptions | None = None,
        *,
        found: list[FoundFile] | None = None,
    ) -> None:
        """``found``: the files under ``entries`` when the caller walked them already."""
        self.root = root
        self._found = found
        self.walker = walker
        self.entries = entries
        self.limits = limits or Limits()
        self.options = options or CodeOptions()
        if self.options.project_root is None:
            self.options = replace(self.options, project_root=root)
        self._parsed: dict[Path, ParsedCode] = {}

    @cached_property
    def files(self) -> list[CodeFile]:
        result = []
        walked = self._found if self._found is not None else self.walker.files(self.entries)
        for found in walked:
            if found.path.name.endswith(CODE_SUFFIXES):
                result.append(CodeFile(found.relpath, found.path, found.problem))
        return result

    @cached_property
    def written_folders(self) -> dict[str, int]:
        """Folder names the project's code files write (``model.save("output/x")`` in one script,
        ``SentenceTransformer("output/x")`` in the next), with how many files write each."""
        counts: dict[str, int] = {}
        for code_file in self.files:
            for name in self.parsed(code_file).facts.written_folders:
                counts[name] = counts.get(name, 0) + 1
        return counts

    def written_elsewhere(self, name: str, parsed: ParsedCode) -> bool:
        """Another file writes the folder ``name`` (within one file, only writes before the load count)."""
        writers = self.written_folders.get(name, 0)
        return writers > (1 if name in parsed.facts.written_folders else 0)

    def parsed(self, code_file: CodeFile) -> ParsedCode:
        cached = self._parsed.get(code_file.path)
        if cached is None:
            source = read_source(code_file.path, self.limits)
            if code_file.problem:
                facts = CodeFacts(error=code_file.problem)
            elif source.error:
                facts = CodeFacts(error=source.error)
            else:
                facts = extract(source.text, str(code_file.path), code_file.path.parent, self.options)
                if facts.error and source.notebook:
                    facts.error = facts.error.replace("(line ", "(notebook line ")
            cached = self._parsed[code_file.path] = ParsedCode(source, facts)
        return cached
