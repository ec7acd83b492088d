"""CPython's own unpickler as the oracle for the walker: ``pickle.Unpickler`` (the C ``_pickle``)
with a ``find_class`` that returns recording stubs, so nothing real is imported or run. It lists
every global the unpickler resolves and every global it calls before it stops; the walker must
report a superset (the differential property of tests/formats/test_loaders.py and tests/fuzz).

Only built-in container operations run for real (list.append, dict.__setitem__ ...). Inputs whose
memo indices or bytes lengths would make the C unpickler allocate gigabytes are cut before that
opcode (the unpickler reads a prefix as it reads the start of the whole).
"""

from __future__ import annotations

import io
import pickle
import re
from dataclasses import dataclass, field

from pytest_aisupply.formats.bytestream import ByteReader
from pytest_aisupply.formats.pickle import KEPT_STRING_CHARS, PickleStream, read_pickle

#: Largest memo index the oracle lets the C unpickler allocate for.
_MEMO_INDEX_LIMIT = 1 << 20


@dataclass
class Recording:
    globals: list[tuple[str, str]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    stopped: str = ""


class _StubMeta(type):
    """Classes returned by find_class: calling one records the call and builds another stub."""

    recording: Recording

    def __call__(cls, *args: object, **kwargs: object) -> object:
        cls.recording.calls.append(cls.__qualname__)
        return _stub(cls.recording, f"{cls.__qualname__}()")


def _stub(recording: Recording, dotted: str) -> type:
    def setstate(self: object, state: object) -> None:
        del self, state

    stub = _StubMeta("Stub", (), {"__setstate__": setstate})
    stub.__qualname__ = dotted
    stub.recording = recording
    return stub


class _RecordingUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, recording: Recording) -> None:
        super().__init__(io.BytesIO(data))
        self.recording = recording

    def find_class(self, module: str, name: str) -> object:
        self.recording.globals.append((module, name))
        return _stub(self.recording, f"{module}.{name}")


_LONG_PUT_TEXT = re.compile(rb"p[ \t\x0b\x0c\r]*[+]?[0-9_]{7,}")


def _safe_prefix(data: bytes) -> bytes:
    """The bytes up to the first place where a LONG_BINPUT or PUT could name a memo index over
    the limit (a byte scan, opcode or not). The unpickler reads the prefix exactly as it reads
    the start of the whole, so what it reports from the prefix the walker must report too."""
    end = len(data)
    position = data.find(b"r")
    while 0 <= position < end:
        if int.from_bytes(data[position + 1 : position + 5], "little") > _MEMO_INDEX_LIMIT:
            end = position
            break
        position = data.find(b"r", position + 1)
    match = _LONG_PUT_TEXT.search(data, 0, end)
    if match:
        end = match.start()
    # BINBYTES, BINBYTES8 and BYTEARRAY8 allocate their declared length before reading it.
    for opcode, width in ((b"B", 4), (b"\x8e", 8), (b"\x96", 8)):
        position = data.find(opcode, 0, end)
        while 0 <= position < end:
            declared = int.from_bytes(data[position + 1 : position + 1 + width], "little")
            if declared > len(data) - position:
                end = position
                break
            position = data.find(opcode, position + 1, end)
    return data[:end]


def record(data: bytes) -> Recording:
    """What the C unpickler resolves and calls reading ``data`` from byte 0."""
    recording = Recording()
    try:
        _RecordingUnpickler(_safe_prefix(data), recording).load()
        recording.stopped = "STOP"
    except RecursionError:
        recording.stopped = "recursion"
    except Exception as exc:  # the unpickler's own errors end its reading
        recording.stopped = f"{type(exc).__name__}: {exc}"[:200]
    return recording


def walker_reading(data: bytes) -> PickleStream:
    return read_pickle(ByteReader(io.BytesIO(data), size=len(data)))


def uncovered(data: bytes) -> str | None:
    """What the unpickler resolved or called that the walker does not report; None when the
    walker reports a superset."""
    recording = record(data)
    stream = walker_reading(data)
    if stream.undecided:
        # The walker stopped where the unpickler may go on in ways that depend on its buffering
        # (frames): such a stream is a finding in every mode, whatever follows.
        return None
    imported = {(item.module, item.name) for item in stream.imports if not item.via}
    unresolved = any(item.module.startswith("<") for item in stream.imports)
    for module, name in recording.globals:
        if len(module) >= KEPT_STRING_CHARS or len(name) >= KEPT_STRING_CHARS or unresolved:
            continue
        if (module, name) not in imported:
            return f"the unpickler imports {module}.{name}; the walker reports {sorted(imported)} ({stream.error})"
    called = {use.dotted for use in stream.uses}
    for dotted in recording.calls:
        if dotted.endswith("()") or len(dotted) >= KEPT_STRING_CHARS or unresolved or stream.hazards:
            continue
        if dotted not in called:
            return f"the unpickler calls {dotted}; the walker reports calls of {sorted(called)} ({stream.error})"
    return None
