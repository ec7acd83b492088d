"""Reader for numpy ``.npy`` files: the header only, unless the array holds objects (a pickle).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from typing import BinaryIO

from ..settings.limits import cap_hint
from .bytestream import ByteReader, TruncatedError
from .core import ReadContext
from .pickle import read_pickles
from .pickles import record_stream


def descr_has_objects(descr: object) -> bool:
    """Whether a numpy dtype description (``'|O'``, ``'<f8'``, or a structured list) holds
    Python objects anywhere: ``O``, or ``T`` (numpy 2's StringDType, also stored as a pickle)."""
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith(("O", "T"))
    if isinstance(descr, (list, tuple)):
        return any(descr_has_objects(part) for part in descr)
    return False


#: The type codes numpy writes for data without objects: bool, integers, floats, complex, bytes,
#: str, void, datetime and timedelta with their unit.
_PLAIN_DESCR = re.compile(r"[<>|=]?(?:[?biufcSUVa][0-9]*|[mM]8(?:\[[0-9]*[A-Za-z]+\])?)\Z")


def descr_is_plain(descr: object, depth: int = 0) -> bool:
    """Whether a dtype description is one that numpy writes for data without objects (numpy reads
    any string ``numpy.dtype`` accepts, such as ``'object'`` or ``'i4,O'``, which hold objects)."""
    if depth > 32:
        return False
    if isinstance(descr, str):
        return bool(_PLAIN_DESCR.match(descr))
    if isinstance(descr, list):
        return all(
            isinstance(field, tuple)
            and len(field) in (2, 3)
            and isinstance(field[0], (str, tuple))
            and descr_is_plain(field[1], depth + 1)
            and (len(field) == 2 or _is_shape(field[2]))
            for field in descr
        )
    return False


def _is_shape(value: object) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return value >= 0
    return isinstance(value, tuple) and all(isinstance(dim, int) and not isinstance(dim, bool) for dim in value)


#: Headers up to this length are parsed once per process: a data folder's files share a few
#: headers (same dtype and shape), and ``ast.literal_eval`` compiles each one.
_CACHED_HEADER = 1024


def _header_literal(text: str) -> object:
    """``ast.literal_eval`` of a header (raises as it does); the same text gives the same value."""
    if len(text) > _CACHED_HEADER:
        return ast.literal_eval(text)
    return _cached_literal(text)


@lru_cache(maxsize=512)
def _cached_literal(text: str) -> object:
    return ast.literal_eval(text)


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
            header = _header_literal(text.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError) as exc:
            ctx.add_problem(f".npy header is not a valid Python literal: {type(exc).__name__}")
            return
        if not isinstance(header, dict) or "descr" not in header:
            ctx.add_problem(".npy header has no 'descr' entry; cannot tell whether it holds objects")
            return
        descr = header["descr"]
        if not descr_has_objects(descr):
            if not descr_is_plain(descr):
                ctx.add_problem(
                    f".npy dtype {descr!r:.100} is not one numpy writes for plain data; numpy may read it as "
                    "holding objects (stored as a pickle), so it cannot be shown safe"
                )
            return
        ctx.set_label("numpy-object")
        streams, _ = read_pickles(reader, max_opcodes=ctx.limits.max_pickle_opcodes)
        for stream in streams:
            # Like any stream: what it hands to unpickling callables is read too.
            record_stream(ctx, stream, "data of an object array (numpy stores object arrays as a pickle)")
