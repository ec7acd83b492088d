"""Readers for files that are pickle streams: raw pickles, joblib dumps, legacy torch files."""

from __future__ import annotations

import io
from typing import BinaryIO

from .bytestream import ByteReader
from .core import ReadContext
from .pickle import TORCH_LEGACY_MAGIC, PickleStream, looks_like_pickle_start, read_pickle, read_pickles


def record_pickles(raw: BinaryIO, size: int | None, ctx: ReadContext, *, note: str = "") -> list[PickleStream]:
    """Read every consecutive pickle stream from ``raw`` into the context."""
    streams, trailing = read_pickles(ByteReader(raw, size=size))
    for stream in streams:
        ctx.add_pickle(stream, note)
    if trailing is not None:
        ctx.add_detail("trailing_bytes_at", trailing)
    return streams


def pickle_label(streams: list[PickleStream]) -> str:
    if streams and streams[0].first_value == TORCH_LEGACY_MAGIC:
        return "pytorch-legacy"
    if any(item.module.startswith("joblib.") for stream in streams for item in stream.imports):
        return "joblib"
    return "pickle"


class PickleReader:
    """Pickle streams with a PROTO header (protocols 2 to 5)."""

    name = "pickle"
    artifact = True

    def sniff(self, head: bytes, size: int | None) -> bool:
        return looks_like_pickle_start(head)

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        ctx.set_label(pickle_label(record_pickles(raw, size, ctx)))


class HeaderlessPickleReader:
    """Protocol 0 and 1 pickles, which have no header: recognised when the first bytes parse as a
    pickle (up to STOP, or up to the end of the sniffed bytes)."""

    name = "pickle"
    artifact = True

    def sniff(self, head: bytes, size: int | None) -> bool:
        if not head or head[0] == 0x80:
            return False
        stream = read_pickle(ByteReader(io.BytesIO(head), size=len(head)))
        if stream.complete:
            return stream.opcodes >= 2
        whole = size is not None and size <= len(head)
        return not whole and stream.error is not None and stream.error.startswith("truncated") and stream.opcodes >= 8

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        ctx.set_label(pickle_label(record_pickles(raw, size, ctx)))
