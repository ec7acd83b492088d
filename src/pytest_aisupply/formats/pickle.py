"""Static reading of pickle streams.

Walks the opcodes of a stream and simulates only as much of the unpickler's stack and memo as is
needed to name every global the stream would import. Nothing is unpickled and no payload bigger
than a short string is kept in memory: byte and string payloads are skipped by their length.

joblib writes numpy array data *between* the opcodes of its pickle, right after each
``NumpyArrayWrapper`` is built; the walker tracks just enough of the wrapper's state (shape and
dtype) to skip that data, or to read the nested pickle stream of an object array, and carry on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Union

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
#: Memo entries holding tracked containers (tuples, dicts, dtypes, instances) kept at most.
_RICH_MEMO_LIMIT: Final = 1 << 16
#: Longest tuple, and most dict entries, whose items are tracked.
_TRACKED_ITEMS: Final = 64
_JOBLIB_WRAPPER_MODULES: Final = frozenset({"joblib.numpy_pickle", "sklearn.externals.joblib.numpy_pickle"})
_COPYREG_MODULES: Final = frozenset({"copyreg", "copy_reg"})
_DTYPE_DESCR_SIZE = re.compile(r"[A-Za-z]+([0-9]+)\Z")
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


class _NoneValue:
    __slots__ = ()


class _Dict:
    """A dict whose first string-keyed entries are known (enough for joblib's array headers)."""

    __slots__ = ("complete", "items")

    def __init__(self) -> None:
        self.items: dict[str, object] = {}
        self.complete = True

    def set(self, key: object, value: object) -> None:
        if isinstance(key, str) and (key in self.items or len(self.items) < _TRACKED_ITEMS):
            self.items[key] = value
        else:
            self.complete = False

    def update(self, items: Sequence[object]) -> None:
        """Key/value pairs as SETITEMS and DICT find them on the stack."""
        if len(items) % 2:
            self.complete = False
        for position in range(0, len(items) - 1, 2):
            self.set(items[position], items[position + 1])


class _Dtype:
    """A ``numpy.dtype`` rebuilt by REDUCE (descr) and BUILD (element size and flags)."""

    __slots__ = ("descr", "elsize", "flags")

    def __init__(self, descr: str) -> None:
        self.descr = descr
        self.elsize = -1
        self.flags = 0

    @property
    def has_objects(self) -> bool:
        return self.descr.startswith("O") or bool(self.flags & 1)  # NPY_ITEM_HASOBJECT

    @property
    def itemsize(self) -> int | None:
        if self.elsize > 0:
            return self.elsize
        match = _DTYPE_DESCR_SIZE.match(self.descr)
        return int(match.group(1)) if match else None


class _Instance:
    """An object created from a class global (NEWOBJ, REDUCE, OBJ, INST)."""

    __slots__ = ("cls",)

    def __init__(self, cls: _Global) -> None:
        self.cls = cls


_MARK: Final = _Mark()
_OPAQUE: Final = _Opaque()
_NONE: Final = _NoneValue()
_StackValue = Union[_Mark, _Opaque, _NoneValue, _Global, _Dict, _Dtype, _Instance, str, int, "tuple[object, ...]"]

# Opcodes grouped by what the walker must do with them.
_PUSH_ONLY = frozenset(b"\x88\x89]\x8f(")  # no argument, push one value (MARK handled apart)
_FIXED_ARG_PUSH = {ord("G"): 8}
_INT_ARG_PUSH = {ord("J"): (4, True), ord("K"): (1, False), ord("M"): (2, False)}
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
    A further stream that breaks off is kept when it imported a global before breaking off (an
    unpickler reading it would have imported that global), and dropped otherwise (trailing data).
    """
    streams: list[PickleStream] = []
    while len(streams) < max_streams:
        start = reader.offset
        stream = read_pickle(reader)
        if streams and not stream.complete:
            if stream.imports:
                streams.append(stream)
            return streams, start
        streams.append(stream)
        if not stream.complete or reader.at_eof():
            return streams, None
    return streams, None if reader.at_eof() else reader.offset


def _is_joblib_wrapper(value: object) -> bool:
    return (
        isinstance(value, _Instance)
        and value.cls.name == "NumpyArrayWrapper"
        and value.cls.module in _JOBLIB_WRAPPER_MODULES
    )


def _instance_of(cls: object) -> _StackValue:
    return _Instance(cls) if isinstance(cls, _Global) else _OPAQUE


def _reduce(func: object, args: object) -> _StackValue:
    """The value REDUCE builds, as far as the walker tracks it."""
    if not isinstance(func, _Global):
        return _OPAQUE
    first = args[0] if isinstance(args, tuple) and args else None
    if func.name == "dtype" and func.module.partition(".")[0] == "numpy" and isinstance(first, str):
        return _Dtype(first)
    if func.name in ("_reconstructor", "__newobj__", "__newobj_ex__") and func.module in _COPYREG_MODULES:
        return _instance_of(first)
    return _Instance(func)


def _joblib_array_layout(state: object, offset: int) -> tuple[int, bool, bool]:
    """(data bytes, holds objects, has a padding byte) of the array joblib writes after a
    ``NumpyArrayWrapper`` is built with ``state``."""

    def unknown(what: str) -> PickleStructureError:
        return PickleStructureError(
            f"joblib array data follows the NumpyArrayWrapper built at offset {offset}, but its {what} "
            "cannot be read statically"
        )

    if not isinstance(state, _Dict) or not state.complete:
        raise unknown("state")
    shape = state.items.get("shape")
    dtype = state.items.get("dtype")
    if not isinstance(shape, tuple) or not all(isinstance(dim, int) and dim >= 0 for dim in shape):
        raise unknown("shape")
    if not isinstance(dtype, _Dtype):
        raise unknown("dtype")
    if dtype.has_objects:
        return 0, True, False
    itemsize = dtype.itemsize
    if itemsize is None:
        raise unknown("element size")
    alignment = state.items.get("numpy_array_alignment_bytes", _NONE)
    if not isinstance(alignment, (int, _NoneValue)):
        raise unknown("alignment")
    return math.prod(shape) * itemsize, False, isinstance(alignment, int)


def _walk(reader: ByteReader, stream: PickleStream, *, joblib: bool = True) -> None:
    stack: list[_StackValue] = []
    memo: dict[int, _StackValue] = {}
    slots = _MemoSlots()
    frame_end: int | None = None
    imports = stream.imports
    rich_memo = 0
    # Tuples and dicts are only tracked once the stream imports joblib's wrapper or numpy.dtype
    # (they are what joblib's array headers are made of); until then they stay opaque, cheaply.
    tracking = False

    def pop() -> _StackValue:
        if not stack or stack[-1] is _MARK:
            raise PickleStructureError(f"stack underflow at offset {op_offset}")
        return stack.pop()

    def pop_mark() -> list[_StackValue]:
        for index in range(len(stack) - 1, -1, -1):
            if stack[index] is _MARK:
                items = stack[index + 1 :]
                del stack[index:]
                return items
        raise PickleStructureError(f"no MARK on the stack for the opcode at offset {op_offset}")

    def memo_put(index: int) -> None:
        nonlocal rich_memo
        if not stack or stack[-1] is _MARK:
            raise PickleStructureError(f"memo store with an empty stack at offset {op_offset}")
        slots.add(index)
        top = stack[-1]
        if isinstance(top, (str, _Global, int, _NoneValue)):
            memo[index] = top
        elif isinstance(top, (tuple, _Dict, _Dtype, _Instance)) and rich_memo < _RICH_MEMO_LIMIT:
            rich_memo += 1
            memo[index] = top
        else:
            memo.pop(index, None)

    def memo_get(index: int) -> None:
        if index not in slots:
            raise PickleStructureError(f"memo reference to unset slot {index} at offset {op_offset}")
        stack.append(memo.get(index, _OPAQUE))

    def add_import(module: str, name: str, opcode: int) -> _Global:
        nonlocal tracking
        imports.append(PickleImport(module, name, _OPCODE_NAMES[opcode], op_offset))
        if joblib and not tracking:
            tracking = (name == "NumpyArrayWrapper" and module in _JOBLIB_WRAPPER_MODULES) or (
                name == "dtype" and module.partition(".")[0] == "numpy"
            )
        return _Global(module, name)

    def joblib_array(state: _StackValue) -> None:
        """Skip the array data joblib wrote right after a NumpyArrayWrapper was built, or read
        the nested pickle stream of an object array."""
        nonlocal frame_end
        size, has_objects, padded = _joblib_array_layout(state, op_offset)
        if frame_end is not None:
            if reader.offset != frame_end:
                raise PickleStructureError(f"joblib array data inside a pickle frame at offset {reader.offset}")
            frame_end = None
        if has_objects:
            nested = PickleStream(start=reader.offset, imports=imports)
            _walk(reader, nested, joblib=False)
            stream.opcodes += nested.opcodes
            stream.persistent_ids += nested.persistent_ids
            return
        if padded:
            reader.skip(reader.read(1)[0])
        reader.skip(size)

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
        elif op == 0x4E:  # NONE
            stack.append(_NONE)
        elif op == 0x29:  # EMPTY_TUPLE
            stack.append(())
        elif op == 0x7D:  # EMPTY_DICT
            stack.append(_Dict() if tracking else _OPAQUE)
        elif op in _INT_ARG_PUSH:  # BININT, BININT1, BININT2
            width, signed = _INT_ARG_PUSH[op]
            raw = reader.read(width)
            stack.append(int.from_bytes(raw, "little", signed=signed) if tracking else _OPAQUE)
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
            stack.append(value)
        elif op == 0x8B:  # LONG4
            length = int.from_bytes(reader.read(4), "little", signed=True)
            if length < 0:
                raise PickleStructureError(f"negative LONG4 length at offset {op_offset}")
            reader.skip(length)
            stack.append(_OPAQUE)
        elif op == 0x49:  # INT
            line = reader.read_line(64, 64)
            if line in (b"00", b"01"):  # protocol 0 booleans
                stack.append(_OPAQUE)
            elif _INT_LINE.match(line):
                stack.append(int(line))
            else:
                raise PickleStructureError(f"bad INT argument at offset {op_offset}")
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
                stack.append(_Instance(add_import(module, name, op)))
            else:
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
        elif op == 0x74:  # TUPLE
            items = pop_mark()
            stack.append(tuple(items) if tracking and len(items) <= _TRACKED_ITEMS else _OPAQUE)
        elif op in (0x85, 0x86, 0x87):  # TUPLE1..3
            values = [pop() for _ in range(op - 0x84)]
            if tracking:
                values.reverse()
                stack.append(tuple(values))
            else:
                stack.append(_OPAQUE)
        elif op == 0x64:  # DICT
            items = pop_mark()
            if tracking:
                built = _Dict()
                built.update(items)
                stack.append(built)
            else:
                stack.append(_OPAQUE)
        elif op in (0x6C, 0x91):  # LIST, FROZENSET
            pop_mark()
            stack.append(_OPAQUE)
        elif op == 0x75:  # SETITEMS
            items = pop_mark()
            target = pop()
            if isinstance(target, _Dict):
                target.update(items)
            stack.append(target)
        elif op == 0x73:  # SETITEM
            item = pop()
            key = pop()
            target = pop()
            if isinstance(target, _Dict):
                target.set(key, item)
            stack.append(target)
        elif op in (0x65, 0x90):  # APPENDS, ADDITEMS
            pop_mark()
            pop()
            stack.append(_OPAQUE)
        elif op == 0x61:  # APPEND
            pop()
            pop()
            stack.append(_OPAQUE)
        elif op == 0x52:  # REDUCE
            args = pop()
            func = pop()
            stack.append(_reduce(func, args))
        elif op == 0x81:  # NEWOBJ
            pop()
            stack.append(_instance_of(pop()))
        elif op == 0x92:  # NEWOBJ_EX
            pop()
            pop()
            stack.append(_instance_of(pop()))
        elif op == 0x62:  # BUILD
            state = pop()
            target = pop()
            if isinstance(target, _Dtype):
                if isinstance(state, tuple) and len(state) >= 8:
                    elsize, flags = state[5], state[7]
                    target.elsize = elsize if isinstance(elsize, int) else -1
                    target.flags = flags if isinstance(flags, int) else 0
                stack.append(target)
            elif joblib and _is_joblib_wrapper(target):
                joblib_array(state)
                stack.append(_OPAQUE)
            else:
                stack.append(_OPAQUE)
        elif op == 0x6F:  # OBJ: MARK cls args... -> object
            items = pop_mark()
            stack.append(_instance_of(items[0]) if items else _OPAQUE)
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
