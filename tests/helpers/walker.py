"""Reading pickle bytes through every path of the walker, to show they report the same thing:
its fast path and its general loop, and, where the package was built with mypyc, the compiled
module and its Python source (the fast path and the compiled build are optimisations, never a
second opinion)."""

from __future__ import annotations

import dataclasses
import io
from functools import cache
from types import ModuleType
from typing import Any

import pytest_aisupply.formats.pickle as installed
from pytest_aisupply.formats.bytestream import ByteReader
from pytest_aisupply.formats.walker_source import load_walker_source


def is_compiled() -> bool:
    """Whether the installed walker is the mypyc-compiled module (not its .py source)."""
    return not installed.__file__.endswith(".py")


@cache
def python_source() -> ModuleType:
    """The walker's .py source run as Python, whatever was installed."""
    return load_walker_source("pytest_aisupply.formats._pickle_as_python")


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


def reading(
    data: bytes, *, fast: bool, step: int | None = None, max_opcodes: int = 1_000_000, module: Any = installed
) -> list[Any]:
    """Everything read_pickles reports on ``data`` (streams, trailing offset, final offset)."""
    raw: Any = io.BytesIO(data) if step is None else Trickle(data, step)
    reader = ByteReader(raw, size=len(data))
    streams, trailing = module.read_pickles(reader, max_opcodes=max_opcodes, fast=fast)
    return [[dataclasses.asdict(stream) for stream in streams], trailing, reader.offset]


def first_difference(data: bytes, *, steps: tuple[int, ...] = (5, 61), max_opcodes: int = 1_000_000) -> str | None:
    """None when every path reports exactly what the Python source's general loop does: the fast
    path over whole buffers and over ``steps``-byte reads, and the compiled module's general loop
    and fast path where it is installed; otherwise a description of the first difference."""
    source = python_source() if is_compiled() else installed
    reference = reading(data, fast=False, max_opcodes=max_opcodes, module=source)
    paths: list[tuple[str, dict[str, Any]]] = [
        (f"fast path, reads of {step or 'any'} bytes", {"fast": True, "step": step}) for step in (None, *steps)
    ]
    modules = [("python", source)] + ([("compiled", installed)] if is_compiled() else [])
    if is_compiled():
        paths.append(("general loop", {"fast": False}))
    for module_name, module in modules:
        for path_name, options in paths:
            if module_name == "python" and path_name == "general loop":
                continue
            other = reading(data, max_opcodes=max_opcodes, module=module, **options)
            if other != reference:
                return f"{module_name} {path_name}: {other!r} != python general loop: {reference!r}"
    return None
