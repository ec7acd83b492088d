"""Reader for numpy ``.npy`` files: the header only, unless the array holds objects (a pickle)."""

from __future__ import annotations

import ast
from typing import BinaryIO

from ..limits import cap_hint
from .bytestream import ByteReader, TruncatedError
from .core import ReadContext
from .pickle import read_pickles


def descr_has_objects(descr: object) -> bool:
    """Whether a numpy dtype description (``'|O'``, ``'<f8'``, or a structured list) holds
    Python objects anywhere."""
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, (list, tuple)):
        return any(descr_has_objects(part) for part in descr)
    return False


class NpyReader:
    name = "numpy"
    artifact = True

    def sniff(self, head: bytes, size: int | None) -> bool:
        return head.startswith(b"\x93NUMPY")

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        reader = ByteReader(raw, size=size)
        try:
            reader.read(6)
            major, _minor = reader.read(2)
            if major == 1:
                length = int.from_bytes(reader.read(2), "little")
            elif major in (2, 3):
                length = int.from_bytes(reader.read(4), "little")
            else:
                ctx.add_problem(f"unknown .npy format version {major}; cannot be inspected")
                return
            cap = ctx.limits.max_header_bytes
            if length > cap:
                ctx.add_problem(
                    f".npy header of {length} bytes is over the {cap}-byte cap ({cap_hint('max_header_bytes')})"
                )
                return
            text = reader.read(length).decode("utf-8" if major == 3 else "latin-1")
        except (TruncatedError, UnicodeDecodeError) as exc:
            ctx.add_problem(f".npy header cannot be read: {exc}")
            return
        try:
            header = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError) as exc:
            ctx.add_problem(f".npy header is not a valid Python literal: {type(exc).__name__}")
            return
        if not isinstance(header, dict) or "descr" not in header:
            ctx.add_problem(".npy header has no 'descr' entry; cannot tell whether it holds objects")
            return
        if not descr_has_objects(header["descr"]):
            return
        ctx.set_label("numpy-object")
        streams, _ = read_pickles(reader, max_opcodes=ctx.limits.max_pickle_opcodes)
        for stream in streams:
            ctx.add_pickle(stream, "data of an object array (numpy stores object arrays as a pickle)")
