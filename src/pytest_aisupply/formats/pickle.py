"""Static reading of pickle streams.

Walks the opcodes of a stream and simulates only as much of the unpickler's stack and memo as is
needed to say what the stream would do: every global it would import (``GLOBAL``,
``STACK_GLOBAL`` with operands from the stack or the memo, ``INST``, ``EXT*`` registry codes) and
what it does with them: calls (``REDUCE``, ``NEWOBJ``, ``NEWOBJ_EX``, ``OBJ``, ``INST``), state
set on a class, function or module object (``BUILD``, ``SETITEM`` ...), attributes reached
through ``getattr``-like callables (``builtins.getattr``, ``operator.attrgetter`` ...) when their
operands are constants, and bytes handed to callables that unpickle them (``pickle.loads``,
``torch.storage._load_from_bytes``), which are kept for a nested reading when small enough.

Nothing is unpickled. Memory does not grow with the data: byte and string payloads are skipped by
their length (only short strings, and the bytes handed to an unpickling callable, are kept), and
tracked containers are bounded.

joblib writes numpy array data *between* the opcodes of its pickle, right after each
``NumpyArrayWrapper`` is built; the walker tracks just enough of the wrapper's state (shape and
dtype) to skip that data, or to read the nested pickle stream of an object array, and carry on.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Union

from ..settings.limits import Limits, cap_hint
from .bytestream import ByteReader, LineTooLongError, TruncatedError

#: Highest pickle protocol this reader knows; a PROTO opcode above it is a structural problem.
HIGHEST_PROTOCOL: Final = 5
#: Longest string payload whose value is kept (module and attribute names are far shorter).
KEPT_STRING_CHARS: Final = 256
#: Longest protocol-0 text line accepted (a quoted STRING may legitimately be long).
MAX_LINE_BYTES: Final = 64 << 20
#: Torch's legacy (pre-zip) checkpoints start with this number pickled as a LONG1.
TORCH_LEGACY_MAGIC: Final = 0x1950A86A20F9469CFC6C
#: Largest bytes payload handed to an unpickling callable that is kept for a nested reading.
NESTED_BYTES_CAP: Final = 16 << 20
#: Most bytes kept for nested readings over one stream (and the streams nested in it).
NESTED_TOTAL_CAP: Final = 64 << 20
#: Streams up to this size keep a copy of their bytes (``PickleStream.raw``), for explanations.
RAW_COPY_CAP: Final = 256 << 10

_DENSE_MEMO_LIMIT: Final = 1 << 24
#: Memo entries whose value is kept, at most (beyond, a memo slot is only known to be set, and
#: its value is opaque: a global or name fetched from it cannot be resolved, which fails closed).
_MEMO_VALUES_LIMIT: Final = 1 << 16
#: Of those, entries holding tracked containers (tuples, dicts, dtypes, instances, bytes).
_RICH_MEMO_LIMIT: Final = 1 << 14
#: Longest tuple, and most dict entries, whose items are tracked.
_TRACKED_ITEMS: Final = 64
#: Distinct (global, use) pairs and hazards recorded per stream; more are counted, not kept.
_MAX_USES: Final = 1024
_MAX_HAZARDS: Final = 64
_JOBLIB_WRAPPER_MODULES: Final = frozenset({"joblib.numpy_pickle", "sklearn.externals.joblib.numpy_pickle"})
#: numpy's type strings: a byte order, a kind or type character, a count, a datetime unit.
_DTYPE_TYPESTR = re.compile(r"[<>|=]?([?bBhHiIlLqQpPefdgFDGMmOSUVauc])([0-9]*)(?:\[[0-9]*[A-Za-z]+\])?\Z")
#: Element sizes of numpy's one-character type codes on 64-bit Linux, macOS and Windows alike
#: where they agree; 'l'/'L' (8 bytes, but 4 on Windows) are in the next table's fallback.
_DTYPE_CHAR_SIZES: Final = {
    "?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "q": 8, "Q": 8, "p": 8, "P": 8,
    "e": 2, "f": 4, "d": 8, "g": 16, "F": 8, "D": 16, "G": 32, "M": 8, "m": 8, "O": 8, "c": 1,
}  # fmt: skip
#: Bytes per count unit of a sized type string ('<f8', 'U10' is ten 4-byte characters).
_DTYPE_KIND_UNITS: Final = {"b": 1, "i": 1, "u": 1, "f": 1, "c": 1, "S": 1, "a": 1, "V": 1, "U": 4, "M": 1, "m": 1}
#: Sized type names ('float64', 'int8'): the number is in bits.
_DTYPE_NAME_BITS = re.compile(r"(?:bool|int|uint|float|complex)(8|16|32|64|128|256)\Z")
_DTYPE_NAMES: Final = {"bool": 1, "float": 8, "complex": 16, "double": 8, "single": 4, "half": 2, "byte": 1,
                       "ubyte": 1, "short": 2, "ushort": 2, "intc": 4, "uintc": 4, "longlong": 8, "ulonglong": 8,
                       "intp": 8, "uintp": 8, "bool_": 1}  # fmt: skip
_DTYPE_OBJECT_NAMES: Final = frozenset({"O", "O8", "object", "object_"})
#: Longest numeric text line (INT, LONG, FLOAT, PUT, GET) whose value is computed; the unpickler
#: reads any length (``I000...0001``), so a longer one is read to its end and its value is unknown.
_NUMBER_CHARS: Final = 4096
#: What C's ``isspace`` skips before a number (``strtol``) and ``PyLong_FromString`` around one.
_SSIZE_MAX: Final = (1 << 63) - 1
_C_SPACE: Final = b" \t\n\x0b\x0c\r"

#: Module names the unpickler maps (Python 2 names, C accelerator modules) to the one whose
#: behaviour the walker knows.
_CANONICAL_MODULES: Final = {
    "__builtin__": "builtins",
    "copy_reg": "copyreg",
    "_operator": "operator",
    "_functools": "functools",
    "_pickle": "pickle",
    "cPickle": "pickle",
    "importlib._bootstrap": "importlib",
}
# Callables whose effect the walker follows (canonical dotted names).
_GETATTR: Final = frozenset({"builtins.getattr"})
_GETITEM: Final = frozenset({"operator.getitem", "builtins.dict.get", "builtins.dict.__getitem__"})
_GETTERS: Final = {"operator.attrgetter": "attr", "operator.itemgetter": "item", "operator.methodcaller": "method"}
_PARTIAL: Final = frozenset({"functools.partial"})
_IMPORTERS: Final = frozenset({"builtins.__import__", "importlib.import_module", "importlib.__import__"})
_RESOLVERS: Final = frozenset({"pkgutil.resolve_name"})
#: Callables that unpickle (or torch.load) the bytes they are given.
UNPICKLING_CALLABLES: Final = frozenset(
    {
        "pickle.loads",
        "pickle._loads",
        "torch.storage._load_from_bytes",
        "dill.loads",
        "dill._dill.loads",
        "cloudpickle.loads",
        "cloudpickle.cloudpickle.loads",
    }
)
#: torch helpers that call the function given as their first argument.
_CALLS_FIRST_ARGUMENT: Final = frozenset({"torch._tensor._rebuild_from_type_v2", "torch._tensor._rebuild_from_type"})
_RECONSTRUCTORS: Final = frozenset({"copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__"})
#: Names under which a module's namespace holds the builtins (``os.__builtins__`` ...).
_NAMESPACE_ATTRIBUTES: Final = frozenset({"__dict__", "__globals__", "__builtins__"})


class PickleStructureError(Exception):
    """The bytes are not a well-formed pickle stream."""


class PickleUndecidedError(PickleStructureError):
    """The walker stopped where the unpickler may go on (a cap, a line longer than the walker
    reads, frames whose reading depends on the unpickler's buffering): what follows is unknown,
    so a stream that ends this way counts as one that may reach code."""


@dataclass(frozen=True)
class PickleImport:
    """A global the stream would import when unpickled.

    ``via`` is set for a global the stream reaches as an attribute or item of another object
    through a ``getattr``-like callable (``builtins.getattr``, ``operator.attrgetter`` ...): the
    name of that callable; ``opcode`` is then the opcode that called it.
    """

    module: str
    name: str
    opcode: str
    offset: int
    via: str = ""

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def label(self) -> str:
        """The name with how it is reached: ``builtins.eval via builtins.getattr``."""
        return f"{self.dotted} via {self.via}" if self.via else self.dotted


@dataclass(frozen=True)
class GlobalUse:
    """Something the stream does with a global: ``action`` is ``called`` (REDUCE, NEWOBJ,
    NEWOBJ_EX, OBJ, INST) or ``called via <callable>`` (a helper that calls its argument)."""

    dotted: str
    action: str
    opcode: str
    offset: int


@dataclass(frozen=True)
class Hazard:
    """Something the stream does that no allowlist makes safe: state set on a class, function or
    module object, a call the walker cannot resolve, bytes handed to an unpickling callable that
    cannot be analysed."""

    message: str
    offset: int


@dataclass
class NestedPayload:
    """Bytes the stream hands to a callable that unpickles them (``pickle.loads``,
    ``torch.storage._load_from_bytes`` ...), kept for a nested reading. A reader that reads them
    sets ``analysed`` and drops ``data``."""

    via: str
    offset: int
    length: int
    data: bytes | None
    analysed: bool = False

    @property
    def where(self) -> str:
        return f"bytes passed to {self.via} at offset {self.offset}"


@dataclass
class PickleStream:
    """What a static reading of one pickle stream found."""

    start: int
    protocol: int = 0
    end: int | None = None
    imports: list[PickleImport] = field(default_factory=list)
    uses: list[GlobalUse] = field(default_factory=list)
    hazards: list[Hazard] = field(default_factory=list)
    nested: list[NestedPayload] = field(default_factory=list)
    opcodes: int = 0
    persistent_ids: int = 0
    first_value: int | None = None
    error: str | None = None
    #: The reading stopped where the unpickler may go on (see PickleUndecidedError).
    undecided: bool = False
    #: Offset of the first array data joblib's unpickler skips (None: it skips nothing); other
    #: loaders read those bytes as opcodes.
    joblib_skip_at: int | None = None
    #: The stream's bytes, when it is at most RAW_COPY_CAP long (for explanations).
    raw: bytes | None = None

    @property
    def complete(self) -> bool:
        return self.end is not None and self.error is None

    def import_names(self) -> list[str]:
        """Distinct imported globals, in the order first seen."""
        seen: dict[str, None] = {}
        for item in self.imports:
            seen.setdefault(item.dotted, None)
        return list(seen)

    def uses_of(self, dotted: str) -> list[GlobalUse]:
        return [use for use in self.uses if use.dotted == dotted]


# -- values on the simulated stack ------------------------------------------------------------


class _Mark:
    __slots__ = ()


class _Opaque:
    __slots__ = ()


class _NoneValue:
    __slots__ = ()


class _Global:
    """A global object (class, function, module attribute). ``via`` is set when it was reached
    through a ``getattr``-like callable rather than imported by name."""

    __slots__ = ("canonical", "module", "name", "via")

    def __init__(self, module: str, name: str, via: str = "") -> None:
        self.module = module
        self.name = name
        self.via = via
        self.canonical = f"{_CANONICAL_MODULES.get(module, module)}.{name}"

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def is_builtins_namespace(self) -> bool:
        """``X.__builtins__`` (the builtins module or its dict), ``builtins.__dict__``."""
        last = self.name.rpartition(".")[2]
        return last == "__builtins__" or self.canonical == "builtins.__dict__"


class _Module:
    """A module object, as returned by ``importlib.import_module`` or ``sys.modules[...]``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _Bytes:
    """A bytes payload: its length and offset, and its content only when kept."""

    __slots__ = ("data", "length", "offset")

    def __init__(self, offset: int, length: int, data: bytes | None) -> None:
        self.offset = offset
        self.length = length
        self.data = data


class _Getter:
    """``operator.attrgetter/itemgetter/methodcaller(...)``: calling it reads attributes or
    items of its argument (and, for methodcaller, calls the method)."""

    __slots__ = ("kind", "names", "via")

    def __init__(self, kind: str, names: tuple[str, ...] | None, via: str) -> None:
        self.kind = kind
        self.names = names
        self.via = via


class _Partial:
    """``functools.partial(func, *args)``: calling it calls ``func``."""

    __slots__ = ("args", "func")

    def __init__(self, func: object, args: tuple[object, ...] | None) -> None:
        self.func = func
        self.args = args


class _Dict:
    """A dict whose first string-keyed entries are known (enough for joblib's array headers)."""

    __slots__ = ("complete", "items")

    def __init__(self) -> None:
        self.items: dict[str, object] = {}
        self.complete = True

    def set(self, key: object, value: object) -> None:
        if not self.complete:  # only a complete dict's items are ever read
            return
        if isinstance(key, str) and (key in self.items or len(self.items) < _TRACKED_ITEMS):
            self.items[key] = value
        else:
            self.complete = False

    def update(self, items: Sequence[object]) -> None:
        """Key/value pairs as SETITEMS and DICT find them on the stack."""
        if len(items) % 2:
            self.complete = False
        for position in range(0, len(items) - 1, 2):
            if not self.complete:
                return
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
        return self.descr.lstrip("<>|=") in _DTYPE_OBJECT_NAMES or bool(self.flags & 1)  # NPY_ITEM_HASOBJECT

    @property
    def itemsize(self) -> int | None:
        """``dtype.itemsize`` as numpy computes it from the descr (None when the walker does not
        know the descr). The element size in the pickled state counts only for unsized flexible
        types ('S', 'U', 'V'): numpy's ``arraydescr_setstate`` ignores it for the others."""
        descr = self.descr
        named = _DTYPE_NAME_BITS.match(descr)
        if named:
            return int(named.group(1)) // 8
        if descr in _DTYPE_NAMES:
            return _DTYPE_NAMES[descr]
        match = _DTYPE_TYPESTR.match(descr)
        if match is None:
            return None
        kind, count = match.group(1), match.group(2)
        if count:
            unit = _DTYPE_KIND_UNITS.get(kind)
            return None if unit is None else int(count) * unit
        if kind in "SUVa":
            return self.elsize if self.elsize > 0 else None
        return _DTYPE_CHAR_SIZES.get(kind)


class _Instance:
    """An object created from a class global (NEWOBJ, REDUCE, OBJ, INST)."""

    __slots__ = ("cls",)

    def __init__(self, cls: _Global) -> None:
        self.cls = cls


_MARK: Final = _Mark()
_OPAQUE: Final = _Opaque()
_NONE: Final = _NoneValue()
_StackValue = Union[
    _Mark,
    _Opaque,
    _NoneValue,
    _Global,
    _Module,
    _Bytes,
    _Getter,
    _Partial,
    _Dict,
    _Dtype,
    _Instance,
    str,
    int,
    "tuple[object, ...]",
]
_CHEAP_MEMO = (str, int, _NoneValue, _Global, _Module, _Getter, _Partial)
_RICH_MEMO = (tuple, _Dict, _Dtype, _Instance, _Bytes)

# Opcodes grouped by what the walker must do with them.
_PUSH_ONLY = frozenset(b"\x88\x89]\x8f(")  # no argument, push one value (MARK handled apart)
_FIXED_ARG_PUSH = {ord("G"): 8}
_INT_ARG_PUSH = {ord("J"): (4, True), ord("K"): (1, False), ord("M"): (2, False)}
_UNSIGNED_LEN = {
    0x8C: (1, "str"),  # SHORT_BINUNICODE
    ord("X"): (4, "str"),  # BINUNICODE
    0x8D: (8, "str"),  # BINUNICODE8
    ord("U"): (1, "str8"),  # SHORT_BINSTRING (a Python 2 str: decoded to str by the unpickler)
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
    0x52: "REDUCE",
    0x81: "NEWOBJ",
    0x92: "NEWOBJ_EX",
    ord("o"): "OBJ",
    ord("b"): "BUILD",
    ord("s"): "SETITEM",
    ord("u"): "SETITEMS",
    ord("a"): "APPEND",
    ord("e"): "APPENDS",
    0x90: "ADDITEMS",
}


class _MemoSlots:
    """Which memo indices are set.

    Picklers fill the memo in order (MEMOIZE, or PUT of the next index), so the usual set is the
    range ``0 .. count - 1``, kept as just ``count`` while ``contiguous``. The first index out of
    order switches to a bitmap for the dense range and a set beyond it.
    """

    def __init__(self) -> None:
        self.contiguous = True
        self._bits = bytearray()
        self._dense_limit = _DENSE_MEMO_LIMIT
        self._sparse: set[int] = set()
        self.count = 0

    def _to_bitmap(self) -> None:
        self.contiguous = False
        # The range already set stays in the bitmap however long it is (at most one bit per opcode).
        self._dense_limit = max(_DENSE_MEMO_LIMIT, self.count)
        full, rest = divmod(self.count, 8)
        self._bits = bytearray(b"\xff" * full + (bytes([(1 << rest) - 1]) if rest else b""))

    def add(self, index: int) -> None:
        if self.contiguous:
            if index < self.count:
                return
            if index == self.count:
                self.count += 1
                return
            self._to_bitmap()
        if index < self._dense_limit:
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
        if index < 0:  # protocol 0's GET reads a signed number; the unpickler has no such slot
            return False
        if self.contiguous:
            return index < self.count
        if index < self._dense_limit:
            byte, bit = divmod(index, 8)
            return byte < len(self._bits) and bool(self._bits[byte] & (1 << bit))
        return index in self._sparse


class _Memo:
    """The unpickler's memo as far as it is tracked: which slots are set, and the values of the
    first ``_MEMO_VALUES_LIMIT`` of them (of which at most ``_RICH_MEMO_LIMIT`` containers)."""

    __slots__ = ("rich", "slots", "values")

    def __init__(self) -> None:
        self.values: dict[int, _StackValue] = {}
        self.slots = _MemoSlots()
        self.rich = 0

    def put(self, index: int, top: _StackValue) -> None:
        self.slots.add(index)
        values = self.values
        if len(values) >= _MEMO_VALUES_LIMIT and index not in values:
            return
        if isinstance(top, _CHEAP_MEMO):
            values[index] = top
        elif isinstance(top, _RICH_MEMO) and self.rich < _RICH_MEMO_LIMIT:
            self.rich += 1
            values[index] = top
        else:
            values.pop(index, None)


class _Shared:
    """State shared by a stream and the streams nested in it (joblib object arrays)."""

    def __init__(self, stream: PickleStream, max_opcodes: int, persistent: bool = True) -> None:
        self.stream = stream
        self.max_opcodes = max_opcodes
        #: Whether the unpickler has a persistent_load (torch's legacy main stream does; pickle.load,
        #: joblib and pandas do not, and stop at a persistent id).
        self.persistent = persistent
        self.seen_imports: set[tuple[str, str]] = set()
        self.seen_uses: set[tuple[str, str, str]] = set()
        self.kept_bytes = 0
        #: Whether an unpickling callable has been pushed: only then are bytes payloads kept.
        self.unpickler_seen = False
        #: Whether joblib's NumpyArrayWrapper was imported: a BUILD may then be followed by array data.
        self.joblib_wrapper_seen = False
        #: End of the last frame opened (C's unpickler reads a line or an argument that runs past
        #: it from its read-ahead buffer and the file in an order of its own).
        self.frame_end: int | None = None
        #: Bytes payloads already handed to an unpickling callable (by identity: a memo GET
        #: hands the same payload again, and it is read once).
        self.nested_ids: set[int] = set()

    def add_import(self, value: _Global, opcode: str, offset: int) -> None:
        key = (value.dotted, value.via)
        if key not in self.seen_imports:
            self.seen_imports.add(key)
            self.stream.imports.append(PickleImport(value.module, value.name, opcode, offset, value.via))
        if value.canonical in UNPICKLING_CALLABLES:
            self.unpickler_seen = True
        if value.name == "NumpyArrayWrapper" and value.module in _JOBLIB_WRAPPER_MODULES:
            self.joblib_wrapper_seen = True

    def add_use(self, dotted: str, action: str, opcode: str, offset: int) -> None:
        key = (dotted, action, opcode)
        if key not in self.seen_uses and len(self.seen_uses) < _MAX_USES:
            self.seen_uses.add(key)
            self.stream.uses.append(GlobalUse(dotted, action, opcode, offset))

    def add_hazard(self, message: str, offset: int) -> None:
        hazards = self.stream.hazards
        if len(hazards) < _MAX_HAZARDS and not any(h.message == message for h in hazards):
            hazards.append(Hazard(message, offset))


def _decode_line(raw: bytes, what: str, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PickleStructureError(f"{what} at offset {offset} is not UTF-8") from exc


def _c_string(line: bytes) -> bytes:
    """The line as C code sees it: the unpickler copies it NUL-terminated, so a NUL ends it."""
    nul = line.find(b"\0")
    return line if nul < 0 else line[:nul]


def _strtol_value(line: bytes) -> int | None:
    """``strtol(line, &end, 0)`` when it consumes the whole C string (as ``load_int`` in
    Modules/_pickle.c requires: ``*endptr`` must be the newline or the NUL), else None."""
    text = _c_string(line)
    start = 0
    while start < len(text) and text[start] in _C_SPACE:
        start += 1
    sign = 1
    if start < len(text) and text[start] in b"+-":
        sign = -1 if text[start] == 0x2D else 1
        start += 1
    lowered = text[start : start + 2].lower()
    digits = text[start:]
    base = 10
    if lowered == b"0x" and len(text) > start + 2:
        base, digits = 16, text[start + 2 :]
    elif lowered == b"0b" and len(text) > start + 2:  # glibc 2.38+ in C2x mode
        base, digits = 2, text[start + 2 :]
    elif lowered[:1] == b"0":
        base = 8
    allowed = b"0123456789abcdefABCDEF"[: base if base <= 10 else 10 + (base - 10) * 2]
    if not digits or any(byte not in allowed for byte in digits):
        return None
    return sign * int(digits.decode("ascii"), base)


def _pylong_value(line: bytes, base: int) -> int | None:
    """``PyLong_FromString(line, NULL, base)``: Python's int() syntax (underscores, whitespace,
    ``0x``/``0o``/``0b`` for base 0) over the C string; None when it raises."""
    text = _c_string(line)
    if any(byte > 0x7F for byte in text):
        return None
    try:
        return int(text.decode("ascii"), base)
    except ValueError:
        return None


def _number_line(reader: ByteReader, offset: int, what: str) -> bytes | None:
    """A numeric text line; None when it is longer than the walker evaluates (it is still read
    to its end, as the unpickler reads it)."""
    line = reader.read_line(_NUMBER_CHARS + 1, MAX_LINE_BYTES)
    if not line:
        raise PickleStructureError(f"empty {what} argument at offset {offset}")
    return line if len(line) <= _NUMBER_CHARS else None


def _c_float_ok(line: bytes) -> bool:
    """What ``load_float`` accepts: ``PyOS_string_to_double`` up to the NUL or the newline. The
    walker accepts a superset (Python's float() syntax), which only ever reads further."""
    text = _c_string(line)
    try:
        float(text)
    except ValueError:
        return False
    return True


_DEFAULT_MAX_OPCODES: Final = Limits.max_pickle_opcodes


def read_pickle(
    reader: ByteReader,
    *,
    max_opcodes: int = _DEFAULT_MAX_OPCODES,
    fast: bool = True,
    joblib: bool = True,
    persistent: bool = True,
) -> PickleStream:
    """Read one pickle stream from the reader's position up to and including its STOP opcode.

    Structural problems, and more than ``max_opcodes`` opcodes, end the reading and are recorded
    in ``error``; the reader is then left somewhere inside the stream. ``fast=False`` reads every
    opcode through the general loop alone (the reference the fast path is tested against).
    ``joblib=False`` reads the stream as ``pickle.load`` does: array data that joblib's unpickler
    would skip after a NumpyArrayWrapper is read as opcodes. ``persistent=False`` stops at a
    persistent id, as an unpickler without ``persistent_load`` does.
    """
    stream = PickleStream(start=reader.offset)
    reader.start_capture(RAW_COPY_CAP)
    shared = _Shared(stream, max_opcodes, persistent)
    try:
        _walk(reader, stream, shared, joblib=joblib, fast=fast)
    # Distinct names for the exceptions: mypyc types a name by its first binding.
    except PickleStructureError as broken:
        stream.error = str(broken)
        stream.undecided = isinstance(broken, PickleUndecidedError) or _past_frame(reader, shared)
    except TruncatedError as cut:
        stream.error = f"truncated: {cut}"
        stream.undecided = isinstance(cut, LineTooLongError) or _past_frame(reader, shared)
    stream.raw = reader.stop_capture()
    return stream


def _past_frame(reader: ByteReader, shared: _Shared) -> bool:
    """Whether the opcode that failed read past the end of a frame: C's unpickler reads such an
    opcode differently (from its read-ahead buffer, then the file), so where it goes is unknown."""
    frame_end = shared.frame_end
    return frame_end is not None and reader.offset > frame_end


def read_pickles(
    reader: ByteReader,
    *,
    max_streams: int = 64,
    max_opcodes: int = _DEFAULT_MAX_OPCODES,
    fast: bool = True,
    joblib: bool = True,
) -> tuple[list[PickleStream], int | None]:
    """Read consecutive pickle streams (as torch's legacy format and hidden payloads have them).

    Returns the streams and the offset of trailing bytes that are not a further pickle, if any.
    A further stream that breaks off is kept when it imported a global before breaking off (an
    unpickler reading it would have imported that global), and dropped otherwise (trailing data).
    """
    streams: list[PickleStream] = []
    while len(streams) < max_streams:
        start = reader.offset
        stream = read_pickle(reader, max_opcodes=max_opcodes, fast=fast, joblib=joblib)
        if streams and not stream.complete:
            if reaches_code(stream):
                streams.append(stream)
            return streams, start
        streams.append(stream)
        if not stream.complete or reader.at_eof():
            return streams, None
    return streams, None if reader.at_eof() else reader.offset


def _importable(module: str) -> bool:
    """Whether the import system can resolve the module name to a module: dotted identifiers
    (a name like ``ol1,col2``, which a CSV header spells after a GLOBAL opcode, is no module)."""
    return all(part.isidentifier() for part in module.split("."))


def reaches_code(stream: PickleStream) -> bool:
    """Whether an unpickler reading the stream would import a global (and so could call one)
    before it stops, or the walker cannot tell (it stopped where the unpickler may go on).

    This decides whether bytes are a pickle for the rules, whatever else they look like."""
    if stream.undecided:
        return True
    # An empty name: Python's unpickler imports the module at the end of the data, then fails to
    # fetch the name; nothing is called. Reported with the stream, it does not make a file that
    # looks like text a pickle (a one-line 'certifi' without its newline would).
    return any(item.module.startswith("<") or (_importable(item.module) and item.name) for item in stream.imports)


def _is_joblib_wrapper(value: object) -> bool:
    return (
        isinstance(value, _Instance)
        and value.cls.name == "NumpyArrayWrapper"
        and value.cls.module in _JOBLIB_WRAPPER_MODULES
    )


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
        if dtype.descr.lstrip("<>|=") not in _DTYPE_OBJECT_NAMES and not dtype.descr.lstrip("<>|=").startswith("V"):
            raise unknown("dtype flags (objects claimed for a plain type)")
        return 0, True, False
    itemsize = dtype.itemsize
    if itemsize is None:
        raise unknown("element size")
    # joblib reads a padding byte whenever the attribute is not None, whatever its value.
    alignment = state.items.get("numpy_array_alignment_bytes", _NONE)
    if alignment is _OPAQUE:
        raise unknown("alignment")
    count = math.prod(shape)
    if count >= 1 << 63:  # joblib multiplies the dimensions as int64, which wraps
        raise unknown("shape (its element count overflows int64)")
    return count * itemsize, False, alignment is not _NONE


def _describe_value(value: object) -> str:
    if isinstance(value, _Global):
        return f"the global {value.dotted}"
    if isinstance(value, _Module):
        return f"the module {value.name}"
    if isinstance(value, _Instance):
        return f"an object of {value.cls.dotted}"
    if isinstance(value, (_Getter, _Partial)):
        return "a callable built by the stream"
    if isinstance(value, (str, int, tuple, _Bytes, _NoneValue)):
        return f"a constant ({type(value).__name__.lstrip('_').lower()})"
    return "a value the stream computed"


def _attribute(base: object, name: str, via: str) -> _StackValue | None:
    """``getattr(base, name)`` as far as it can be told statically; None when it cannot."""
    if not name or not isinstance(name, str):
        return None
    if isinstance(base, _Module):
        return _Global(base.name, name, via) if base.name != "builtins" else _Global("builtins", name, via)
    if isinstance(base, _Global):
        if base.is_builtins_namespace:
            return _Global("builtins", name, via)
        return _Global(base.module, f"{base.name}.{name}", via)
    if isinstance(base, _Instance):
        return _Global(base.cls.module, f"{base.cls.name}.{name}", via)
    return None


def _item(base: object, key: object, via: str) -> _StackValue | None:
    """``base[key]`` for the namespaces that hold globals (``__builtins__``, a module's
    ``__dict__``, ``sys.modules``); None when it cannot be told statically."""
    if not isinstance(key, str) or not key:
        return None
    if isinstance(base, _Global):
        if base.is_builtins_namespace:
            return _Global("builtins", key, via)
        if base.canonical == "sys.modules":
            return _Module(key)
        owner, _, last = base.name.rpartition(".")
        if last in _NAMESPACE_ATTRIBUTES:
            return _Global(base.module, f"{owner}.{key}" if owner else key, via)
    return None


def _run_plain(
    buf: bytes,
    pos: int,
    end: int,
    budget: int,
    stack: list[_StackValue],
    marks: list[int],
    memo: _Memo,
    base: int,
    keep_bytes: bool,
) -> tuple[int, int]:
    """Step over the plain opcodes at ``buf[pos:end]``: constants, containers and the memo, the
    bulk of any large pickle, with the same effect on ``stack``, ``marks`` and ``memo`` as
    :func:`_walk`'s general loop. Returns the index of the first opcode left to that loop and
    the number of opcodes read (at most ``budget``).

    It stops, without reading it, at any opcode that imports, calls or changes a global, at any
    opcode it would need to report (a malformed one, a stack underflow), and at one that does not
    end before ``end`` (the buffer's or the frame's end): the general loop then reads that opcode,
    so the verdict, the messages and the offsets are exactly the ones it gives alone. This loop
    exists for speed (one Python-level step per opcode instead of several calls)."""
    ops = 0
    values = memo.values
    slots = memo.slots
    # -1 while the memo's slots are not a plain range: every memo opcode is then left to _walk.
    count = slots.count if slots.contiguous else -1
    rich = memo.rich
    room = len(values) < _MEMO_VALUES_LIMIT
    # Every opcode is at least one byte: ending the run early bounds it to ``budget`` opcodes.
    end = min(end, pos + budget)
    while pos < end:
        op = buf[pos]
        if op == 0x8C:  # SHORT_BINUNICODE (the most frequent opcode; at most 255 bytes, always kept)
            if pos + 2 > end:
                break
            stop = pos + 2 + buf[pos + 1]
            if stop > end:
                break
            try:
                value: _StackValue = buf[pos + 2 : stop].decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                break
            stack.append(value)
            pos = stop
            ops += 1
            if pos < end and buf[pos] == 0x94 and count >= 0:  # and its MEMOIZE
                if room:
                    values[count] = value
                    room = len(values) < _MEMO_VALUES_LIMIT
                count += 1
                pos += 1
                ops += 1
            continue
        if op == 0x58 or op == 0x55:  # BINUNICODE, SHORT_BINSTRING
            width = 4 if op == 0x58 else 1
            start = pos + 1 + width
            if start > end:
                break
            length = buf[pos + 1] if width == 1 else int.from_bytes(buf[pos + 1 : start], "little")
            stop = start + length
            if stop > end:
                break
            if length <= KEPT_STRING_CHARS * 4:
                try:
                    text = buf[start:stop].decode("latin-1" if op == 0x55 else "utf-8", "surrogatepass")
                except UnicodeDecodeError:
                    break
                value = text if len(text) <= KEPT_STRING_CHARS else _OPAQUE
            else:
                value = _OPAQUE
            stack.append(value)
            pos = stop
            ops += 1
            # Picklers memoize every string: take a MEMOIZE or BINPUT of the next slot in the same step.
            if pos < end and count >= 0:
                follow = buf[pos]
                if follow == 0x94 or (follow == 0x71 and pos + 2 <= end and buf[pos + 1] == count):
                    if room:
                        if value is _OPAQUE:
                            values.pop(count, None)
                        else:
                            values[count] = value
                        room = len(values) < _MEMO_VALUES_LIMIT
                    count += 1
                    pos += 1 if follow == 0x94 else 2
                    ops += 1
            continue
        if op == 0x4B:  # BININT1
            if pos + 2 > end:
                break
            stack.append(buf[pos + 1])
            pos += 2
        elif op == 0x4A:  # BININT
            if pos + 5 > end:
                break
            number = buf[pos + 1] | buf[pos + 2] << 8 | buf[pos + 3] << 16 | buf[pos + 4] << 24
            stack.append(number - (1 << 32) if number & 0x80000000 else number)
            pos += 5
        elif op == 0x4D:  # BININT2
            if pos + 3 > end:
                break
            stack.append(buf[pos + 1] | buf[pos + 2] << 8)
            pos += 3
        elif op == 0x94 or op == 0x71 or op == 0x72:  # MEMOIZE, BINPUT, LONG_BINPUT
            if op == 0x94:
                index, size = count, 1
            elif op == 0x71:
                if pos + 2 > end:
                    break
                index, size = buf[pos + 1], 2
            else:
                if pos + 5 > end:
                    break
                index, size = buf[pos + 1] | buf[pos + 2] << 8 | buf[pos + 3] << 16 | buf[pos + 4] << 24, 5
            if count < 0 or index > count or not stack:
                break
            top = stack[-1]
            if top is _MARK:
                break
            if room or index in values:
                if isinstance(top, _CHEAP_MEMO):
                    values[index] = top
                elif isinstance(top, _RICH_MEMO) and rich < _RICH_MEMO_LIMIT:
                    rich += 1
                    values[index] = top
                else:
                    values.pop(index, None)
                room = len(values) < _MEMO_VALUES_LIMIT
            if index == count:
                count += 1
            pos += size
        elif op == 0x68 or op == 0x6A:  # BINGET, LONG_BINGET
            size = 2 if op == 0x68 else 5
            if pos + size > end:
                break
            index = (
                buf[pos + 1]
                if op == 0x68
                else buf[pos + 1] | buf[pos + 2] << 8 | buf[pos + 3] << 16 | buf[pos + 4] << 24
            )
            if index >= count:  # unset, or the slots are not a plain range
                break
            stack.append(values.get(index, _OPAQUE))
            pos += size
        elif op == 0x47:  # BINFLOAT
            if pos + 9 > end:
                break
            stack.append(_OPAQUE)
            pos += 9
        elif op == 0x28:  # MARK
            marks.append(len(stack))
            stack.append(_MARK)
            pos += 1
        elif op == 0x88 or op == 0x89 or op == 0x5D or op == 0x8F:  # NEWTRUE, NEWFALSE, EMPTY_LIST, EMPTY_SET
            stack.append(_OPAQUE)
            pos += 1
        elif op == 0x4E:  # NONE
            stack.append(_NONE)
            pos += 1
        elif op == 0x29:  # EMPTY_TUPLE
            stack.append(())
            pos += 1
        elif op == 0x7D:  # EMPTY_DICT
            stack.append(_Dict())
            pos += 1
        elif 0x85 <= op <= 0x87:  # TUPLE1, TUPLE2, TUPLE3
            size = op - 0x84
            if len(stack) - size <= (marks[-1] if marks else -1):
                break
            items = tuple(stack[-size:])
            del stack[-size:]
            stack.append(items)
            pos += 1
        elif op == 0x74 or op == 0x6C or op == 0x91 or op == 0x64:  # TUPLE, LIST, FROZENSET, DICT
            if not marks:
                break
            index = marks.pop()
            items_list = stack[index + 1 :]
            del stack[index:]
            if op == 0x74:
                stack.append(tuple(items_list) if len(items_list) <= _TRACKED_ITEMS else _OPAQUE)
            elif op == 0x64:
                built = _Dict()
                built.update(items_list)
                stack.append(built)
            else:
                stack.append(_OPAQUE)
            pos += 1
        elif op == 0x65 or op == 0x90 or op == 0x75:  # APPENDS, ADDITEMS, SETITEMS
            if not marks:
                break
            index = marks[-1]
            target = stack[index - 1] if index else _MARK
            if target is _MARK or isinstance(target, (_Global, _Module)):
                break
            marks.pop()
            if op == 0x75 and isinstance(target, _Dict):
                target.update(stack[index + 1 :])
            del stack[index - 1 :]
            stack.append(target if op == 0x75 else _OPAQUE)
            pos += 1
        elif op == 0x61 or op == 0x73:  # APPEND, SETITEM
            size = 2 if op == 0x61 else 3
            if len(stack) - size <= (marks[-1] if marks else -1):
                break
            target = stack[-size]
            if isinstance(target, (_Global, _Module)):
                break
            if op == 0x73 and isinstance(target, _Dict):
                target.set(stack[-2], stack[-1])
            del stack[-size:]
            stack.append(target if op == 0x73 else _OPAQUE)
            pos += 1
        elif op == 0x43 or op == 0x42:  # SHORT_BINBYTES, BINBYTES
            if keep_bytes:  # an unpickling callable was pushed: _walk keeps the bytes
                break
            width = 1 if op == 0x43 else 4
            if pos + 1 + width > end:
                break
            length = int.from_bytes(buf[pos + 1 : pos + 1 + width], "little")
            stop = pos + 1 + width + length
            if stop > end:
                break
            stack.append(_Bytes(base + pos, length, None))
            pos = stop
        else:
            break
        ops += 1
    if count >= 0:
        slots.count = count
    memo.rich = rich
    return pos, ops


def _walk(reader: ByteReader, stream: PickleStream, shared: _Shared, *, joblib: bool = True, fast: bool = True) -> None:
    stack: list[_StackValue] = []
    #: Indices of the MARKs on the stack, innermost last.
    marks: list[int] = []
    memo = _Memo()
    frame_end: int | None = None
    op_offset = reader.offset
    op = 0

    def pop() -> _StackValue:
        if not stack or stack[-1] is _MARK:
            raise PickleStructureError(f"stack underflow at offset {op_offset}")
        return stack.pop()

    def pop_mark() -> list[_StackValue]:
        if not marks:
            raise PickleStructureError(f"no MARK on the stack for the opcode at offset {op_offset}")
        index = marks.pop()
        items = stack[index + 1 :]
        del stack[index:]
        return items

    def memo_put(index: int) -> None:
        if not stack or stack[-1] is _MARK:
            raise PickleStructureError(f"memo store with an empty stack at offset {op_offset}")
        memo.put(index, stack[-1])

    def memo_get(index: int) -> None:
        if index not in memo.slots:
            raise PickleStructureError(f"memo reference to unset slot {index} at offset {op_offset}")
        stack.append(memo.values.get(index, _OPAQUE))

    def imported(module: str, name: str) -> _Global:
        value = _Global(module, name)
        shared.add_import(value, _OPCODE_NAMES[op], op_offset)
        return value

    def reached(value: _StackValue | None, via: str, what: str) -> _StackValue:
        """Record a global reached through a getattr-like callable; an attribute or item that
        cannot be told statically is a hazard."""
        if value is None:
            shared.add_hazard(
                f"{_OPCODE_NAMES[op]} at offset {op_offset} reads {what} through {via}, which cannot be "
                "resolved statically",
                op_offset,
            )
            return _OPAQUE
        if isinstance(value, _Global):
            shared.add_import(value, _OPCODE_NAMES[op], op_offset)
        return value

    def hazard(message: str) -> None:
        shared.add_hazard(f"{_OPCODE_NAMES[op]} at offset {op_offset} {message}", op_offset)

    def call(func: object, args: object, how: str = "called") -> _StackValue:
        """The value a call of ``func`` with ``args`` (a tuple, when known) builds, recording the
        call and following the callables whose effect matters."""
        opname = _OPCODE_NAMES[op]
        if isinstance(func, _Partial):
            if func.func is None:
                hazard("calls a functools.partial whose function cannot be resolved statically")
                return _OPAQUE
            combined = func.args + args if func.args is not None and isinstance(args, tuple) else None
            return call(func.func, combined, "called via functools.partial")
        if isinstance(func, _Getter):
            return call_getter(func, args)
        if not isinstance(func, _Global):
            hazard(f"calls {_describe_value(func)}, not a named global; what it runs cannot be told statically")
            return _OPAQUE
        shared.add_use(func.dotted, how, opname, op_offset)
        name = func.canonical
        known = args if isinstance(args, tuple) else None
        first = known[0] if known else None
        if name in _GETATTR:
            if known is None or len(known) < 2 or not isinstance(known[1], str):
                hazard(f"calls {func.dotted} with operands that cannot be read statically")
                return _OPAQUE
            return reached(
                _attribute(first, known[1], func.dotted),
                func.dotted,
                f"attribute {known[1]!r} of {_describe_value(first)}",
            )
        if name in _GETITEM:
            if known is None or len(known) < 2:
                hazard(f"calls {func.dotted} with operands that cannot be read statically")
                return _OPAQUE
            return reached(
                _item(first, known[1], func.dotted), func.dotted, f"item {known[1]!r} of {_describe_value(first)}"
            )
        if name in _GETTERS:
            names = [item for item in known if isinstance(item, str)] if known is not None else []
            complete = known is not None and len(names) == len(known) > 0
            return _Getter(_GETTERS[name], tuple(names) if complete else None, func.dotted)
        if name in _PARTIAL:
            if known is None or not known:
                return _Partial(None, None)
            return _Partial(first, known[1:])
        if name in _IMPORTERS:
            if not isinstance(first, str):
                hazard(f"imports a module whose name cannot be read statically through {func.dotted}")
                return _OPAQUE
            fromlist = known[3] if known is not None and len(known) > 3 else None
            top_only = name == "builtins.__import__" and not (isinstance(fromlist, tuple) and fromlist)
            return _Module(first.partition(".")[0] if top_only else first)
        if name in _RESOLVERS:
            if not isinstance(first, str) or not first:
                hazard(f"resolves a name that cannot be read statically through {func.dotted}")
                return _OPAQUE
            module, colon, rest = first.partition(":")
            if not colon:
                module, _, rest = first.rpartition(".")
            return reached(_Global(module, rest, func.dotted) if module and rest else None, func.dotted, repr(first))
        if name in UNPICKLING_CALLABLES:
            payload = first
            if isinstance(payload, _Bytes) and payload.data is not None:
                if id(payload) not in shared.nested_ids:
                    shared.nested_ids.add(id(payload))
                    shared.stream.nested.append(
                        NestedPayload(func.dotted, payload.offset, payload.length, payload.data)
                    )
            elif isinstance(payload, _Bytes):
                hazard(
                    f"passes {payload.length} bytes (from offset {payload.offset}) to {func.dotted}, which "
                    f"unpickles them; they were not kept for analysis (over the {NESTED_BYTES_CAP >> 20} MiB "
                    "cap, or given before the callable), so they cannot be shown safe"
                )
            else:
                hazard(f"passes {_describe_value(payload)} to {func.dotted}, which unpickles it; it cannot be analysed")
            return _OPAQUE
        if name in _CALLS_FIRST_ARGUMENT:
            if known is None or not known:
                hazard(f"calls {func.dotted} with arguments that cannot be read statically")
                return _OPAQUE
            inner_args = known[2] if len(known) > 2 else None
            call(first, inner_args, f"called via {func.dotted}")
            return _OPAQUE
        if name in _RECONSTRUCTORS:
            if isinstance(first, _Global):
                shared.add_use(first.dotted, f"instantiated via {func.dotted}", opname, op_offset)
                return _Instance(first)
            if known is not None:
                hazard(f"instantiates {_describe_value(first)} through {func.dotted}")
            return _OPAQUE
        if func.name == "dtype" and func.module.partition(".")[0] == "numpy" and isinstance(first, str):
            return _Dtype(first)
        return _Instance(func)

    def call_getter(getter: _Getter, args: object) -> _StackValue:
        target = args[0] if isinstance(args, tuple) and len(args) == 1 else None
        if getter.names is None or target is None:
            hazard(f"calls an {getter.via.rpartition('.')[2]} whose operands cannot be read statically")
            return _OPAQUE
        results: list[object] = []
        for name in getter.names:
            if getter.kind == "item":
                value = reached(
                    _item(target, name, getter.via), getter.via, f"item {name!r} of {_describe_value(target)}"
                )
            else:
                value = target
                for part in name.split("."):
                    value = reached(
                        _attribute(value, part, getter.via),
                        getter.via,
                        f"attribute {name!r} of {_describe_value(target)}",
                    )
                if getter.kind == "method":
                    call(value, None, f"called via {getter.via}")
                    value = _OPAQUE
            results.append(value)
        return results[0] if len(results) == 1 else tuple(results)  # type: ignore[return-value]

    def mutate(target: object, what: str) -> None:
        """SETITEM(S), APPEND(S), ADDITEMS or BUILD applied to ``target``."""
        if isinstance(target, (_Global, _Module)):
            hazard(
                f"{what} {_describe_value(target)} (a class, function or module object): it changes code "
                "or state that later runs"
            )

    def joblib_array(state: _StackValue) -> None:
        """Skip the array data joblib wrote right after a NumpyArrayWrapper was built, or read
        the nested pickle stream of an object array."""
        nonlocal frame_end
        size, has_objects, padded = _joblib_array_layout(state, op_offset)
        if frame_end is not None:
            if reader.offset != frame_end:
                raise PickleStructureError(f"joblib array data inside a pickle frame at offset {reader.offset}")
            frame_end = None
            shared.frame_end = None
        if has_objects:
            nested = PickleStream(start=reader.offset)
            _walk(reader, nested, shared, joblib=False, fast=fast)
            stream.opcodes += nested.opcodes
            stream.persistent_ids += nested.persistent_ids
            return
        if stream.joblib_skip_at is None:
            stream.joblib_skip_at = reader.offset
        if padded:
            reader.skip(reader.read(1)[0])
        reader.skip(size)

    def bytes_value(length: int) -> _Bytes:
        """A bytes payload of ``length`` at the reader: kept only when an unpickling callable was
        pushed before it (it may be its argument) and it fits the caps; skipped otherwise."""
        if shared.unpickler_seen and length <= NESTED_BYTES_CAP and shared.kept_bytes + length <= NESTED_TOTAL_CAP:
            shared.kept_bytes += length
            return _Bytes(op_offset, length, reader.read(length))
        reader.skip(length)
        return _Bytes(op_offset, length, None)

    while True:
        if fast:
            window, index, base = reader.window()
            end = len(window) if frame_end is None else min(len(window), frame_end - base)
            if index < end:
                budget = shared.max_opcodes - stream.opcodes
                index, count = _run_plain(window, index, end, budget, stack, marks, memo, base, shared.unpickler_seen)
                if count:
                    reader.advance_to(index)
                    stream.opcodes += count
        op_offset = reader.offset
        if frame_end is not None and op_offset >= frame_end:
            if op_offset > frame_end:
                raise PickleUndecidedError(f"opcode straddles the end of a frame at offset {frame_end}")
            frame_end = None
            shared.frame_end = None
        read_op = reader.read_byte()
        if read_op is None:
            raise TruncatedError(f"no STOP opcode before the end of the data (offset {op_offset})")
        op = read_op
        stream.opcodes += 1
        if stream.opcodes > shared.max_opcodes:
            raise PickleUndecidedError(
                f"more than {shared.max_opcodes} opcodes ({cap_hint('max_pickle_opcodes')}); the rest of the "
                f"stream from offset {op_offset} is not read"
            )

        if op in _PUSH_ONLY:
            if op == 0x28:  # MARK
                marks.append(len(stack))
                stack.append(_MARK)
            else:
                stack.append(_OPAQUE)
        elif op == 0x4E:  # NONE
            stack.append(_NONE)
        elif op == 0x29:  # EMPTY_TUPLE
            stack.append(())
        elif op == 0x7D:  # EMPTY_DICT
            stack.append(_Dict())
        elif op in _INT_ARG_PUSH:  # BININT, BININT1, BININT2
            width, signed = _INT_ARG_PUSH[op]
            stack.append(int.from_bytes(reader.read(width), "little", signed=signed))
        elif op in _FIXED_ARG_PUSH:
            reader.read(_FIXED_ARG_PUSH[op])
            stack.append(_OPAQUE)
        elif op in _UNSIGNED_LEN:
            width, kind = _UNSIGNED_LEN[op]
            length = int.from_bytes(reader.read(width), "little")
            if kind == "bytes":
                stack.append(bytes_value(length))
            elif length <= KEPT_STRING_CHARS * 4:
                raw = reader.read(length)
                try:
                    text = raw.decode("utf-8", "surrogatepass") if kind == "str" else raw.decode("latin-1")
                except UnicodeDecodeError as not_utf8:
                    raise PickleStructureError(f"string at offset {op_offset} is not UTF-8") from not_utf8
                stack.append(text if len(text) <= KEPT_STRING_CHARS else _OPAQUE)
            else:
                reader.skip(length)
                stack.append(_OPAQUE)
        elif op == 0x54:  # BINSTRING: signed length
            length = int.from_bytes(reader.read(4), "little", signed=True)
            if length < 0:
                raise PickleStructureError(f"negative BINSTRING length at offset {op_offset}")
            if length <= KEPT_STRING_CHARS:
                stack.append(reader.read(length).decode("latin-1"))
            else:
                reader.skip(length)
                stack.append(_OPAQUE)
        elif op == 0x8A:  # LONG1
            length = reader.read(1)[0]
            value = int.from_bytes(reader.read(length), "little", signed=True)
            if stream.opcodes <= 3 and stream.first_value is None:
                stream.first_value = value
            stack.append(value)
        elif op == 0x8B:  # LONG4
            length = int.from_bytes(reader.read(4), "little", signed=True)
            if length < 0:
                raise PickleStructureError(f"negative LONG4 length at offset {op_offset}")
            reader.skip(length)
            stack.append(_OPAQUE)
        elif op == 0x49:  # INT: strtol(base 0), else PyLong_FromString(base 0), as load_int
            number_line = _number_line(reader, op_offset, "INT")
            if number_line is None:
                stack.append(_OPAQUE)
            else:
                number = _strtol_value(number_line)
                if number is None:
                    number = _pylong_value(number_line, 0)
                    if number is None:
                        raise PickleStructureError(f"bad INT argument at offset {op_offset}")
                    stack.append(number)
                elif len(number_line) == 2 and number in (0, 1):  # protocol 0 booleans
                    stack.append(_OPAQUE)
                else:
                    stack.append(number)
        elif op == 0x4C:  # LONG: a trailing 'L' dropped, then PyLong_FromString(base 0)
            number_line = _number_line(reader, op_offset, "LONG")
            if number_line is not None:
                if number_line.endswith(b"L"):
                    number_line = number_line[:-1]
                if _pylong_value(number_line, 0) is None:
                    raise PickleStructureError(f"bad LONG argument at offset {op_offset}")
            stack.append(_OPAQUE)
        elif op == 0x46:  # FLOAT
            number_line = _number_line(reader, op_offset, "FLOAT")
            if number_line is not None and not _c_float_ok(number_line):
                raise PickleStructureError(f"bad FLOAT argument at offset {op_offset}")
            stack.append(_OPAQUE)
        elif op == 0x53:  # STRING: quoted repr, escapes decoded
            keep = KEPT_STRING_CHARS + 3
            line = reader.read_line(keep, MAX_LINE_BYTES)
            whole = len(line) < keep
            if len(line) < 2 or line[:1] not in (b"'", b'"') or (whole and line[0] != line[-1]):
                raise PickleStructureError(f"STRING argument at offset {op_offset} is not quoted")
            if whole:
                try:
                    stack.append(codecs.escape_decode(line[1:-1])[0].decode("latin-1"))
                except ValueError as bad_escape:
                    raise PickleStructureError(f"bad STRING escape at offset {op_offset}") from bad_escape
            else:
                stack.append(_OPAQUE)
        elif op == 0x56:  # UNICODE: raw-unicode-escape line
            line = reader.read_line(KEPT_STRING_CHARS + 1, MAX_LINE_BYTES)
            if len(line) <= KEPT_STRING_CHARS:
                stack.append(line.decode("raw-unicode-escape", "replace"))
            else:
                stack.append(_OPAQUE)
        elif op in (0x63, 0x69):  # GLOBAL, INST
            if op == 0x69 and not marks:  # load_inst looks for the MARK before reading its lines
                raise PickleStructureError(f"no MARK on the stack for the opcode at offset {op_offset}")
            # C's unpickler refuses a line the data ends in, and an empty name; Python's own
            # (pickle._Unpickler, which joblib.load and pandas' fallback use) imports the module
            # all the same, and INST then calls what it found.
            module_line = reader.read_line(KEPT_STRING_CHARS, MAX_LINE_BYTES, unterminated=True)
            module = _decode_line(module_line, "module name", op_offset)
            name = _decode_line(
                reader.read_line(KEPT_STRING_CHARS, MAX_LINE_BYTES, unterminated=True), "global name", op_offset
            )
            if not module:
                raise PickleStructureError(f"empty module name in the global at offset {op_offset}")
            if not name:
                imported(module, "")
                raise PickleStructureError(
                    f"empty global name at offset {op_offset} (Python's unpickler imports the module)"
                )
            if op == 0x69:
                inst_args = tuple(pop_mark())
                stack.append(call(imported(module, name), inst_args))
            else:
                stack.append(imported(module, name))
        elif op == 0x93:  # STACK_GLOBAL
            name_value = pop()
            module_value = pop()
            if isinstance(module_value, str) and isinstance(name_value, str):
                stack.append(imported(module_value, name_value))
            else:
                stack.append(imported("<unresolved>", "<unresolved>"))
        elif op in (0x82, 0x83, 0x84):  # EXT1/2/4: global looked up in copyreg's registry
            width = {0x82: 1, 0x83: 2, 0x84: 4}[op]
            code = int.from_bytes(reader.read(width), "little", signed=op == 0x84)
            stack.append(imported("<copyreg extension>", str(code)))
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
                # C's unpickler takes a FRAME as a read-ahead hint and reads on across it; where
                # the opcodes fall then depends on its buffering.
                raise PickleUndecidedError(f"a frame starts inside another frame at offset {op_offset}")
            remaining = reader.remaining()
            if remaining is not None and length > remaining:
                # C's unpickler fails here; Python's (pickle._Unpickler: joblib.load, pandas'
                # compatibility fallback) takes the bytes left as the frame and reads on.
                length = remaining
            frame_end = reader.offset + length
            shared.frame_end = frame_end
        elif op in (0x70, 0x71, 0x72):  # PUT, BINPUT, LONG_BINPUT
            if op == 0x70:  # PyLong_FromString(base 10), as load_put
                number_line = _number_line(reader, op_offset, "PUT")
                put_index = None if number_line is None else _pylong_value(number_line, 10)
                if put_index is None:
                    raise PickleStructureError(f"bad PUT argument at offset {op_offset}")
                if put_index < 0:
                    raise PickleStructureError(f"negative memo index at offset {op_offset}")
                if put_index > _SSIZE_MAX:
                    raise PickleStructureError(f"PUT argument at offset {op_offset} overflows")
                index = put_index
            else:
                index = int.from_bytes(reader.read(1 if op == 0x71 else 4), "little")
            memo_put(index)
        elif op == 0x94:  # MEMOIZE
            memo_put(memo.slots.count)
        elif op in (0x67, 0x68, 0x6A):  # GET, BINGET, LONG_BINGET
            if op == 0x67:  # PyLong_FromString(base 10), as load_get
                number_line = _number_line(reader, op_offset, "GET")
                get_index = None if number_line is None else _pylong_value(number_line, 10)
                if get_index is None or get_index > _SSIZE_MAX:
                    raise PickleStructureError(f"bad GET argument at offset {op_offset}")
                index = get_index
            else:
                index = int.from_bytes(reader.read(1 if op == 0x68 else 4), "little")
            memo_get(index)
        elif op == 0x32:  # DUP
            top = pop()
            stack.extend((top, top))
        elif op == 0x30:  # POP
            if stack and stack[-1] is _MARK:
                stack.pop()  # CPython's POP also discards a bare MARK
                marks.pop()
            else:
                pop()
        elif op == 0x31:  # POP_MARK
            pop_mark()
        elif op == 0x74:  # TUPLE
            items = pop_mark()
            stack.append(tuple(items) if len(items) <= _TRACKED_ITEMS else _OPAQUE)
        elif op in (0x85, 0x86, 0x87):  # TUPLE1..3
            values = [pop() for _ in range(op - 0x84)]
            values.reverse()
            stack.append(tuple(values))
        elif op == 0x64:  # DICT
            built = _Dict()
            built.update(pop_mark())
            stack.append(built)
        elif op in (0x6C, 0x91):  # LIST, FROZENSET
            pop_mark()
            stack.append(_OPAQUE)
        elif op == 0x75:  # SETITEMS
            items = pop_mark()
            target = pop()
            if isinstance(target, _Dict):
                target.update(items)
            else:
                mutate(target, "sets items on")
            stack.append(target)
        elif op == 0x73:  # SETITEM
            item = pop()
            key = pop()
            target = pop()
            if isinstance(target, _Dict):
                target.set(key, item)
            else:
                mutate(target, "sets an item on")
            stack.append(target)
        elif op in (0x65, 0x90):  # APPENDS, ADDITEMS
            pop_mark()
            target = pop()
            mutate(target, "adds items to")
            stack.append(target if isinstance(target, (_Global, _Module)) else _OPAQUE)
        elif op == 0x61:  # APPEND
            pop()
            target = pop()
            mutate(target, "appends to")
            stack.append(target if isinstance(target, (_Global, _Module)) else _OPAQUE)
        elif op == 0x52:  # REDUCE
            args = pop()
            func = pop()
            stack.append(call(func, args))
        elif op == 0x81:  # NEWOBJ: cls.__new__(cls, *args)
            args = pop()
            stack.append(call(pop(), args))
        elif op == 0x92:  # NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
            pop()
            args = pop()
            stack.append(call(pop(), args))
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
            elif joblib and shared.joblib_wrapper_seen and isinstance(target, _Opaque):
                raise PickleStructureError(
                    f"BUILD at offset {op_offset} sets the state of an object the walker cannot identify in a "
                    "joblib stream: if it is a NumpyArrayWrapper, joblib reads array data after it"
                )
            elif isinstance(target, _Partial):
                # functools.partial.__setstate__((func, args, kwargs, dict)) replaces the function.
                new_func = state[0] if isinstance(state, tuple) and state else None
                target.func = new_func if isinstance(new_func, (_Global, _Getter, _Partial)) else None
                target.args = (
                    state[1] if isinstance(state, tuple) and len(state) > 1 and isinstance(state[1], tuple) else None
                )
                stack.append(target)
            elif isinstance(target, _Getter):
                target.names = None
                stack.append(target)
            else:
                mutate(target, "sets the state of")
                stack.append(target if isinstance(target, (_Global, _Module)) else _OPAQUE)
        elif op == 0x6F:  # OBJ: MARK cls args... -> cls(*args)
            items = pop_mark()
            if not items:
                raise PickleStructureError(f"OBJ without a class at offset {op_offset}")
            stack.append(call(items[0], tuple(items[1:])))
        elif op in (0x50, 0x51) and not shared.persistent:
            raise PickleStructureError(f"persistent id at offset {op_offset} and no persistent_load to resolve it")
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
            stack.append(pop())
        else:
            raise PickleStructureError(f"unknown opcode 0x{op:02x} at offset {op_offset}")


#: Opcodes an unpickler can read first, on an empty stack and memo: pushes (EXT* from copyreg's
#: registry included), PROTO and FRAME, and PERSID (an unpickler with persistent_load reads it).
#: Any other first byte (most text, most media) stops every unpickler at offset 0, before any import.
_FIRST_OPCODES: Final = frozenset(b"()]}NIJKLMFGSTUVXBCcP\x80\x82\x83\x84\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x95\x96\x97")


def stops_at_once(head: bytes) -> bool:
    """Whether every unpickler fails on the first byte (so the bytes are no pickle at all)."""
    return not head or head[0] not in _FIRST_OPCODES


def looks_like_pickle_start(head: bytes) -> bool:
    """True when ``head`` begins with a PROTO opcode of a known protocol (2 and above)."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= HIGHEST_PROTOCOL
