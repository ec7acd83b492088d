"""Readers for compressed streams (gzip, bz2, xz, lzma, zlib, zstd, lz4), as joblib writes them.

The decompressed content is sniffed and read like any file, through a stream that enforces the
decompression caps, so a compression bomb ends as a finding.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

from ..settings.limits import cap_hint
from .core import ReadContext

#: What a decompressor raises on a corrupt or truncated stream.
_CORRUPT = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)


class LimitExceeded(Exception):
    """A decompression cap was hit."""


class _Guarded(io.RawIOBase):
    """Decompressed bytes, stopped once they exceed the size or ratio caps."""

    def __init__(self, stream: Any, source: BinaryIO, ctx: ReadContext) -> None:
        self._stream = stream
        self._source_start = _tell(source)
        self._source = source
        self._ctx = ctx
        self.produced = 0
        #: What stopped the decompression (a truncated or corrupt stream), once it has.
        self.broken: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.broken is not None:
            return b""
        try:
            # read1: one step of the decompressor, so that what it gave before the damage is not
            # lost with the exception (GzipFile.read drops it; an unpickler peeking sees it).
            read = getattr(self._stream, "read1", self._stream.read)
            data: bytes = read(size if size >= 0 else 1 << 20)
        except _CORRUPT as exc:
            # Loaders unpickle what came out before the damage: the stream ends here for the
            # readers too, and the damage is reported once they are done.
            self.broken = exc
            return b""
        self.produced += len(data)
        self._ctx.decompressed += len(data)
        limits = self._ctx.limits
        if self._ctx.decompressed > limits.max_decompressed_bytes:
            raise LimitExceeded(
                f"more than {limits.max_decompressed_bytes} decompressed bytes ({cap_hint('max_decompressed_bytes')})"
            )
        if self.produced >= limits.bomb_min_bytes:
            consumed = max(_tell(self._source) - self._source_start, 1)
            if self.produced > limits.bomb_ratio * consumed:
                raise LimitExceeded(
                    f"expands more than {limits.bomb_ratio}x ({consumed} bytes gave {self.produced}): a "
                    f"compression bomb ({cap_hint('bomb_ratio')})"
                )
        # Streams nested in streams: each may stay under the ratio while the file as a whole
        # expands without bound. The total is held to the same ratio of the file's size.
        total, size = self._ctx.decompressed, self._ctx.facts.size
        if total >= limits.bomb_min_bytes and total > limits.bomb_ratio * max(size, 1):
            raise LimitExceeded(
                f"expands the {size}-byte file to more than {limits.bomb_ratio}x its size ({total} bytes "
                f"decompressed): a compression bomb ({cap_hint('bomb_ratio')})"
            )
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _tell(stream: BinaryIO) -> int:
    try:
        return stream.tell()
    except (OSError, AttributeError, ValueError):
        return 0


class _ZlibStream(io.RawIOBase):
    """A zlib stream (joblib's 'zlib' compressor writes a bare one) as a readable file."""

    def __init__(self, raw: BinaryIO, first: bytes = b"") -> None:
        self._raw = raw
        self._inflater = zlib.decompressobj()
        self._pending = b""
        #: Bytes of the stream already read from ``raw`` (a header check read them).
        self._first = first

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        want = size if size >= 0 else 1 << 20
        while len(self._pending) < want and not self._inflater.eof:
            data = self._inflater.unconsumed_tail
            if not data and self._first:
                data, self._first = self._first, b""
            if not data:
                data = self._raw.read(1 << 16)
                if not data:
                    if self._pending:
                        break
                    raise EOFError("zlib stream ends before its end marker")
            self._pending += self._inflater.decompress(data, max(want - len(self._pending), 1))
        result, self._pending = self._pending[:want], self._pending[want:]
        return result


Opener = Callable[[BinaryIO], Any]


class CompressedReader:
    artifact = True

    def __init__(self, name: str, magic: bytes, opener: Opener, check: Callable[[bytes], bool] | None = None) -> None:
        self.name = name
        self._magic = magic
        self._opener = opener
        self._check = check

    def sniff(self, head: bytes, size: int | None) -> bool:
        if not head.startswith(self._magic):
            return False
        return self._check(head) if self._check else True

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        guarded: _Guarded | None = None
        try:
            guarded = _Guarded(self._opener(raw), raw, ctx)
            stream = io.BufferedReader(guarded, buffer_size=1 << 16)
            inner = ctx.read_nested(stream, None, f"after {self.name} decompression")
        except LimitExceeded as exc:
            ctx.add_problem(f"{self.name} stream {exc}; not inspected further")
            inner = None
        except _CORRUPT as exc:
            ctx.add_problem(f"{self.name} stream is corrupt or truncated: {exc}")
            inner = None
        if guarded is not None and guarded.broken is not None:
            ctx.add_problem(
                f"{self.name} stream is corrupt or truncated: {guarded.broken} (what came before the damage, "
                "which loaders unpickle, was read)"
            )
        ctx.set_label(f"{inner} ({self.name})" if inner else self.name)


def _zlib_header_ok(head: bytes) -> bool:
    if len(head) < 2 or head[0] & 0x0F != 8 or (head[0] << 8 | head[1]) % 31:
        return False
    try:
        zlib.decompressobj().decompress(head, 64)
    except zlib.error:
        return False
    return True


def _lzma_alone_ok(head: bytes) -> bool:
    if len(head) < 13:
        return False
    try:
        lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(head, 64)
    except lzma.LZMAError:
        return False
    return True


def _open_zstd(raw: BinaryIO) -> BinaryIO:
    try:
        from compression import zstd  # type: ignore[import-not-found]  # Python 3.14+
    except ImportError as exc:
        raise OSError("zstd needs Python 3.14 or newer to inspect") from exc
    return zstd.ZstdFile(raw)  # type: ignore[no-any-return]


def _open_lz4(raw: BinaryIO) -> BinaryIO:
    try:
        import lz4.frame  # type: ignore[import-not-found]
    except ImportError as exc:
        raise OSError("lz4 content cannot be inspected without the 'lz4' package") from exc
    return lz4.frame.open(raw)  # type: ignore[no-any-return]


#: joblib's format before 0.10 ("ZF" files): "ZF", the length of the data in hex padded to 19
#: characters, maybe one more space, then a zlib stream (joblib/numpy_pickle_compat.py,
#: read_zfile; joblib.load picks it by the prefix: numpy_pickle_utils._detect_compressor).
_ZFILE_HEADER = 2 + 19


def _zfile_header_ok(head: bytes) -> bool:
    if len(head) < _ZFILE_HEADER + 2:
        return False
    try:
        int(head[2:_ZFILE_HEADER], 16)
    except ValueError:
        return False
    start = _ZFILE_HEADER + (head[_ZFILE_HEADER : _ZFILE_HEADER + 1] == b" ")
    return _zlib_header_ok(head[start:])


def _open_zfile(raw: BinaryIO) -> BinaryIO:
    header = raw.read(_ZFILE_HEADER)
    if len(header) < _ZFILE_HEADER:
        raise EOFError("joblib 'ZF' header is truncated")
    first = raw.read(1)
    return _ZlibStream(raw, b"" if first == b" " else first)  # type: ignore[return-value]


def compressed_readers() -> list[CompressedReader]:
    return [
        CompressedReader("gzip", b"\x1f\x8b", lambda raw: gzip.GzipFile(fileobj=raw, mode="rb")),
        CompressedReader("bz2", b"BZh", lambda raw: bz2.BZ2File(raw), lambda head: head[3:4].isdigit()),
        CompressedReader("xz", b"\xfd7zXZ\x00", lambda raw: lzma.LZMAFile(raw, format=lzma.FORMAT_XZ)),
        CompressedReader("lzma", b"\x5d\x00", lambda raw: lzma.LZMAFile(raw, format=lzma.FORMAT_ALONE), _lzma_alone_ok),
        CompressedReader("zstd", b"\x28\xb5\x2f\xfd", _open_zstd),
        CompressedReader("lz4", b"\x04\x22\x4d\x18", _open_lz4),
        CompressedReader("zlib", b"", lambda raw: _ZlibStream(raw), _zlib_header_ok),
        CompressedReader("joblib-zfile", b"ZF", _open_zfile, _zfile_header_ok),
    ]
