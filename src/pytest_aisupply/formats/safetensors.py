"""Reader for safetensors files: validates the header and never reads tensor data.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ..settings.limits import cap_hint
from .bytestream import ByteReader, TruncatedError
from .core import ReadContext

#: Bits per element of each dtype the safetensors format defines.
DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


@dataclass
class SafetensorsHeader:
    """What the header says and everything wrong with it."""

    header_size: int = 0
    tensors: int = 0
    problems: list[str] = field(default_factory=list)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def validate_header(reader: ByteReader, size: int | None, cap: int) -> SafetensorsHeader:
    result = SafetensorsHeader()
    problems = result.problems
    if size is not None and size < 8:
        problems.append(f"file is {size} bytes, too short for the 8-byte header length")
        return result
    try:
        length = int.from_bytes(reader.read(8), "little")
    except TruncatedError:
        problems.append("file is too short for the 8-byte header length")
        return result
    result.header_size = length
    if length > cap:
        problems.append(f"header length {length} is over the {cap}-byte cap ({cap_hint('max_header_bytes')})")
        return result
    if size is not None and length > size - 8:
        problems.append(f"header length {length} points past the end of the file ({size} bytes)")
        return result
    try:
        raw = reader.read(length)
    except TruncatedError:
        problems.append(f"header length {length} points past the end of the data")
        return result
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"header is not valid UTF-8 (byte {exc.start})")
        return result
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        problems.append(f"header is not valid JSON: {exc}")
        return result
    if not isinstance(header, dict):
        problems.append("header is not a JSON object")
        return result
    data_size = None if size is None else size - 8 - length
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in entry.items()
            ):
                problems.append("__metadata__ must map strings to strings")
            continue
        span = _check_tensor(name, entry, problems)
        if span is not None:
            spans.append((span[0], span[1], name))
    result.tensors = len(spans)
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin < position:
            problems.append(f"tensor {name!r} overlaps the previous tensor (starts at {begin}, before {position})")
        elif begin > position:
            problems.append(f"gap of {begin - position} bytes before tensor {name!r}: offsets do not cover the data")
        position = max(position, end)
    if data_size is not None and position != data_size:
        if position > data_size:
            problems.append(f"tensor data ends at {position}, past the {data_size} bytes after the header")
        else:
            problems.append(
                f"tensors cover {position} of the {data_size} bytes after the header; "
                f"{data_size - position} bytes are not part of any tensor"
            )
    return result


def _check_tensor(name: str, entry: object, problems: list[str]) -> tuple[int, int] | None:
    if not isinstance(entry, dict):
        problems.append(f"tensor {name!r}: entry is not an object")
        return None
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    unexpected = sorted(set(entry) - {"dtype", "shape", "data_offsets"})
    if unexpected:
        problems.append(f"tensor {name!r}: unexpected keys {', '.join(unexpected)}")
    if dtype not in DTYPE_BITS:
        problems.append(f"tensor {name!r}: unknown dtype {dtype!r}")
        return None
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        problems.append(f"tensor {name!r}: shape must be a list of non-negative integers")
        return None
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
    ):
        problems.append(f"tensor {name!r}: data_offsets must be two non-negative integers")
        return None
    begin, end = offsets
    if end < begin:
        problems.append(f"tensor {name!r}: data_offsets end {end} is before begin {begin}")
        return None
    expected_bits = math.prod(shape) * DTYPE_BITS[dtype]
    expected = (expected_bits + 7) // 8
    if expected != end - begin:
        problems.append(
            f"tensor {name!r}: {dtype} x {shape} needs {expected} bytes but data_offsets span {end - begin}"
        )
    return begin, end


class SafetensorsReader:
    name = "safetensors"
    artifact = True

    def sniff(self, head: bytes, size: int | None) -> bool:
        if len(head) < 10:
            return False
        length = int.from_bytes(head[:8], "little")
        return length >= 2 and head[8:9] == b"{" and head[9:10] in b'"} \n\t\r'

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        header = validate_header(ByteReader(raw, size=size), size, ctx.limits.max_header_bytes)
        ctx.add_detail("safetensors", (ctx.where, header))


def check_safetensors_file(raw: BinaryIO, size: int | None, cap: int) -> SafetensorsHeader:
    """Validate a file expected to be safetensors whatever its content sniffed as."""
    return validate_header(ByteReader(raw, size=size), size, cap)
