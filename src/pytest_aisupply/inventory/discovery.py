"""Finding the files under the configured roots, without following anything out of the project.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import errno
import fnmatch
import gc
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..settings.config import has_magic

if TYPE_CHECKING:
    import pathspec

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

#: From this many records on (a walk's files, a cache's entries), they are moved out of the garbage
#: collector's reach once built: at 100,000 files each full collection scanned them all again.
FREEZE_RECORDS = 10_000


@contextmanager
def collector_paused() -> Iterator[None]:
    """Build many small records that hold no cycles and live to the end of the session without the
    garbage collector scanning them as they are built (then see :func:`keep_from_collector`)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def keep_from_collector(records: int) -> None:
    """From FREEZE_RECORDS such records on, move them out of the collector's reach for good
    (``gc.freeze``: what is frozen with them is pytest's start-up state and the session's
    configuration, alive to the end anyway)."""
    if records >= FREEZE_RECORDS:
        gc.freeze()


#: What says a file is unchanged since it was read: size, mtime and ctime (ns), inode, device.
Identity = tuple[int, int, int, int, int]


def identity_of(info: os.stat_result) -> Identity:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


class FoundFile(NamedTuple):
    """A path under a root. ``problem`` is set for entries that cannot be read safely (symlinks
    leaving the project, broken links, sockets and other special files).

    A named tuple rather than a frozen dataclass: the same immutable record, declared in a twentieth
    of the time (a dataclass generates and compiles its methods at every start-up) and built faster
    for each of a large tree's files."""

    relpath: str
    path: Path
    problem: str | None = None
    #: Reached through a symbolic link (to a regular file inside the project).
    link: bool = False


def display_relpath(path: Path, root: Path) -> str:
    """Project-relative POSIX path, with undecodable bytes shown as escapes (never raises).

    Distinct paths give distinct texts: backslashes in names are doubled before undecodable
    bytes become ``\\xNN`` escapes, so a file really named ``a\\xff`` cannot pass for ``a<0xff>``
    (and hide it, as both would be reported under one path)."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        rel = path
    text = rel.as_posix().replace("\\", "\\\\")
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _display_name(name: str) -> str:
    """One path segment as :func:`display_relpath` shows it (the escaping is per segment)."""
    if name.isascii() and "\\" not in name:
        return name
    return name.replace("\\", "\\\\").encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _segment_matches(segment: str, name: str) -> bool:
    """One path segment of a glob against one name, as :func:`glob.glob` does it: wildcards do
    not match names starting with '.' unless the segment does."""
    if not has_magic(segment):
        return os.path.normcase(segment) == os.path.normcase(name)
    if name.startswith(".") and not segment.startswith("."):
        return False
    return fnmatch.fnmatch(name, segment)


class Walker:
    """Walks roots in sorted order, honouring the built-in excludes and the ``exclude`` globs."""

    def __init__(self, root: Path, exclude: Iterable[str]) -> None:
        self.root = root
        self._resolved_root = root.resolve()
        patterns = list(exclude)
        # pathspec is imported only for a project with ``exclude`` globs (most have none): start-up
        self._spec: pathspec.GitIgnoreSpec | None = None
        if patterns:
            import pathspec

            self._spec = pathspec.GitIgnoreSpec.from_lines(patterns)

    def _excluded(self, relpath: str, is_dir: bool) -> bool:
        if self._spec is None:
            return False
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
            segments = [part for part in entry.split("/") if part not in ("", ".")]
            return list(self._glob(self.root, segments, self._closure(segments, {0})))
        path = self.root / entry
        return [path] if os.path.lexists(path) else []

    @staticmethod
    def _closure(segments: list[str], states: set[int]) -> set[int]:
        """Add the states reachable by letting a '**' match no segment at all."""
        pending = list(states)
        while pending:
            state = pending.pop()
            if state < len(segments) and segments[state] == "**" and state + 1 not in states:
                states.add(state + 1)
                pending.append(state + 1)
        return states

    def _glob(self, directory: Path, segments: list[str], states: set[int]) -> Iterator[Path]:
        """Paths under ``directory`` matching the glob (``states``: how much of it is matched so
        far). Unlike :func:`glob.glob`, never enters a directory through a symbolic link (no
        escape from the project, no link loops) and skips the built-in excluded directories
        unless the pattern names them literally."""
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            literal: set[int] = set()  # states after a literal segment matched the name
            wild: set[int] = set()  # states after a wildcard segment matched it
            globstar: set[int] = set()  # '**' states that took the name in
            for state in states:
                if state >= len(segments):
                    continue
                segment = segments[state]
                if segment == "**":
                    if not entry.name.startswith("."):
                        globstar.add(state)
                elif _segment_matches(segment, entry.name):
                    (wild if has_magic(segment) else literal).add(state + 1)
            if not (literal or wild or globstar):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                dir_like = is_dir or (entry.is_symlink() and entry.is_dir())
            except OSError:
                is_dir = dir_like = False
            if is_dir and self._skipped_dir(path, entry.name):
                if not literal:
                    continue
                wild, globstar = set(), set()
            reached = self._closure(segments, literal | wild | globstar)
            if dir_like:
                matched = len(segments) in reached
            else:  # a trailing '**' only matches files it takes in, as glob.glob does
                matched = len(segments) in literal | wild or any(
                    all(part == "**" for part in segments[state:]) for state in globstar
                )
            if matched:
                yield path  # a matched directory is walked whole
            elif is_dir:
                yield from self._glob(path, segments, reached)

    def _skipped_dir(self, path: Path, name: str, rel: str | None = None) -> bool:
        if name in BUILTIN_EXCLUDED_DIRS or name.endswith(".egg-info"):
            return True
        if os.path.exists(os.path.join(path, "pyvenv.cfg")):
            return True
        return self._excluded(display_relpath(path, self.root) if rel is None else rel, True)

    def _walk(self, start: Path) -> Iterator[FoundFile]:
        start_rel = display_relpath(start, self.root)
        if start != self.root:
            problem = self._leaves_root(start.parent)
            if problem:
                yield FoundFile(start_rel, start, problem)
                return
        if start.is_dir() and not start.is_symlink():
            if start_rel != "." and self._excluded(start_rel, True):
                return
            yield from self._walk_dir(start, start_rel)
            return
        found = self._classify(start, start_rel)
        if found is not None and not self._excluded(found.relpath, False):
            yield found

    def _walk_dir(self, directory: Path, directory_rel: str) -> Iterator[FoundFile]:
        # The walk of large data folders: one scandir per folder, the entry types from it (no stat
        # per file on file systems that report them), project-relative texts built from the
        # folder's, and one Path per file.
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            yield FoundFile(directory_rel, directory, f"directory cannot be listed: {exc.strerror or exc}")
            return
        prefix = "" if directory_rel == "." else directory_rel + "/"
        for entry in entries:
            path = Path(entry.path)
            rel = prefix + _display_name(entry.name)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                if self._skipped_dir(path, entry.name, rel):
                    continue
                yield from self._walk_dir(path, rel)
                continue
            if self._excluded(rel, False):
                continue
            found = self._classify_entry(entry, path, rel)
            if found is not None:
                yield found

    def _classify_entry(self, entry: os.DirEntry[str], path: Path, rel: str) -> FoundFile | None:
        """:meth:`_classify` from what the directory listing says; the rare other cases stat."""
        try:
            if entry.is_symlink():
                return self._classify_link(path, rel)
            if entry.is_file(follow_symlinks=False):
                return FoundFile(rel, path)
        except OSError:
            pass
        return self._classify(path, rel)

    def _leaves_root(self, directory: Path) -> str | None:
        """Why a path given as a root (``directory`` is its parent) is not read: its parent lies
        outside the project once symbolic links are resolved."""
        try:
            real = directory.resolve(strict=True)
        except (OSError, RuntimeError):
            return None  # the entry itself cannot be read; _classify says so
        if real.is_relative_to(self._resolved_root):
            return None
        return f"path leads outside the project through a symbolic link ({real}); not followed"

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
            loop = isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP
            reason = "a loop" if loop else "missing"
            return FoundFile(rel, path, f"symbolic link cannot be resolved (target {reason}); not followed")
        if not target.is_relative_to(self._resolved_root):
            return FoundFile(rel, path, f"symbolic link points outside the project ({target}); not followed")
        if target.is_dir():
            return None  # its content is walked where it really lives, if under a root
        if not target.is_file():
            return FoundFile(rel, path, "symbolic link to a special file; not read")
        return FoundFile(rel, path, link=True)
