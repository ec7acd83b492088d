"""Finding the files under the configured roots, without following anything out of the project."""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from .config import has_magic

#: Directory names never walked: version control, virtual environments, caches, build output.
BUILTIN_EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".env",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".tox",
        ".nox",
        ".eggs",
        "node_modules",
        "build",
        "dist",
        "site-packages",
    }
)


@dataclass(frozen=True)
class FoundFile:
    """A path under a root. ``problem`` is set for entries that cannot be read safely (symlinks
    leaving the project, broken links, sockets and other special files)."""

    relpath: str
    path: Path
    problem: str | None = None


def display_relpath(path: Path, root: Path) -> str:
    """Project-relative POSIX path, with undecodable bytes shown as escapes (never raises)."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        rel = path
    text = rel.as_posix()
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class Walker:
    """Walks roots in sorted order, honouring the built-in excludes and the ``exclude`` globs."""

    def __init__(self, root: Path, exclude: Iterable[str]) -> None:
        self.root = root
        self._resolved_root = root.resolve()
        self._spec = pathspec.GitIgnoreSpec.from_lines(list(exclude))

    def _excluded(self, relpath: str, is_dir: bool) -> bool:
        return self._spec.match_file(relpath + "/" if is_dir else relpath)

    def files(self, entries: Iterable[str]) -> list[FoundFile]:
        seen: dict[str, FoundFile] = {}
        for entry in entries:
            for path in self._expand(entry):
                for found in self._walk(path):
                    seen.setdefault(found.relpath, found)
        return [seen[key] for key in sorted(seen)]

    def _expand(self, entry: str) -> list[Path]:
        if has_magic(entry):
            matches = glob.glob(entry, root_dir=self.root, recursive=True)
            return [self.root / match for match in sorted(matches)]
        path = self.root / entry
        return [path] if os.path.lexists(path) else []

    def _walk(self, start: Path) -> Iterator[FoundFile]:
        start_rel = display_relpath(start, self.root)
        if start.is_dir() and not start.is_symlink():
            if start_rel != "." and self._excluded(start_rel, True):
                return
            yield from self._walk_dir(start)
            return
        found = self._classify(start, start_rel)
        if found is not None and not self._excluded(found.relpath, False):
            yield found

    def _walk_dir(self, directory: Path) -> Iterator[FoundFile]:
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            rel = display_relpath(directory, self.root)
            yield FoundFile(rel, directory, f"directory cannot be listed: {exc.strerror or exc}")
            return
        for entry in entries:
            path = Path(entry.path)
            rel = display_relpath(path, self.root)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                if entry.name in BUILTIN_EXCLUDED_DIRS or entry.name.endswith(".egg-info"):
                    continue
                if self._excluded(rel, True) or (path / "pyvenv.cfg").exists():
                    continue
                yield from self._walk_dir(path)
                continue
            if self._excluded(rel, False):
                continue
            found = self._classify(path, rel)
            if found is not None:
                yield found

    def _classify(self, path: Path, rel: str) -> FoundFile | None:
        try:
            info = path.lstat()
        except OSError as exc:
            return FoundFile(rel, path, f"cannot be read: {exc.strerror or exc}")
        if stat.S_ISLNK(info.st_mode):
            return self._classify_link(path, rel)
        if stat.S_ISREG(info.st_mode):
            return FoundFile(rel, path)
        if stat.S_ISDIR(info.st_mode):
            return None
        return FoundFile(rel, path, "not a regular file (socket, pipe or device); not read")

    def _classify_link(self, path: Path, rel: str) -> FoundFile | None:
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            reason = "a loop" if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == 40 else "missing"
            return FoundFile(rel, path, f"symbolic link cannot be resolved (target {reason}); not followed")
        if not target.is_relative_to(self._resolved_root):
            return FoundFile(rel, path, f"symbolic link points outside the project ({target}); not followed")
        if target.is_dir():
            return None  # its content is walked where it really lives, if under a root
        if not target.is_file():
            return FoundFile(rel, path, "symbolic link to a special file; not read")
        return FoundFile(rel, path)
