"""The readers' facts about a Hub file as a JSON string for the lockfile, and back.

The artifact rules judge :class:`~pytest_aisupply.formats.ArtifactFacts`; recording them per Hub file lets
a normal run apply today's policy (allowlists, severities) offline. The codec is generic over the readers'
dataclasses, so facts added by the readers travel without changes here; decoding builds only dataclasses
defined in ``pytest_aisupply.formats`` (importing that package's own modules when a record names one not
imported yet; never importing or calling anything else).
Bytes kept for explanations (raw pickle copies, nested payloads) are dropped: they are not facts.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import sys
from typing import Any

from .formats import ArtifactFacts

_PACKAGE = "pytest_aisupply.formats"
_TYPE, _TUPLE = "__type__", "__tuple__"
_READER_MODULE = re.compile(r"pytest_aisupply\.formats(\.[a-z_][a-z0-9_]*)?")


class FactsError(ValueError):
    """Recorded facts that cannot be decoded (edited by hand, or written by another plugin version)."""


def encode_facts(facts: ArtifactFacts) -> str:
    return json.dumps(_encode(facts), sort_keys=True, separators=(",", ":"))


def decode_facts(text: str) -> ArtifactFacts:
    try:
        value = _decode(json.loads(text))
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise FactsError(f"recorded facts cannot be read: {exc}") from exc
    if not isinstance(value, ArtifactFacts):
        raise FactsError("recorded facts are not an ArtifactFacts record")
    return value


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = type(value)
        if not kind.__module__.startswith(_PACKAGE):
            raise TypeError(f"facts hold a {kind.__module__}.{kind.__qualname__}, not a reader's record")
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return {_TYPE: f"{kind.__module__}:{kind.__qualname__}", **fields}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(item) for item in value]}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        if _TYPE in value or _TUPLE in value:
            raise TypeError("a mapping with a reserved key")
        return {key: _encode(item) for key, item in value.items()}
    raise TypeError(f"facts hold a {type(value).__name__}, which the lockfile cannot record")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if _TUPLE in value:
        return tuple(_decode(item) for item in value[_TUPLE])
    if _TYPE not in value:
        return {key: _decode(item) for key, item in value.items()}
    module_name, _, qualname = str(value[_TYPE]).partition(":")
    module = sys.modules.get(module_name)
    if module is None and _READER_MODULE.fullmatch(module_name):
        # a reader module not imported yet this run (plugin imports are lazy): our own code, safe to import
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
    if not module_name.startswith(_PACKAGE) or module is None or "." in qualname:
        raise ValueError(f"unknown record type {value[_TYPE]!r}")
    kind = getattr(module, qualname, None)
    if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
        raise ValueError(f"unknown record type {value[_TYPE]!r}")
    names = {f.name for f in dataclasses.fields(kind) if f.init}
    arguments = {key: _decode(item) for key, item in value.items() if key in names}
    return kind(**arguments)
