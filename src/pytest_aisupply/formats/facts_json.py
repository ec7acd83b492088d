"""The readers' facts as JSON, and back: the lockfile's record of a Hub file, and the local facts cache.

The artifact rules judge :class:`~pytest_aisupply.formats.ArtifactFacts`; recording them per Hub file lets
a normal run apply today's policy (allowlists, severities) offline. The codec is generic over the readers'
dataclasses, so facts added by the readers travel without changes here; decoding builds only dataclasses
defined in ``pytest_aisupply.formats`` (importing that package's own modules when a record names one not
imported yet; never importing or calling anything else).
Bytes kept for explanations (raw pickle copies, nested payloads) are dropped from the lockfile: they
are not facts. The local facts cache (:mod:`pytest_aisupply.inventory.facts_cache`) keeps them
(``keep_bytes``), so that a warm run explains a failing pickle exactly as a cold one does.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
import re
import sys
from collections.abc import Callable
from typing import Any

from . import ArtifactFacts

_PACKAGE = "pytest_aisupply.formats"
_TYPE, _TUPLE, _BYTES = "__type__", "__tuple__", "__bytes__"
_READER_MODULE = re.compile(r"pytest_aisupply\.formats(\.[a-z_][a-z0-9_]*)?")


class FactsError(ValueError):
    """Recorded facts that cannot be decoded (edited by hand, or written by another plugin version)."""


def encode_facts(facts: ArtifactFacts, *, keep_bytes: bool = False) -> str:
    """The facts as compact JSON; ``keep_bytes`` records bytes (base64) instead of dropping them.
    Raises TypeError for facts holding anything else than the readers' records and JSON values."""
    return json.dumps(_encode(facts, keep_bytes), sort_keys=True, separators=(",", ":"))


def decode_facts(text: str) -> ArtifactFacts:
    """The facts of :func:`encode_facts` or :func:`encode_cached_facts` text. The records are built
    as the JSON parser meets them (:func:`_record`), so nothing but the parser walks the text; the
    result is that of :func:`decode_facts_value` of the parsed value."""
    return _checked(lambda: json.loads(text, object_hook=_record))


def encode_cached_facts(facts: ArtifactFacts) -> str:
    """The facts as compact JSON for the local facts cache: :func:`encode_facts` with bytes kept,
    in field order, written by the JSON library's encoder, which asks :func:`_cached_record` only
    for the readers' records and bytes.

    Unlike :func:`encode_facts` it does not refuse every value the text cannot give back (a tuple
    inside a list or a mapping becomes a list, a mapping's int key a string): its caller keeps the
    text only when :func:`decode_facts` gives back equal facts. Raises TypeError or ValueError for
    facts holding anything else than the readers' records, bytes and JSON values."""
    return _CACHE_ENCODER.encode(facts)


def encode_facts_value(facts: ArtifactFacts, *, keep_bytes: bool = False) -> Any:
    """:func:`encode_facts` before it becomes text: a JSON value."""
    return _encode(facts, keep_bytes)


#: JSON values that encode and decode to themselves (tested by exact type: the loop runs per value of every record).
_PLAIN = frozenset({str, int, float, bool, type(None)})


#: Reader record types already checked: their tag and the fields their constructor takes.
_ENCODED_TYPES: dict[type, tuple[str, tuple[str, ...]]] = {}


def _encode(value: Any, keep_bytes: bool = False) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is list:
        return [item if type(item) in _PLAIN else _encode(item, keep_bytes) for item in value]
    record = _ENCODED_TYPES.get(kind)
    if record is not None:
        tag, names = record
        encoded = {_TYPE: tag}
        for name in names:
            item = getattr(value, name)
            encoded[name] = item if type(item) in _PLAIN else _encode(item, keep_bytes)
        return encoded
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, bytes) and keep_bytes:
        return {_BYTES: base64.b64encode(value).decode("ascii")}
    if isinstance(value, (bytes, bytearray, memoryview)):
        if keep_bytes:
            raise TypeError(f"facts hold a {type(value).__name__}, which is not recorded")
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = type(value)
        if not kind.__module__.startswith(_PACKAGE):
            raise TypeError(f"facts hold a {kind.__module__}.{kind.__qualname__}, not a reader's record")
        names = tuple(f.name for f in dataclasses.fields(value) if f.init)
        _ENCODED_TYPES[kind] = (f"{kind.__module__}:{kind.__qualname__}", names)
        return _encode(value, keep_bytes)
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(item, keep_bytes) for item in value]}
    if isinstance(value, list):
        return [_encode(item, keep_bytes) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        if _TYPE in value or _TUPLE in value or _BYTES in value:
            raise TypeError("a mapping with a reserved key")
        return {key: _encode(item, keep_bytes) for key, item in value.items()}
    raise TypeError(f"facts hold a {type(value).__name__}, which the lockfile cannot record")


def _cached_record(value: Any) -> Any:
    """What the JSON encoder writes for a value it does not know: a reader's record as a mapping
    tagged with its type (a tuple field as :func:`_encode` writes it), bytes as base64."""
    kind = type(value)
    known = _CACHED_TYPES.get(kind)
    if known is None:
        if isinstance(value, bytes):
            return {_BYTES: base64.b64encode(value).decode("ascii")}
        if not (dataclasses.is_dataclass(value) and not isinstance(value, type)):
            raise TypeError(f"facts hold a {kind.__name__}, which the facts cache cannot record")
        if not kind.__module__.startswith(_PACKAGE):
            raise TypeError(f"facts hold a {kind.__module__}.{kind.__qualname__}, not a reader's record")
        known = _CACHED_TYPES[kind] = (
            f"{kind.__module__}:{kind.__qualname__}",
            tuple(f.name for f in dataclasses.fields(value) if f.init),
        )
    tag, names = known
    encoded: dict[str, Any] = {_TYPE: tag}
    for name in names:
        item = getattr(value, name)
        encoded[name] = item if type(item) in _PLAIN else _tuples_marked(item)
    return encoded


def _tuples_marked(value: Any) -> Any:
    """A field's value with its tuples written as :func:`_encode` writes them (the JSON encoder
    writes a tuple as a list); lists and mappings are walked down to the records in them, which
    :func:`_cached_record` writes."""
    kind = type(value)
    if kind is list:
        return [item if type(item) in _PLAIN else _tuples_marked(item) for item in value]
    if kind is tuple:
        return {_TUPLE: [item if type(item) in _PLAIN else _tuples_marked(item) for item in value]}
    if kind is dict:
        return {key: item if type(item) in _PLAIN else _tuples_marked(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return {_TUPLE: [_tuples_marked(item) for item in value]}
    return value


#: Reader record types met by :func:`_cached_record`: their tag and the fields their constructor takes.
_CACHED_TYPES: dict[type, tuple[str, tuple[str, ...]]] = {}
# No circular check: the readers' records hold no cycles, and a cycle still ends in RecursionError.
_CACHE_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_cached_record, check_circular=False)


def _record(value: dict[str, Any]) -> Any:
    """A parsed JSON object as :func:`_decode` reads it (its values already decoded): a tuple,
    bytes, a reader's record, or a mapping."""
    if _TUPLE in value:
        return tuple(value[_TUPLE])
    if _BYTES in value:
        return base64.b64decode(str(value[_BYTES]), validate=True)
    if _TYPE not in value:
        return value
    record, names, plain = _record_type(str(value.pop(_TYPE)))
    if plain and value.keys() == names:
        # as in _decode: every field given, and a constructor that would only store them
        instance: Any = object.__new__(record)
        instance.__dict__.update(value)
        return instance
    return record(**{key: item for key, item in value.items() if key in names})


def decode_facts_value(value: Any) -> ArtifactFacts:
    """:func:`decode_facts` of the JSON value already parsed (the facts cache holds many in one file)."""
    return _checked(lambda: _decode(value))


def _checked(decode: Callable[[], Any]) -> ArtifactFacts:
    """What both decoders refuse alike: text or values that break the decoder, and a value that
    decodes to anything but an ArtifactFacts record."""
    try:
        facts = decode()
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise FactsError(f"recorded facts cannot be read: {exc}") from exc
    if not isinstance(facts, ArtifactFacts):
        raise FactsError("recorded facts are not an ArtifactFacts record")
    return facts


def _decode(value: Any) -> Any:
    kind = type(value)
    if kind is list:
        return [item if type(item) in _PLAIN else _decode(item) for item in value]
    if kind is not dict:
        return value
    if _TUPLE in value:
        return tuple(_decode(item) for item in value[_TUPLE])
    if _BYTES in value:
        return base64.b64decode(str(value[_BYTES]), validate=True)
    if _TYPE not in value:
        return {key: _decode(item) for key, item in value.items()}
    record, names, plain = _record_type(str(value[_TYPE]))
    arguments = {key: item if type(item) in _PLAIN else _decode(item) for key, item in value.items() if key in names}
    if plain and len(arguments) == len(names):
        # every field given, and nothing the constructor would do besides storing them (no
        # __post_init__, no slots): the record is filled as its __init__ would fill it, a large
        # facts cache decodes thousands of records
        instance: Any = object.__new__(record)
        instance.__dict__.update(arguments)
        return instance
    return record(**arguments)


#: Record types already resolved (a large facts cache names the same few types many times).
_RECORD_TYPES: dict[str, tuple[type, frozenset[str], bool]] = {}


def _record_type(name: str) -> tuple[type, frozenset[str], bool]:
    """The dataclass a record names, its fields set by its constructor, and whether that
    constructor only stores them (every field in ``__init__``, no ``__post_init__``, no slots)."""
    known = _RECORD_TYPES.get(name)
    if known is not None:
        return known
    module_name, _, qualname = name.partition(":")
    module = sys.modules.get(module_name)
    if module is None and _READER_MODULE.fullmatch(module_name):
        # a reader module not imported yet this run (plugin imports are lazy): our own code, safe to import
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
    if not module_name.startswith(_PACKAGE) or module is None or "." in qualname:
        raise ValueError(f"unknown record type {name!r}")
    kind = getattr(module, qualname, None)
    if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
        raise ValueError(f"unknown record type {name!r}")
    fields = dataclasses.fields(kind)
    plain = (
        all(f.init for f in fields)
        and not hasattr(kind, "__post_init__")
        and "__slots__" not in vars(kind)
        and hasattr(kind, "__dict__")
        # a class compiled by mypyc (formats/pickle.py in a built wheel) has a native constructor:
        # object.__new__ refuses it
        and kind.__new__ is object.__new__
    )
    resolved = (kind, frozenset(f.name for f in fields if f.init), plain)
    _RECORD_TYPES[name] = resolved
    return resolved
