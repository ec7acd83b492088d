"""Reader for GGUF files (llama.cpp): a bounded read of the header's metadata that keeps the chat
templates and records the Jinja constructs in them that template-injection payloads use.

Layout (versions 2 and 3; version 1 has 32-bit counts and lengths; a big-endian file has its
version and every number byte-swapped)::

    magic "GGUF" | version u32 | tensor_count u64 | kv_count u64 | kv_count x key/value
    key/value:  key (string) | value_type u32 | value
    string:     length u64 | UTF-8 bytes
    array:      item_type u32 | count u64 | count x item
    types:      0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string, 9 array,
                10 u64, 11 i64, 12 f64

Tensor infos and data follow the metadata; they are not read.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import BinaryIO, Literal

from .bytestream import ByteReader, TruncatedError
from .core import ReadContext

MAGIC = b"GGUF"
TYPE_STRING = 8
TYPE_ARRAY = 9
#: Byte size of each fixed-size value type.
FIXED_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
TYPE_NAMES = {
    0: "uint8",
    1: "int8",
    2: "uint16",
    3: "int16",
    4: "uint32",
    5: "int32",
    6: "float32",
    7: "bool",
    8: "string",
    9: "array",
    10: "uint64",
    11: "int64",
    12: "float64",
}

#: Caps: metadata entries, key length, chat template length, items of one array, array nesting.
MAX_KV = 1 << 16
MAX_KEY = 1 << 16
MAX_TEMPLATE = 4 << 20
MAX_ARRAY_ITEMS = 1 << 24
MAX_ARRAY_DEPTH = 4
TEMPLATE_KEY = "tokenizer.chat_template"


class _Malformed(ValueError):
    pass


@dataclass(frozen=True)
class TemplateConstruct:
    """A construct of a chat template that reaches past the data a template is given."""

    construct: str
    description: str
    line: int
    column: int
    block_line: int
    block_column: int
    #: The whole ``{{ }}``/``{% %}`` block (whitespace folded), cut around the construct if long.
    excerpt: str


@dataclass(frozen=True)
class ChatTemplate:
    key: str
    text: str
    constructs: tuple[TemplateConstruct, ...]


@dataclass
class GgufHeader:
    """What the metadata of one GGUF file holds (as far as the checks need)."""

    where: str
    version: int = 0
    tensor_count: int = 0
    kv_count: int = 0
    templates: list[ChatTemplate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class GgufReader:
    name = "gguf"
    artifact = True

    def sniff(self, head: bytes, size: int | None) -> bool:
        return head[:4] == MAGIC

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        ctx.add_detail("gguf", read_gguf_header(ByteReader(raw, size=size), ctx.where))


def is_template_key(key: str) -> bool:
    return key == TEMPLATE_KEY or key.startswith(TEMPLATE_KEY + ".")


def read_gguf_header(reader: ByteReader, where: str = "") -> GgufHeader:
    """Read the metadata; anything malformed, unsupported or over a cap becomes a problem."""
    header = GgufHeader(where)
    try:
        _Metadata(reader, header).read()
    except TruncatedError as exc:
        header.problems.append(f"metadata is truncated: {exc}")
    except _Malformed as exc:
        header.problems.append(str(exc))
    return header


class _Metadata:
    def __init__(self, reader: ByteReader, header: GgufHeader) -> None:
        self.reader = reader
        self.header = header
        self.order: Literal["little", "big"] = "little"
        self.width = 8

    def uint(self, width: int) -> int:
        return int.from_bytes(self.reader.read(width), self.order)

    def read(self) -> None:
        if self.reader.read(4) != MAGIC:
            raise _Malformed("not a GGUF file (no GGUF magic)")
        raw_version = self.reader.read(4)
        version = int.from_bytes(raw_version, "little")
        if not 1 <= version <= 3:
            version = int.from_bytes(raw_version, "big")
            if not 1 <= version <= 3:
                raise _Malformed(f"unsupported GGUF version {int.from_bytes(raw_version, 'little')}")
            self.order = "big"
        self.header.version = version
        self.width = 4 if version == 1 else 8
        self.header.tensor_count = self.uint(self.width)
        kv_count = self.header.kv_count = self.uint(self.width)
        if kv_count > MAX_KV:
            raise _Malformed(f"{kv_count} metadata entries, over the cap of {MAX_KV}")
        for index in range(kv_count):
            key = self.key(index)
            value_type = self.uint(4)
            if is_template_key(key) and value_type == TYPE_STRING:
                self.template(key, self.string(MAX_TEMPLATE, key))
            elif is_template_key(key) and value_type == TYPE_ARRAY:
                self.template_array(key)
            else:
                self.skip(value_type, key, 0)

    def key(self, index: int) -> str:
        length = self.uint(self.width)
        if length > MAX_KEY:
            raise _Malformed(f"metadata key {index} is {length} bytes long, over the cap of {MAX_KEY}")
        data = self.reader.read(length)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Malformed(f"metadata key {index} is not UTF-8 (byte {exc.start})") from None

    def string(self, cap: int, key: str) -> bytes:
        length = self.uint(self.width)
        if length > cap:
            raise _Malformed(f"{key}: a string of {length} bytes, over the cap of {cap}; not inspected")
        return self.reader.read(length)

    def template(self, key: str, data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Malformed(f"{key}: the chat template is not UTF-8 (byte {exc.start})") from None
        self.header.templates.append(ChatTemplate(key, text, tuple(scan_chat_template(text))))

    def template_array(self, key: str) -> None:
        item_type = self.uint(4)
        count = self.uint(self.width)
        if item_type != TYPE_STRING:
            self.skip_items(item_type, count, key, 1)
            return
        if count > 64:
            raise _Malformed(f"{key}: an array of {count} templates, over the cap of 64")
        for index in range(count):
            self.template(f"{key}[{index}]", self.string(MAX_TEMPLATE, key))

    def skip(self, value_type: int, key: str, depth: int) -> None:
        size = FIXED_SIZES.get(value_type)
        if size is not None:
            self.reader.skip(size)
        elif value_type == TYPE_STRING:
            self.reader.skip(self.uint(self.width))
        elif value_type == TYPE_ARRAY:
            item_type = self.uint(4)
            self.skip_items(item_type, self.uint(self.width), key, depth + 1)
        else:
            raise _Malformed(f"{key}: unknown value type {value_type}; the rest of the metadata cannot be read")

    def skip_items(self, item_type: int, count: int, key: str, depth: int) -> None:
        if depth > MAX_ARRAY_DEPTH:
            raise _Malformed(f"{key}: arrays nested deeper than {MAX_ARRAY_DEPTH} levels")
        size = FIXED_SIZES.get(item_type)
        if size is not None:
            self.reader.skip(size * count)
            return
        if count > MAX_ARRAY_ITEMS:
            raise _Malformed(f"{key}: an array of {count} items, over the cap of {MAX_ARRAY_ITEMS}")
        for _ in range(count):
            self.skip(item_type, key, depth)


# --------------------------------------------------------------------------------------------
# Chat templates
# --------------------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DUNDER = re.compile(r"__[A-Za-z0-9_]*__")
_STRING_ESCAPE = re.compile(r"\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|N\{[^}]*\}|[0-7]{1,3})")

#: Names that no chat template needs and that sandbox escapes reach for, in any position.
_DENIED_NAMES = {
    "lipsum": "a Jinja global whose __globals__ reach the os module",
    "mro": "walks the class hierarchy to reach any class",
    "popen": "runs a shell command",
    "subprocess": "runs programs",
    "getattr": "reads attributes by computed name",
    "setattr": "writes attributes",
    "globals": "reaches module globals",
    "builtins": "reaches Python builtins",
    "func_globals": "reaches module globals",
    "f_globals": "reaches frame globals",
    "gi_frame": "reaches interpreter frames",
    "tb_frame": "reaches interpreter frames",
    "f_back": "reaches interpreter frames",
    "co_code": "reaches bytecode",
    "url_for": "a web framework global whose __globals__ reach the os module",
    "get_flashed_messages": "a web framework global whose __globals__ reach the os module",
}
#: Names that are dangerous when an attribute is read from them.
_DENIED_BEFORE_DOT = {
    "os": "os module access",
    "sys": "sys module access",
    "request": "request object access (request.application reaches the web application's globals)",
    "cycler": "attribute access on a Jinja global (its __init__.__globals__ reach the os module)",
    "joiner": "attribute access on a Jinja global (its __init__.__globals__ reach the os module)",
    "namespace": "attribute access on a Jinja global (its __init__.__globals__ reach the os module)",
    "self": "attribute access on the template reference (reaches the render context)",
}
#: Names that are dangerous when called.
_DENIED_CALLS = {
    "eval": "runs Python code",
    "exec": "runs Python code",
    "compile": "builds Python code",
    "system": "runs a shell command",
    "open": "reads or writes files",
    "__import__": "imports modules",
}
#: Statements that load other templates (through the environment's loader: files on disk).
_LOADING_STATEMENTS = {"import", "include", "extends", "from"}


def scan_chat_template(text: str, limit: int = 50) -> list[TemplateConstruct]:
    """The constructs of a Jinja chat template that reach past its data: dunder attributes and
    dunder names hidden in (escaped) strings, private attributes, the ``attr`` filter, module,
    frame and global-object access, calls of eval/exec/system/open, template loading statements.
    Only expressions and statements are looked at (``{{ }}``, ``{% %}``); text, comments and raw
    blocks are output as text and cannot run anything. At most ``limit`` constructs are kept."""
    scan = _Scan(text, limit)
    for start, end, statement in _blocks(text):
        scan.block(start, end, statement)
    return scan.found


def _blocks(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, is_statement) of every ``{{ }}`` and ``{% %}`` block, skipping comments and
    raw blocks. An unterminated block runs to the end of the text."""
    blocks: list[tuple[int, int, bool]] = []
    position = 0
    length = len(text)
    while position < length:
        start = text.find("{", position)
        if start < 0 or start + 1 >= length:
            break
        opener = text[start + 1]
        if opener == "#":
            close = text.find("#}", start + 2)
            position = length if close < 0 else close + 2
            continue
        if opener not in "{%":
            position = start + 1
            continue
        end = _skip_to(text, start + 2, "}}" if opener == "{" else "%}")
        blocks.append((start, end, opener == "%"))
        if opener == "%" and _RAW.match(text, start, end):
            endraw = _ENDRAW.search(text, end)
            end = length if endraw is None else endraw.end()
        position = end
    return blocks


_RAW = re.compile(r"\{%[-+]?\s*raw\s*[-+]?%\}")
_ENDRAW = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")


def _skip_to(text: str, position: int, closer: str) -> int:
    """The offset just past ``closer``, outside string literals (the text's end if none)."""
    quote = ""
    length = len(text)
    while position < length:
        char = text[position]
        if quote:
            if char == "\\":
                position += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif text.startswith(closer, position):
            return position + len(closer)
        position += 1
    return length


class _Scan:
    def __init__(self, text: str, limit: int) -> None:
        self.text = text
        self.limit = limit
        self.found: list[TemplateConstruct] = []
        self._seen: set[tuple[str, int]] = set()
        self._block = (0, 0)

    def position(self, offset: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, offset) + 1
        return line, offset - (self.text.rfind("\n", 0, offset) + 1) + 1

    def add(self, construct: str, description: str, offset: int) -> None:
        if len(self.found) >= self.limit or (construct, offset) in self._seen:
            return
        self._seen.add((construct, offset))
        start, end = self._block
        excerpt = self.text[start:end]
        if len(excerpt) > 200:
            begin = max(start, offset - 80)
            excerpt = ("..." if begin > start else "") + self.text[begin : begin + 160] + "..."
        line, column = self.position(offset)
        block_line, block_column = self.position(start)
        self.found.append(
            TemplateConstruct(construct, description, line, column, block_line, block_column, " ".join(excerpt.split()))
        )

    def block(self, start: int, end: int, statement: bool) -> None:
        text = self.text
        self._block = (start, end)
        position = start + 2
        stop = end - 2 if end - start >= 4 and text.startswith(("}}", "%}"), end - 2) else end
        if position < stop and text[position] in "-+":
            position += 1
        previous = ""  # the previous significant token
        leading = statement
        while position < stop:
            char = text[position]
            if char.isspace():
                position += 1
                continue
            if char in "'\"":
                close = _string_end(text, position, stop)
                self.string(text[position + 1 : close - 1], position)
                previous = "string"
                position = close
            elif match := _IDENTIFIER.match(text, position):
                name = match.group()
                self.name(name, previous, _next_significant(text, match.end(), stop), position, leading)
                previous = name
                position = match.end()
            else:
                previous = char
                position += 1
            leading = False

    def name(self, name: str, previous: str, after: str, offset: int, leading: bool) -> None:
        attribute = previous == "."
        if _DUNDER.fullmatch(name):
            what = "dunder attribute access" if attribute else "dunder name"
            self.add(name, f"{what} (reaches Python internals: globals, builtins, classes)", offset)
        elif attribute and name.startswith("_"):
            self.add(name, "private attribute access (reaches internals a template is not given)", offset)
        if previous == "|" and name == "attr":
            self.add("|attr", "a filter that reads attributes by computed name, past name checks", offset)
        if name in _DENIED_NAMES:
            self.add(name, _DENIED_NAMES[name], offset)
        if name in _DENIED_BEFORE_DOT and after == "." and not attribute:
            self.add(f"{name}.", _DENIED_BEFORE_DOT[name], offset)
        if name in _DENIED_CALLS and after == "(":
            self.add(f"{name}(", _DENIED_CALLS[name], offset)
        if leading and name in _LOADING_STATEMENTS:
            self.add(name, "a statement that loads another template through the environment's loader", offset)

    def string(self, body: str, offset: int) -> None:
        value = body
        escaped = bool(_STRING_ESCAPE.search(body))
        if escaped:
            try:
                value = body.encode("utf-8", "backslashreplace").decode("unicode-escape")
            except (UnicodeDecodeError, ValueError):
                self.add("escape", "a string with escapes that cannot be decoded", offset)
                return
        how = " hidden by escapes" if escaped and "__" not in body else ""
        dunder = _DUNDER.search(value)
        if dunder:
            self.add(dunder.group(), f"string naming a dunder attribute{how} (for attr or [] access)", offset)
        elif "__" in value:
            self.add("'__'", f"string containing '__'{how} (a piece of a dunder name)", offset)
        if "%c" in value:
            self.add("%c", "character-code formatting (builds names that no check sees)", offset)


def _string_end(text: str, position: int, stop: int) -> int:
    """The offset just past the string literal that starts at ``position`` (``stop`` if it is
    not closed)."""
    quote = text[position]
    position += 1
    while position < stop:
        char = text[position]
        if char == "\\":
            position += 2
            continue
        position += 1
        if char == quote:
            return position
    return stop


def _next_significant(text: str, position: int, stop: int) -> str:
    while position < stop and text[position].isspace():
        position += 1
    return text[position] if position < stop else ""
