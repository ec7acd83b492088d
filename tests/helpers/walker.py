"""Reading pickle bytes through the walker's fast path and through its general loop alone, to
show they report the same thing (the fast path is an optimisation, never a second opinion)."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

from pytest_aisupply.formats.bytestream import ByteReader
from pytest_aisupply.formats.pickle import read_pickles


class Trickle(io.RawIOBase):
    """A stream that hands out at most ``step`` bytes per read and cannot seek: the reader's
    buffer then ends inside opcodes and arguments everywhere."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._step, len(self._data) - self._pos)
        buffer[:size] = self._data[self._pos : self._pos + size]
        self._pos += size
        return size


def reading(data: bytes, *, fast: bool, step: int | None = None, max_opcodes: int = 1_000_000) -> list[Any]:
    """Everything read_pickles reports on ``data`` (streams, trailing offset, final offset)."""
    raw: Any = io.BytesIO(data) if step is None else Trickle(data, step)
    reader = ByteReader(raw, size=len(data))
    streams, trailing = read_pickles(reader, max_opcodes=max_opcodes, fast=fast)
    return [[dataclasses.asdict(stream) for stream in streams], trailing, reader.offset]


def first_difference(data: bytes, *, steps: tuple[int, ...] = (5, 61), max_opcodes: int = 1_000_000) -> str | None:
    """None when the fast path, over whole buffers and over ``steps``-byte reads, reports exactly
    what the general loop does; otherwise a description of the first difference."""
    reference = reading(data, fast=False, max_opcodes=max_opcodes)
    for step in (None, *steps):
        fast = reading(data, fast=True, step=step, max_opcodes=max_opcodes)
        if fast != reference:
            return f"reads of {step or 'any'} bytes: fast path {fast!r} != general loop {reference!r}"
    return None
