"""The built-in readers in sniffing order, each reader's module imported on the first head that could be its format.

A run over pickles, ``.npy`` and safetensors files has no use for ``tarfile``, the decompressors or
the protobuf walkers: a :class:`LazyReader` stands for a reader of another module and holds a cheap
test of the head declared beside it here, which every head the reader recognises passes (a
*necessary* condition). A head that fails the test is not that format and the module stays
unimported; a head that passes is sniffed by the reader itself, imported then. A test that rejected
a head its reader accepts would leave a file "unknown" or, worse, picked by a later reader: the
tests run the fuzz seeds of every format, the repository's data files, real magics with junk after
them, mutations and random heads through both lists (``tests/formats/test_readers.py``).

The pickle readers (the walker is imported by :mod:`.core` anyway), HDF5, the media recognisers and
text are light and stay themselves. The headerless pickle and text sniffs are heuristics with no
cheap condition; they come last, after every other reader declined.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from .heads import is_tar_head
from .misc import HDF5, NOT_ARTIFACTS, TextReader
from .pickles import HeaderlessPickleReader, PickleReader

if TYPE_CHECKING:
    from .core import FormatReader, ReadContext

Head = Callable[[bytes], bool]


class LazyReader:
    """A built-in reader whose module is imported at the first head that passes ``could_be``."""

    def __init__(self, name: str, module: str, attribute: str, could_be: Head, *, artifact: bool = True) -> None:
        self.name = name
        self.artifact = artifact
        self.module = f"{__package__}.{module}"
        self.attribute = attribute
        self.could_be = could_be
        self._reader: FormatReader | None = None

    @property
    def reader(self) -> FormatReader:
        """The reader itself (its module imported now if it was not yet)."""
        if self._reader is None:
            self._reader = _load(self.module, self.attribute, self.name)
        return self._reader

    @property
    def loaded(self) -> bool:
        return self._reader is not None

    def sniff(self, head: bytes, size: int | None) -> bool:
        return self.could_be(head) and self.reader.sniff(head, size)

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        self.reader.read(raw, size, ctx)

    def __repr__(self) -> str:
        return f"<LazyReader {self.name} ({'loaded' if self._reader is not None else 'not loaded'})>"


def _load(module: str, attribute: str, name: str) -> FormatReader:
    value = getattr(importlib.import_module(module), attribute)
    if attribute == "compressed_readers":
        return next(reader for reader in value() if reader.name == name)  # type: ignore[no-any-return]
    return value() if isinstance(value, type) else value  # type: ignore[no-any-return]


# -- the necessary conditions, one per lazy reader: the first test of its sniff (the tar reader's whole sniff) --


def _starts(*magics: bytes) -> Head:
    return lambda head: head.startswith(magics)


def _zip(head: bytes) -> bool:
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")


def _safetensors(head: bytes) -> bool:
    return head[8:9] == b"{"


def _onnx(head: bytes) -> bool:
    return len(head) >= 4 and head[0] == 0x08


def _zlib(head: bytes) -> bool:
    return len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0


_COMPRESSED = "compression", "compressed_readers"


def _lazy_readers() -> tuple[list[FormatReader], list[FormatReader]]:
    """The readers before HDF5 and the lazy ones after it, in sniffing order (see :func:`builtin_readers`)."""
    first: list[FormatReader] = [
        LazyReader("zip", "archives", "ZipReader", _zip),
        LazyReader("tar", "archives", "TarReader", is_tar_head),
        LazyReader("7z", "archives", "SEVEN_ZIP", _starts(b"7z\xbc\xaf\x27\x1c")),
        LazyReader("rar", "archives", "RAR", _starts(b"Rar!\x1a\x07")),
        LazyReader("gzip", *_COMPRESSED, _starts(b"\x1f\x8b")),
        LazyReader("bz2", *_COMPRESSED, _starts(b"BZh")),
        LazyReader("xz", *_COMPRESSED, _starts(b"\xfd7zXZ\x00")),
        LazyReader("lzma", *_COMPRESSED, _starts(b"\x5d\x00")),
        LazyReader("zstd", *_COMPRESSED, _starts(b"\x28\xb5\x2f\xfd")),
        LazyReader("lz4", *_COMPRESSED, _starts(b"\x04\x22\x4d\x18")),
        LazyReader("joblib-zfile", *_COMPRESSED, _starts(b"ZF")),
        LazyReader("numpy", "numpy", "NpyReader", _starts(b"\x93NUMPY")),
        LazyReader("safetensors", "safetensors", "SafetensorsReader", _safetensors),
        LazyReader("gguf", "gguf", "GgufReader", _starts(b"GGUF")),
    ]
    after_hdf5: list[FormatReader] = [
        LazyReader("savedmodel", "savedmodel", "SavedModelReader", _starts(b"\x08\x01\x12")),
        LazyReader("onnx", "onnx", "OnnxReader", _onnx),
    ]
    return first, after_hdf5


def builtin_readers() -> list[FormatReader]:
    """The built-in readers, strongest evidence first: fixed magic bytes, then weaker signatures
    (zlib, headerless pickle) that must also parse, then text. Readers of other modules than the
    pickle, HDF5, media and text ones are :class:`LazyReader` proxies."""
    first, after_hdf5 = _lazy_readers()
    return [
        PickleReader(),
        *first,
        HDF5,
        *after_hdf5,
        *NOT_ARTIFACTS,
        LazyReader("zlib", *_COMPRESSED, _zlib),
        HeaderlessPickleReader(),
        TextReader(),
    ]


def eager_builtin_readers() -> list[FormatReader]:
    """:func:`builtin_readers` with every reader itself (every reader module imported now): the
    same verdicts, for the differential tests and for callers that keep readers across processes."""
    return [reader.reader if isinstance(reader, LazyReader) else reader for reader in builtin_readers()]
