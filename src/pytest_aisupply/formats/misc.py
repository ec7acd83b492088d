"""Recognisers for HDF5 (which cannot hold a pickle) and for files that are not artifacts at all
(text, images, documents, executables). GGUF, ONNX, SavedModel and Keras have their own modules;
``GGUF``, ``GgufReader`` and ``OnnxReader`` stay importable from here (imported when asked for: the
sniff needs this module for every file, those readers only for their own formats).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from .core import ReadContext

__all__ = ["HDF5", "NOT_ARTIFACTS", "MagicReader", "TextReader"]


class MagicReader:
    """A format recognised by fixed bytes at an offset, read no further."""

    def __init__(self, name: str, magics: tuple[tuple[int, bytes], ...], *, artifact: bool) -> None:
        self.name = name
        self.artifact = artifact
        self._magics = magics

    def sniff(self, head: bytes, size: int | None) -> bool:
        return any(head[offset : offset + len(magic)] == magic for offset, magic in self._magics)

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        return None


HDF5 = MagicReader("hdf5", tuple((offset, b"\x89HDF\r\n\x1a\n") for offset in (0, 512, 1024, 2048)), artifact=True)

# Formats that hold no model code and no pickle: recognised so they are not "unknown".
NOT_ARTIFACTS = [
    MagicReader("png", ((0, b"\x89PNG\r\n\x1a\n"),), artifact=False),
    MagicReader("jpeg", ((0, b"\xff\xd8\xff"),), artifact=False),
    MagicReader("gif", ((0, b"GIF87a"), (0, b"GIF89a")), artifact=False),
    MagicReader("webp", ((8, b"WEBP"),), artifact=False),
    MagicReader("tiff", ((0, b"II*\x00"), (0, b"MM\x00*")), artifact=False),
    MagicReader("pdf", ((0, b"%PDF-"),), artifact=False),
    MagicReader("elf", ((0, b"\x7fELF"),), artifact=False),
    MagicReader("sqlite", ((0, b"SQLite format 3\x00"),), artifact=False),
    MagicReader("parquet", ((0, b"PAR1"),), artifact=False),
    MagicReader("arrow", ((0, b"ARROW1"),), artifact=False),
    MagicReader("wasm", ((0, b"\x00asm"),), artifact=False),
    MagicReader("font", ((0, b"wOFF"), (0, b"wOF2"), (0, b"OTTO")), artifact=False),
    MagicReader("audio", ((0, b"OggS"), (0, b"fLaC"), (0, b"ID3"), (8, b"WAVE")), artifact=False),
    MagicReader("video", ((4, b"ftyp"),), artifact=False),
]

_CONTROL = set(range(0x00, 0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B}


class TextReader:
    """UTF-8 or UTF-16 text (source, JSON, CSV, YAML, Markdown): not an artifact."""

    name = "text"
    artifact = False

    def sniff(self, head: bytes, size: int | None) -> bool:
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            return True
        if b"\x00" in head:
            return False
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            cut_at_end = exc.start >= len(head) - 3 and size is not None and size > len(head)
            if not cut_at_end:
                return False
        controls = sum(1 for byte in head if byte in _CONTROL)
        return controls * 100 <= len(head)

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        return None


def __getattr__(name: str) -> Any:
    """``GGUF``, ``GgufReader`` and ``OnnxReader``, from their own modules on demand."""
    if name == "GGUF":
        return importlib.import_module(f"{__package__}.gguf").GgufReader()
    if name in ("GgufReader", "OnnxReader"):
        return getattr(importlib.import_module(f"{__package__}.{name[:-6].lower()}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
