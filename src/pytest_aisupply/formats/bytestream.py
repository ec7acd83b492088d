"""Buffered, bounded reading of a binary stream, with cheap skipping of large payloads.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from typing import BinaryIO

CHUNK_SIZE = 1 << 16
#: Largest single read: a value the stream announces as long is read piece by piece, so memory
#: grows with the bytes that are really there, never with the length a file claims.
MAX_CHUNK = 1 << 20


class TruncatedError(Exception):
    """The stream ended before a value it announced."""


class LineTooLongError(TruncatedError):
    """A text line ran past the reader's limit: the stream may well go on (it was not cut short),
    so what follows is unknown rather than absent."""


class ByteReader:
    """Reads a binary stream through a small buffer and tracks the absolute offset.

    ``size`` is the stream's total length when known; then skips past the buffer seek instead of
    reading, and a length that points past the end is detected without reading anything.
    """

    def __init__(self, raw: BinaryIO, *, size: int | None = None, start: int = 0, cut: bool = False) -> None:
        self._raw = raw
        self._size = size
        #: The data is only the first part of the stream (a sniffed head): its end ends no line.
        self.cut = cut
        self._buf = b""
        self._pos = 0
        self._base = start
        self._eof = False
        self.bytes_read = 0
        # A copy of the bytes consumed since start_capture(), while it stays under its limit.
        self._capture: bytearray | None = None
        self._capture_from = 0
        self._capture_limit = 0

    @property
    def offset(self) -> int:
        return self._base + self._pos

    @property
    def size(self) -> int | None:
        return self._size

    def remaining(self) -> int | None:
        return None if self._size is None else self._size - self.offset

    def _fill(self, wanted: int) -> bool:
        """Make ``wanted`` bytes available at the cursor; False when the stream ends first."""
        available = len(self._buf) - self._pos
        if available >= wanted:
            return True
        if self._eof:
            return False
        self._capture_to(self._pos)
        self._capture_from = 0
        parts = [self._buf[self._pos :]]
        self._base += self._pos
        self._pos = 0
        while available < wanted:
            chunk = self._raw.read(min(max(CHUNK_SIZE, wanted - available), MAX_CHUNK))
            if not chunk:
                self._eof = True
                break
            self.bytes_read += len(chunk)
            parts.append(chunk)
            available += len(chunk)
        self._buf = b"".join(parts)
        return available >= wanted

    def window(self) -> tuple[bytes, int, int]:
        """The buffered bytes, the cursor's index in them and the absolute offset of their first
        byte: a caller may read the buffer directly and then move the cursor with :meth:`advance_to`."""
        return self._buf, self._pos, self._base

    def advance_to(self, index: int) -> None:
        """Move the cursor to ``index`` of the current :meth:`window` (bytes already buffered)."""
        if not self._pos <= index <= len(self._buf):
            raise ValueError(f"cursor index {index} outside the buffered window")
        self._pos = index

    def at_eof(self) -> bool:
        return not self._fill(1)

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return self._buf[self._pos : self._pos + n]

    def read_byte(self) -> int | None:
        if self._pos < len(self._buf) or self._fill(1):
            value = self._buf[self._pos]
            self._pos += 1
            return value
        return None

    def read(self, n: int) -> bytes:
        if not self._fill(n):
            raise TruncatedError(f"stream ends inside a {n}-byte value at offset {self.offset}")
        data = self._buf[self._pos : self._pos + n]
        self._pos += n
        return data

    def skip(self, n: int) -> None:
        """Move ``n`` bytes forward without keeping them."""
        if n < 0:
            raise ValueError("negative skip")
        remaining = self.remaining()
        if remaining is not None and n > remaining:
            raise TruncatedError(
                f"a {n}-byte value at offset {self.offset} runs past the end of the data ({remaining} bytes left)"
            )
        available = len(self._buf) - self._pos
        if n <= available:
            self._pos += n
            return
        rest = n - available
        self._capture_to(len(self._buf))
        self._capture_from = 0
        if self._capture is not None and len(self._capture) + rest > self._capture_limit:
            self._capture = None
        self._base += len(self._buf)
        self._buf = b""
        self._pos = 0
        if self._capture is None and self._size is not None and _seekable(self._raw):
            self._raw.seek(rest, 1)
            self._base += rest
            return
        while rest:
            chunk = self._raw.read(min(rest, MAX_CHUNK))
            if not chunk:
                self._eof = True
                raise TruncatedError(f"stream ends {rest} bytes before the end of a value")
            self.bytes_read += len(chunk)
            if self._capture is not None:
                self._capture += chunk
            rest -= len(chunk)
            self._base += len(chunk)

    def start_capture(self, limit: int) -> None:
        """Keep a copy of the bytes consumed from here on, as long as they stay within ``limit``
        (a larger span is given up, without reading anything more than usual)."""
        self._capture = bytearray()
        self._capture_from = self._pos
        self._capture_limit = limit

    def stop_capture(self) -> bytes | None:
        """The bytes consumed since :meth:`start_capture`, or None when they exceeded its limit."""
        self._capture_to(self._pos)
        captured = self._capture
        self._capture = None
        return None if captured is None else bytes(captured)

    def _capture_to(self, end: int) -> None:
        if self._capture is not None:
            if len(self._capture) + end - self._capture_from > self._capture_limit:
                self._capture = None
            else:
                self._capture += self._buf[self._capture_from : end]
        self._capture_from = end

    def read_line(self, keep: int, limit: int, *, unterminated: bool = False) -> bytes:
        """Read up to and including a newline; return at most ``keep`` bytes of it (no newline).

        A line longer than ``limit`` or a stream that ends before the newline raises, unless
        ``unterminated`` (and the data is not ``cut``): then the line the data ends in is
        returned without its last byte, as Python's own unpickler (``pickle._Unpickler``:
        ``readline()[:-1]``) takes it.
        """
        kept = bytearray()
        consumed = 0
        start = self.offset
        while True:
            if not self._fill(1):
                if unterminated and not self.cut:
                    return bytes(kept[: max(consumed - 1, 0)])
                raise TruncatedError(f"stream ends inside the text line starting at offset {start}")
            newline = self._buf.find(b"\n", self._pos)
            end = len(self._buf) if newline < 0 else newline
            if consumed + end - self._pos > limit:
                # Stop exactly at the limit: where a reading stops must not depend on buffering.
                self._pos += limit - consumed
                raise LineTooLongError(f"text line starting at offset {start} is longer than {limit} bytes")
            piece = self._buf[self._pos : end]
            if len(kept) < keep:
                kept += piece[: keep - len(kept)]
            consumed += len(piece)
            if newline >= 0:
                self._pos = newline + 1
                return bytes(kept)
            self._pos = end


def _seekable(raw: BinaryIO) -> bool:
    try:
        return raw.seekable()
    except (AttributeError, OSError, ValueError):
        return False
