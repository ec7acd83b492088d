"""What the settings' parsers share: the error they raise, checks of glob patterns and repository ids,
and how a bad value is described. A leaf module: ``config`` and ``tables`` both import it.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

TABLE = "tool.aisupply"
REPO_ID = r"[\w.-]+/[\w.-]+\Z"


class ConfigError(Exception):
    """The configuration is invalid; the message names the file, line and key."""


class TableParser(Protocol):
    """What a table's parser needs of the file's parser: errors that name the line, and where a table starts."""

    def error(self, key: str, message: str, header: str = TABLE, index: int = 0) -> ConfigError: ...

    def table_start(self, header: str, index: int = 0) -> int | None: ...


def has_magic(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def glob_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable project-relative glob, or None."""
    if not pattern.strip():
        return "empty pattern"
    if pattern.startswith("/") or re.match(r"[A-Za-z]:[\\/]", pattern):
        return "must be relative to the project root"
    if "\\" in pattern:
        return "use '/' as the path separator"
    if any(part == ".." for part in pattern.split("/")):
        return "must not leave the project root ('..')"
    depth = 0
    for char in pattern:
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
    if depth:
        return "unclosed '['"
    if re.search(r"[^/]\*\*|\*\*[^/]", pattern):
        return "'**' must be a whole path segment, as in 'data/**' or '**/tmp'"
    return None


def describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return f"{str(value).lower()} (boolean)"
    if isinstance(value, (int, float)):
        return f"{value} ({type(value).__name__})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def did_you_mean(key: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
