"""Static reading of pickle streams.

Walks the opcodes of a stream and simulates only as much of the unpickler's stack and memo as is
needed to name every global the stream would import. Nothing is unpickled and no payload bigger
than a short string is kept in memory: byte and string payloads are skipped by their length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from .bytestream import ByteReader, TruncatedError

#: Highest pickle protocol this reader knows; a PROTO opcode above it is a structural problem.
HIGHEST_PROTOCOL: Final = 5
#: Longest string payload whose value is kept (module and attribute names are far shorter).
KEPT_STRING_CHARS: Final = 256
#: Longest protocol-0 text line accepted (a quoted STRING may legitimately be long).
MAX_LINE_BYTES: Final = 64 << 20
#: Torch's legacy (pre-zip) checkpoints start with this number pickled as a LONG1.
TORCH_LEGACY_MAGIC: Final = 0x1950A86A20F9469CFC6C

_DENSE_MEMO_LIMIT: Final = 1 << 24
_INT_LINE = re.compile(rb"[-+]?[0-9]+\Z")
_LONG_LINE = re.compile(rb"[-+]?[0-9]+L?\Z")


class PickleStructureError(Exception):
    """The bytes are not a well-formed pickle stream."""


@dataclass(frozen=True)
class PickleImport:
    """A global the stream would import when unpickled."""

    module: str
    name: str
    opcode: str
    offset: int

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass
class PickleStream:
    """What a static reading of one pickle stream found."""

    start: int
    protocol: int = 0
    end: int | None = None
    imports: list[PickleImport] = field(default_factory=list)
    opcodes: int = 0
    persistent_ids: int = 0
    first_value: int | None = None
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.end is not None and self.error is None

    def import_names(self) -> list[str]:
        """Distinct imported globals, in the order first seen."""
        seen: dict[str, None] = {}
        for item in self.imports:
            seen.setdefault(item.dotted, None)
        return list(seen)


class _Mark:
    __slots__ = ()


class _Opaque:
    __slots__ = ()


class _Global:
    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name


_MARK: Final = _Mark()
_OPAQUE: Final = _Opaque()
_StackValue = _Mark | _Opaque | _Global | str | int

# Opcodes grouped by what the walker must do with them.
_PUSH_ONLY = frozenset(b"N\x88\x89])}\x8f(")  # no argument, push one value (MARK handled apart)
_FIXED_ARG_PUSH = {ord("J"): 4, ord("K"): 1, ord("M"): 2, ord("G"): 8}
_UNSIGNED_LEN = {
    0x8C: (1, "str"),  # SHORT_BINUNICODE
    ord("X"): (4, "str"),  # BINUNICODE
    0x8D: (8, "str"),  # BINUNICODE8
    ord("U"): (1, "bytes"),  # SHORT_BINSTRING
    ord("C"): (1, "bytes"),  # SHORT_BINBYTES
    ord("B"): (4, "bytes"),  # BINBYTES
    0x8E: (8, "bytes"),  # BINBYTES8
    0x96: (8, "bytes"),  # BYTEARRAY8
}
_OPCODE_NAMES = {
    ord("c"): "GLOBAL",
    0x93: "STACK_GLOBAL",
    ord("i"): "INST",
    0x82: "EXT1",
    0x83: "EXT2",
    0x84: "EXT4",
}


class _MemoSlots:
    """Which memo indices are set: a bitmap for the usual dense range, a set beyond it."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self._sparse: set[int] = set()
        self.count = 0

    def add(self, index: int) -> None:
        if index < _DENSE_MEMO_LIMIT:
            byte, bit = divmod(index, 8)
            if byte >= len(self._bits):
                self._bits.extend(bytes(byte - len(self._bits) + 1 + len(self._bits) // 2))
            if not self._bits[byte] & (1 << bit):
                self._bits[byte] |= 1 << bit
                self.count += 1
        elif index not in self._sparse:
            self._sparse.add(index)
            self.count += 1

    def __contains__(self, index: int) -> bool:
        if index < _DENSE_MEMO_LIMIT:
            byte, bit = divmod(index, 8)
            return byte < len(self._bits) and bool(self._bits[byte] & (1 << bit))
        return index in self._sparse


def _decode_line(raw: bytes, what: str, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PickleStructureError(f"{what} at offset {offset} is not UTF-8") from exc


def read_pickle(reader: ByteReader) -> PickleStream:
    """Read one pickle stream from the reader's position up to and including its STOP opcode.

    Structural problems end the reading and are recorded in ``error``; the reader is then left
    somewhere inside the stream.
    """
    stream = PickleStream(start=reader.offset)
    try:
        _walk(reader, stream)
    except PickleStructureError as exc:
        stream.error = str(exc)
    except TruncatedError as exc:
        stream.error = f"truncated: {exc}"
    return stream


def read_pickles(reader: ByteReader, *, max_streams: int = 64) -> tuple[list[PickleStream], int | None]:
    """Read consecutive pickle streams (as torch's legacy format and hidden payloads have them).

    Returns the streams and the offset of trailing bytes that are not a further pickle, if any.
    """
    streams: list[PickleStream] = []
    while len(streams) < max_streams:
        start = reader.offset
        stream = read_pickle(reader)
        if streams and not stream.complete:
            return streams, start
        streams.append(stream)
        if not stream.complete or reader.at_eof():
            return streams, None
    return streams, None if reader.at_eof() else reader.offset


def _walk(reader: ByteReader, stream: PickleStream) -> None:
    stack: list[_StackValue] = []
    memo: dict[int, _StackValue] = {}
    slots = _MemoSlots()
    frame_end: int | None = None
    imports = stream.imports

    def pop() -> _StackValue:
        if not stack or stack[-1] is _MARK:
            raise PickleStructureError(f"stack underflow at offset {op_offset}")
        return stack.pop()

    def pop_mark() -> None:
        while stack:
            if stack.pop() is _MARK:
                return
        raise PickleStructureError(f"no MARK on the stack for the opcode at offset {op_offset}")

    def memo_put(index: int) -> None:
        if not stack or stack[-1] is _MARK:
            raise PickleStructureError(f"memo store with an empty stack at offset {op_offset}")
        slots.add(index)
        top = stack[-1]
        if isinstance(top, (str, _Global)):
            memo[index] = top
        else:
            memo.pop(index, None)

    def memo_get(index: int) -> None:
        if index not in slots:
            raise PickleStructureError(f"memo reference to unset slot {index} at offset {op_offset}")
        stack.append(memo.get(index, _OPAQUE))

    def add_import(module: str, name: str, opcode: int) -> _Global:
        imports.append(PickleImport(module, name, _OPCODE_NAMES[opcode], op_offset))
        return _Global(module, name)

    while True:
        op_offset = reader.offset
        if frame_end is not None and op_offset >= frame_end:
            if op_offset > frame_end:
                raise PickleStructureError(f"opcode straddles the end of a frame at offset {frame_end}")
            frame_end = None
        op = reader.read_byte()
        if op is None:
            raise TruncatedError(f"no STOP opcode before the end of the data (offset {op_offset})")
        stream.opcodes += 1

        if op in _PUSH_ONLY:
            stack.append(_MARK if op == 0x28 else _OPAQUE)
        elif op in _FIXED_ARG_PUSH:
            reader.read(_FIXED_ARG_PUSH[op])
            stack.append(_OPAQUE)
        elif op in _UNSIGNED_LEN:
            width, kind = _UNSIGNED_LEN[op]
            length = int.from_bytes(reader.read(width), "little")
            if kind == "str" and length <= KEPT_STRING_CHARS * 4:
                raw = reader.read(length)
                try:
                    text = raw.decode("utf-8", "surrogatepass")
                except UnicodeDecodeError as exc:
                    raise PickleStructureError(f"string at offset {op_offset} is not UTF-8") from exc
                stack.append(text if len(text) <= KEPT_STRING_CHARS else _OPAQUE)
            else:
                reader.skip(length)
                stack.append(_OPAQUE)
        elif op == 0x54:  # BINSTRING: signed length
            length = int.from_bytes(reader.read(4), "little", signed=True)
            if length < 0:
                raise PickleStructureError(f"negative BINSTRING length at offset {op_offset}")
            reader.skip(length)
            stack.append(_OPAQUE)
        elif op == 0x8A:  # LONG1
            length = reader.read(1)[0]
            raw = reader.read(length)
            value = int.from_bytes(raw, "little", signed=True)
            if stream.opcodes <= 3 and stream.first_value is None:
                stream.first_value = value
            stack.append(_OPAQUE)
        elif op == 0x8B:  # LONG4
            length = int.from_bytes(reader.read(4), "little", signed=True)
            if length < 0:
                raise PickleStructureError(f"negative LONG4 length at offset {op_offset}")
            reader.skip(length)
            stack.append(_OPAQUE)
        elif op == 0x49:  # INT
            line = reader.read_line(64, 64)
            if not (_INT_LINE.match(line) or line in (b"00", b"01")):
                raise PickleStructureError(f"bad INT argument at offset {op_offset}")
            stack.append(_OPAQUE)
        elif op == 0x4C:  # LONG
            line = reader.read_line(MAX_LINE_BYTES, MAX_LINE_BYTES)
            if not _LONG_LINE.match(line):
                raise PickleStructureError(f"bad LONG argument at offset {op_offset}")
            stack.append(_OPAQUE)
        elif op == 0x46:  # FLOAT
            line = reader.read_line(64, 64)
            try:
                float(line)
            except ValueError as exc:
                raise PickleStructureError(f"bad FLOAT argument at offset {op_offset}") from exc
            stack.append(_OPAQUE)
        elif op == 0x53:  # STRING: quoted repr
            line = reader.read_line(MAX_LINE_BYTES, MAX_LINE_BYTES)
            if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b"'", b'"'):
                raise PickleStructureError(f"STRING argument at offset {op_offset} is not quoted")
            stack.append(_OPAQUE)
        elif op == 0x56:  # UNICODE: raw-unicode-escape line
            line = reader.read_line(KEPT_STRING_CHARS + 1, MAX_LINE_BYTES)
            if len(line) <= KEPT_STRING_CHARS:
                stack.append(line.decode("raw-unicode-escape", "replace"))
            else:
                stack.append(_OPAQUE)
        elif op in (0x63, 0x69):  # GLOBAL, INST
            module = _decode_line(reader.read_line(KEPT_STRING_CHARS, MAX_LINE_BYTES), "module name", op_offset)
            name = _decode_line(reader.read_line(KEPT_STRING_CHARS, MAX_LINE_BYTES), "global name", op_offset)
            if not module or not name:
                raise PickleStructureError(f"empty module or name in the global at offset {op_offset}")
            if op == 0x69:
                pop_mark()
            stack.append(add_import(module, name, op))
        elif op == 0x93:  # STACK_GLOBAL
            name_value = pop()
            module_value = pop()
            if isinstance(module_value, str) and isinstance(name_value, str):
                stack.append(add_import(module_value, name_value, op))
            else:
                stack.append(add_import("<unresolved>", "<unresolved>", op))
        elif op in (0x82, 0x83, 0x84):  # EXT1/2/4: global looked up in copyreg's registry
            width = {0x82: 1, 0x83: 2, 0x84: 4}[op]
            code = int.from_bytes(reader.read(width), "little", signed=op == 0x84)
            stack.append(add_import("<copyreg extension>", str(code), op))
        elif op == 0x2E:  # STOP
            if not stack or stack[-1] is _MARK:
                raise PickleStructureError(f"STOP with an empty stack at offset {op_offset}")
            stream.end = reader.offset
            return
        elif op == 0x80:  # PROTO
            protocol = reader.read(1)[0]
            if protocol > HIGHEST_PROTOCOL:
                raise PickleStructureError(f"unsupported pickle protocol {protocol} at offset {op_offset}")
            stream.protocol = protocol
        elif op == 0x95:  # FRAME
            length = int.from_bytes(reader.read(8), "little")
            if frame_end is not None:
                raise PickleStructureError(f"a frame starts inside another frame at offset {op_offset}")
            remaining = reader.remaining()
            if remaining is not None and length > remaining:
                raise TruncatedError(f"frame at offset {op_offset} is longer than the data left")
            frame_end = reader.offset + length
        elif op in (0x70, 0x71, 0x72):  # PUT, BINPUT, LONG_BINPUT
            if op == 0x70:
                line = reader.read_line(32, 32)
                if not _INT_LINE.match(line):
                    raise PickleStructureError(f"bad PUT argument at offset {op_offset}")
                index = int(line)
                if index < 0:
                    raise PickleStructureError(f"negative memo index at offset {op_offset}")
            else:
                index = int.from_bytes(reader.read(1 if op == 0x71 else 4), "little")
            memo_put(index)
        elif op == 0x94:  # MEMOIZE
            memo_put(slots.count)
        elif op in (0x67, 0x68, 0x6A):  # GET, BINGET, LONG_BINGET
            if op == 0x67:
                line = reader.read_line(32, 32)
                if not _INT_LINE.match(line):
                    raise PickleStructureError(f"bad GET argument at offset {op_offset}")
                index = int(line)
            else:
                index = int.from_bytes(reader.read(1 if op == 0x68 else 4), "little")
            memo_get(index)
        elif op == 0x32:  # DUP
            top = pop()
            stack.extend((top, top))
        elif op == 0x30:  # POP
            if stack and stack[-1] is _MARK:
                stack.pop()  # CPython's POP also discards a bare MARK
            else:
                pop()
        elif op == 0x31:  # POP_MARK
            pop_mark()
        elif op in (0x6C, 0x74, 0x64, 0x91):  # LIST, TUPLE, DICT, FROZENSET
            pop_mark()
            stack.append(_OPAQUE)
        elif op in (0x65, 0x75, 0x90):  # APPENDS, SETITEMS, ADDITEMS
            pop_mark()
            pop()
            stack.append(_OPAQUE)
        elif op == 0x61:  # APPEND
            pop()
            pop()
            stack.append(_OPAQUE)
        elif op == 0x73:  # SETITEM
            pop()
            pop()
            pop()
            stack.append(_OPAQUE)
        elif op in (0x85, 0x86, 0x87):  # TUPLE1..3
            for _ in range(op - 0x84):
                pop()
            stack.append(_OPAQUE)
        elif op in (0x52, 0x62, 0x81):  # REDUCE, BUILD, NEWOBJ
            pop()
            pop()
            stack.append(_OPAQUE)
        elif op == 0x92:  # NEWOBJ_EX
            pop()
            pop()
            pop()
            stack.append(_OPAQUE)
        elif op == 0x6F:  # OBJ: MARK cls args... -> object
            pop_mark()
            stack.append(_OPAQUE)
        elif op == 0x50:  # PERSID
            reader.read_line(KEPT_STRING_CHARS, MAX_LINE_BYTES)
            stream.persistent_ids += 1
            stack.append(_OPAQUE)
        elif op == 0x51:  # BINPERSID
            pop()
            stream.persistent_ids += 1
            stack.append(_OPAQUE)
        elif op == 0x97:  # NEXT_BUFFER (out-of-band buffer)
            stack.append(_OPAQUE)
        elif op == 0x98:  # READONLY_BUFFER
            pop()
            stack.append(_OPAQUE)
        else:
            raise PickleStructureError(f"unknown opcode 0x{op:02x} at offset {op_offset}")


def looks_like_pickle_start(head: bytes) -> bool:
    """True when ``head`` begins with a PROTO opcode of a known protocol (2 and above)."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= HIGHEST_PROTOCOL
