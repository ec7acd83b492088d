"""Content-based format detection and the facts readers record.

A reader recognises a format from the first bytes of a file (``sniff``) and then reads as little
as its verdict needs (``read``), recording facts in a :class:`ReadContext`: pickle streams it
found, parts it could not inspect, format-specific details. Containers hand their members back
to the context, which sniffs and reads them with the same readers, within :class:`Limits`.
Readers know nothing of rules or pytest.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from ..limits import Limits, cap_hint
from .bytestream import ByteReader
from .pickle import PickleStream, read_pickle

HEAD_SIZE = 4096


@runtime_checkable
class FormatReader(Protocol):
    """A format: how to recognise it from its first bytes and what to record when reading it.

    ``artifact`` says whether files of this format are model/data artifacts (and so get checks);
    plain text, images and the like are recognised so that they are *not* treated as unknown.
    """

    name: str
    artifact: bool

    def sniff(self, head: bytes, size: int | None) -> bool: ...

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None: ...


@dataclass(frozen=True)
class PickleFact:
    """A pickle stream found somewhere in an artifact."""

    where: str
    stream: PickleStream
    note: str = ""


@dataclass(frozen=True)
class Problem:
    """Part of an artifact that could not be inspected, and why."""

    where: str
    message: str


@dataclass
class ArtifactFacts:
    """Everything the readers learnt about one file."""

    format: str
    artifact: bool
    size: int
    pickles: list[PickleFact] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    details: dict[str, list[object]] = field(default_factory=dict)
    bytes_read: int = 0

    def detail(self, key: str) -> list[object]:
        return self.details.get(key, [])


class _Counting(io.RawIOBase):
    """Counts the bytes read through it (for the 'read only what a verdict needs' promise)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Prefixed(io.RawIOBase):
    """Replays already-read head bytes in front of a non-seekable stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                data, self._head = self._head, b""
                if size < 0:
                    return data + self._rest.read()
                return data + self._rest.read(size - len(data)) if size > len(data) else data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class ReadContext:
    """Collects facts while readers walk an artifact and its nested members."""

    def __init__(self, readers: Sequence[FormatReader], limits: Limits, facts: ArtifactFacts) -> None:
        self.readers = readers
        self.limits = limits
        self.facts = facts
        self._where: list[str] = []
        self.label: str | None = None
        self.decompressed = 0
        #: The format of a whole file that is not an artifact (text, png ...), for the facts.
        self.not_artifact: str | None = None

    @property
    def where(self) -> str:
        return " > ".join(self._where)

    @property
    def depth(self) -> int:
        return len(self._where)

    def add_pickle(self, stream: PickleStream, note: str = "") -> None:
        self.facts.pickles.append(PickleFact(self.where, stream, note))

    def add_problem(self, message: str) -> None:
        self.facts.problems.append(Problem(self.where, message))

    def add_detail(self, key: str, value: object) -> None:
        self.facts.details.setdefault(key, []).append(value)

    def set_label(self, label: str) -> None:
        self.label = label

    def read_nested_problem(self, where: str, message: str) -> None:
        self._where.append(where)
        try:
            self.add_problem(message)
        finally:
            self._where.pop()

    def read_nested_pickle(self, where: str, stream: PickleStream, note: str = "") -> None:
        self._where.append(where)
        try:
            self.add_pickle(stream, note)
        finally:
            self._where.pop()

    def read_nested(self, raw: BinaryIO, size: int | None, where: str) -> str | None:
        """Sniff and read a member or decompressed stream; return its format name (None: not an
        artifact format, e.g. text)."""
        if self.depth >= self.limits.max_depth:
            self._where.append(where)
            self.add_problem(
                f"nested deeper than {self.limits.max_depth} levels ({cap_hint('max_depth')}); not inspected"
            )
            self._where.pop()
            return "too-deep"
        self._where.append(where)
        outer_label, self.label = self.label, None
        try:
            return self.read_stream(raw, size)
        finally:
            self._where.pop()
            self.label = outer_label

    def read_stream(self, raw: BinaryIO, size: int | None) -> str | None:
        head = raw.read(HEAD_SIZE)
        if _seekable(raw):
            raw.seek(0)
            stream: BinaryIO = raw
        else:
            stream = io.BufferedReader(_Prefixed(head, raw), buffer_size=1 << 16)
        reader = pick_reader(self.readers, head, size)
        if reader is not None and reader.name != "pickle":
            prefix = importing_pickle_prefix(head)
            if prefix is not None:
                self.add_pickle(prefix, f"the first bytes also form a pickle stream (a {reader.name} polyglot)")
                if not reader.artifact:
                    return "pickle-polyglot"
        if reader is None:
            if not head:
                if size:
                    self.add_problem(f"no data, though {size} bytes are declared (truncated or crafted)")
                    return "unknown"
                return None
            self.add_problem("format not recognised from its content, so it cannot be shown to hold no pickle")
            return "unknown"
        if not reader.artifact:
            if not self._where and head:
                self.not_artifact = reader.name
            return None
        reader.read(stream, size, self)
        return self.label or reader.name


def pick_reader(readers: Sequence[FormatReader], head: bytes, size: int | None) -> FormatReader | None:
    for reader in readers:
        if reader.sniff(head, size):
            return reader
    return None


def sniff_path(path: Path, readers: Sequence[FormatReader]) -> tuple[str | None, bool]:
    """The format of a regular file from its first bytes: (name, is_artifact). Unknown binary
    content is ``("unknown", True)``; empty files are ``(None, False)``. Anything but a regular
    file (a directory, a FIFO, a device) raises OSError, without blocking on a FIFO."""
    handle, info = _open_regular(path)
    with handle:
        size = info.st_size
        head = handle.read(HEAD_SIZE)
    if not head:
        return None, False
    reader = pick_reader(readers, head, size)
    if reader is None:
        return "unknown", True
    if not reader.artifact and importing_pickle_prefix(head) is not None:
        return "pickle-polyglot", True
    return reader.name, reader.artifact


def importing_pickle_prefix(head: bytes) -> PickleStream | None:
    """The pickle stream that the first bytes form, if they form a complete one that imports a
    global: files that are also valid images, tars or GGUF headers must not hide one (the
    unpickler ignores whatever follows STOP)."""
    stream = read_pickle(ByteReader(io.BytesIO(head), size=len(head)))
    return stream if stream.complete and stream.imports else None


def analyze_path(path: Path, readers: Sequence[FormatReader], limits: Limits | None = None) -> ArtifactFacts:
    """Read a file with the readers and return what they found. Never raises for bad content:
    unreadable or unparseable parts become problems."""
    limits = limits or Limits()
    try:
        handle, info = _open_regular(path)
    except _NotRegularFile:
        facts = ArtifactFacts(format="special", artifact=True, size=0)
        facts.problems.append(Problem("", "not a regular file"))
        return facts
    except OSError as exc:
        facts = ArtifactFacts(format="unreadable", artifact=True, size=0)
        facts.problems.append(Problem("", f"cannot be read: {exc.strerror or exc}"))
        return facts
    with handle:
        counting = _Counting(handle)
        facts = ArtifactFacts(format="unknown", artifact=True, size=info.st_size)
        ctx = ReadContext(readers, limits, facts)
        try:
            name = ctx.read_stream(counting, info.st_size)  # type: ignore[arg-type]
        except OSError as exc:
            ctx.add_problem(f"read error: {exc}")
            name = "unreadable"
        except Exception as exc:
            ctx.add_problem(
                f"internal error while reading ({type(exc).__name__}: {exc}); the file could not "
                "be fully inspected; please report this to pytest-aisupply"
            )
            name = ctx.label or "unknown"
        facts.format = name or ctx.not_artifact or ("text" if info.st_size else "empty")
        facts.artifact = name is not None
        facts.bytes_read = counting.count
        return facts


class _NotRegularFile(OSError):
    """A FIFO, socket or device: never read (a FIFO would block)."""


def _open_regular(path: Path) -> tuple[BinaryIO, os.stat_result]:
    """Open a regular file for reading. The open does not block on a FIFO (O_NONBLOCK), and
    anything but a regular file is refused before a byte is read."""
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | nonblocking)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(info.st_mode):
            raise _NotRegularFile(errno.EINVAL, "not a regular file", str(path))
        if nonblocking:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), info
    except BaseException:
        os.close(fd)
        raise


def _seekable(raw: BinaryIO) -> bool:
    try:
        return raw.seekable()
    except (AttributeError, OSError, ValueError):
        return False
