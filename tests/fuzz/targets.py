"""What the fuzzers run: one target per reader, each with its seeds and the properties every
input must satisfy.

A target takes bytes and runs one reader (or parser) on them the way the plugin does. It returns
normally when the reader kept its contract, and raises :class:`PropertyFailure` when it broke a
property it can check itself; any other exception escaping a target is an internal error (a
reader bug). The contracts (docs/benchmarks.md, "Robustness under hostile input"):

- readers never raise: ``analyze_path`` returns facts (a problem for what it could not read),
  ``extract`` returns facts with an ``error``; a problem reading "internal error while reading"
  is an exception that a reader let escape, so it fails the property too;
- parsers raise only their documented error (``ConfigError``, ``LockError``);
- what a reader cannot fully parse ends in a finding (a pickle, a problem, an error), checked
  against an independent reader where there is one (pickletools, numpy's header parser);
- nothing is executed: no pickle global is looked up, no process is started, no trace is left
  (:func:`armed` watches the audit events while a target runs).

Time and memory are measured by the callers (the property tests and ``long_run.py``).
"""

from __future__ import annotations

import bz2
import codecs
import ctypes  # noqa: F401 - loaded before any target is armed: numpy loads it lazily (ctypes.dlopen)
import datetime as dt
import gzip
import io
import json
import lzma
import os
import pickle
import pickletools
import re
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from pytest_aisupply.code.references import extract
from pytest_aisupply.code.sources import parse_source, read_notebook
from pytest_aisupply.formats import ArtifactFacts, Limits, analyze_path, builtin_readers, sniff_path
from pytest_aisupply.formats.keras import KerasArchiveReader
from pytest_aisupply.formats.pickle import KEPT_STRING_CHARS
from pytest_aisupply.inventory.modelcard import read_card
from pytest_aisupply.lockfile.lock import (
    ArtifactEntry,
    HubEntry,
    HubFile,
    Lock,
    LockError,
    fast_parse,
    read_lock,
    render_lock,
)
from pytest_aisupply.rules import builtin_rules
from pytest_aisupply.rules.license_policy import check_license
from pytest_aisupply.rules.no_pickle import _scan_finding, describe_pickle
from pytest_aisupply.rules.pickle_policy import DEFAULT_POLICY
from pytest_aisupply.settings.config import ConfigError, load_settings

#: Where a malicious seed's payload would leave its trace if anything ever ran it.
MARKER = Path(tempfile.gettempdir()) / "aisupply-fuzz-PAYLOAD-RAN"
ENV_MARKER = "AISUPPLY_PAYLOAD_RAN"
#: Audit events that mean something ran: a pickle global looked up, a process started.
FORBIDDEN_EVENTS = frozenset(
    {
        "pickle.find_class",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "subprocess.Popen",
        "ctypes.dlopen",
        "webbrowser.open",
        "socket.connect",
    }
)
#: The caps the fuzzers read with: the defaults, except a smaller decompression allowance so
#: that a small input's work stays small (the ratio caps are what is being tested).
FUZZ_LIMITS = Limits(bomb_min_bytes=16 << 20, max_decompressed_bytes=256 << 20)
INTERNAL_ERROR = "internal error"


class PropertyFailure(AssertionError):
    """An input broke a property of its reader."""


class _Executed(BaseException):
    """Raised by the audit hook to stop an action that must never happen."""


_ARMED = False
_EVENTS: list[str] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _ARMED and event in FORBIDDEN_EVENTS:
        _EVENTS.append(f"{event}{args!r:.200}")
        raise _Executed(event)


_HOOKED = False


@contextmanager
def armed() -> Iterator[None]:
    """Watch for execution while a target runs; raise PropertyFailure if anything ran."""
    global _ARMED, _HOOKED
    if not _HOOKED:
        sys.addaudithook(_audit)
        _HOOKED = True
    _EVENTS.clear()
    _ARMED = True
    try:
        yield
    except _Executed as exc:
        raise PropertyFailure(f"executed: {_EVENTS}") from exc
    finally:
        _ARMED = False
    if _EVENTS:
        raise PropertyFailure(f"executed: {_EVENTS}")
    if os.environ.get(ENV_MARKER) or MARKER.exists():
        raise PropertyFailure("a payload left its trace")


# -- a private folder for the files the targets read --------------------------------------------


@cache
def workdir() -> Path:
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="aisupply-fuzz-", dir=base))


def _file(name: str, data: bytes) -> Path:
    path = workdir() / name
    path.write_bytes(data)
    return path


@cache
def _readers() -> list[object]:
    return builtin_readers()  # type: ignore[return-value]


@cache
def _rule_ids() -> list[str]:
    return [rule.id for rule in builtin_rules()]


# -- the properties of an artifact reading ------------------------------------------------------


def check_facts(facts: ArtifactFacts) -> bool:
    """The properties every reading has; returns whether the verdict is a finding."""
    if not isinstance(facts.format, str) or not facts.format:
        raise PropertyFailure(f"no format: {facts.format!r}")
    for problem in facts.problems:
        if not isinstance(problem.message, str) or problem.message.startswith(INTERNAL_ERROR):
            raise PropertyFailure(f"reader bug: {problem.message}")
    finding = bool(facts.pickles or facts.problems)
    for fact in facts.pickles:
        describe_pickle(fact)  # what the rule renders must render
        _scan_finding(fact, DEFAULT_POLICY)
    if facts.format.startswith(("pickle", "joblib", "pytorch-legacy", "numpy-object")) and not finding:
        raise PropertyFailure(f"a {facts.format} file without a finding")
    for _, header in (item for item in facts.detail("safetensors") if isinstance(item, tuple)):
        finding = finding or bool(header.problems)
    return finding


def _plain(name: str) -> str:
    """A global's name without the characters that pickletools shows differently (it applies
    string escapes to GLOBAL's lines, which the unpickler does not)."""
    return re.sub(r"[^A-Za-z0-9_. ]", "", name)


def _escaped(name: str) -> str:
    """A name as pickletools decodes its line (string escapes applied, latin-1)."""
    try:
        return codecs.escape_decode(name.encode("utf-8", "surrogatepass"))[0].decode("latin-1")  # type: ignore[attr-defined,no-any-return]
    except ValueError:
        return name


def _pickletools_globals(data: bytes) -> list[str]:
    """The globals pickletools sees GLOBAL and INST import, up to the first STOP or error."""
    found = []
    try:
        for opcode, argument, _ in pickletools.genops(io.BytesIO(data)):
            # "module name", as pickletools shows it (the walker keeps names up to a length).
            if opcode.name in ("GLOBAL", "INST") and isinstance(argument, str) and len(argument) < KEPT_STRING_CHARS:
                found.append(_plain(argument))
    except Exception:
        pass
    return found


def _check_pickle_oracle(data: bytes, facts: ArtifactFacts) -> None:
    """A stream the walker read to its end names every global pickletools sees it import."""
    first = next((fact.stream for fact in facts.pickles if fact.where == "" and fact.stream.start == 0), None)
    if first is None or not first.complete:
        return
    seen = {_plain(f"{_escaped(item.module)} {_escaped(item.name)}") for item in first.imports}
    for name in _pickletools_globals(data):
        if name not in seen:
            raise PropertyFailure(f"pickletools sees {name} imported; the walker reports {sorted(seen)}")


def _check_npy_oracle(data: bytes, facts: ArtifactFacts, finding: bool) -> None:
    """A .npy header that numpy reads as an object dtype is a finding."""
    if facts.format != "numpy" or finding:
        return
    import numpy as np

    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        _, _, dtype = reader(stream, max_header_size=1 << 20)
    except Exception:  # numpy cannot read it: then it cannot load it either
        return
    if dtype.hasobject:
        raise PropertyFailure("numpy reads an object array where the reader found nothing")


def analyze_bytes(data: bytes, name: str = "artifact.bin", limits: Limits = FUZZ_LIMITS) -> ArtifactFacts:
    path = _file(name, data)
    return analyze_path(path, _readers(), limits)  # type: ignore[arg-type]


def run_artifact(data: bytes) -> bool:
    from helpers.walker import first_difference

    facts = analyze_bytes(data)
    finding = check_facts(facts)
    _check_pickle_oracle(data, facts)
    _check_npy_oracle(data, facts, finding)
    difference = first_difference(data)
    if difference is not None:
        raise PropertyFailure(f"the walker's fast path and general loop disagree: {difference[:2000]}")
    _check_unpickler_oracle(data)
    return finding


def _check_unpickler_oracle(data: bytes) -> None:
    """CPython's unpickler (with recording stubs) reading the bytes from offset 0 resolves and
    calls nothing the walker does not report."""
    from helpers.recording_unpickler import uncovered

    missing = uncovered(data)
    if missing is not None:
        raise PropertyFailure(f"the walker reports less than CPython's unpickler: {missing}")


def run_sniff(data: bytes) -> bool:
    name, is_artifact = sniff_path(_file("sniffed.bin", data), _readers())  # type: ignore[arg-type]
    if data and name is None:
        raise PropertyFailure("a non-empty file sniffed as nothing")
    if not isinstance(is_artifact, bool):
        raise PropertyFailure(f"is_artifact is {is_artifact!r}")
    return is_artifact


def run_keras(data: bytes) -> bool:
    """The unsafe-format rule's reading of a zip as a Keras archive."""
    facts = analyze_path(_file("model.keras", data), [KerasArchiveReader()], FUZZ_LIMITS)
    return check_facts(facts) or any(not config.inspected for config in facts.detail("keras_config"))  # type: ignore[attr-defined]


def run_code(data: bytes) -> bool:
    source = parse_source(data)
    if source.error:
        return True
    facts = extract(source.text, "fuzzed.py")
    return bool(facts.error or facts.references or facts.unsafe_loads)


def run_notebook(data: bytes) -> bool:
    source = read_notebook(data, Limits.max_code_file_bytes)
    if source.error:
        return True
    facts = extract(source.text, "fuzzed.ipynb")
    if facts.error is None:
        for reference in facts.references:
            source.place(reference.line, reference.col)
    return bool(facts.error or facts.references or facts.unsafe_loads)


def run_config(data: bytes) -> bool:
    folder = workdir() / "project"
    folder.mkdir(exist_ok=True)
    (folder / "pyproject.toml").write_bytes(data)
    try:
        settings = load_settings(folder / "pyproject.toml", folder)
        settings.check_rule_ids(_rule_ids())
        settings.limits  # noqa: B018 - builds the caps
    except ConfigError as exc:
        if not str(exc):
            raise PropertyFailure("a ConfigError without a message") from exc
        return True
    return False


def _check_fast_parse(data: bytes) -> None:
    """Where the lockfile's fast path reads a document, it reads what tomllib reads."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    fast = fast_parse(text)
    if fast is None:
        return
    try:
        expected = tomllib.loads(text)
    except ValueError as exc:
        raise PropertyFailure(f"the fast path reads what tomllib rejects: {exc}") from None
    if fast != expected:
        raise PropertyFailure("the fast path and tomllib read different documents")


def run_lockfile(data: bytes) -> bool:
    _check_fast_parse(data)
    path = _file("aisupply.lock", data)
    try:
        lock = read_lock(path)
    except LockError as exc:
        if not str(exc):
            raise PropertyFailure("a LockError without a message") from exc
        return True
    # What was read can be written, and reads back to what writes the same text.
    text = render_lock(lock)
    if render_lock(read_lock(_file("again.lock", text.encode("utf-8")))) != text:
        raise PropertyFailure("the lock does not survive a write and a read")
    return False


def run_modelcard(data: bytes) -> bool:
    folder = workdir() / "card"
    folder.mkdir(exist_ok=True)
    card = read_card(_file("card/README.md", data))
    if card is None:
        return False
    if card.error:
        return True
    check_license(card.licenses(), ("mit",), license_name=card.metadata.get("license_name"))
    card.base_models()
    return False


# -- seeds ------------------------------------------------------------------------------------


def _pickle_seeds() -> list[bytes]:
    from helpers import malicious
    from helpers.artifacts import global_reference_pickle, malicious_reduce_pickle

    seeds = [sample.data for sample in malicious.corpus(MARKER, with_large=False)]
    for protocol in range(6):
        seeds.append(pickle.dumps({"a": [1, 2.5, "x", b"y", (None, True)]}, protocol=protocol))
        seeds.append(malicious_reduce_pickle(MARKER, protocol=protocol))
        seeds.append(global_reference_pickle(protocol=protocol))
    seeds.append(b"\x80\x02" + b"]" * 50 + b"a" * 49 + b".")
    try:
        import numpy as np

        seeds.append(pickle.dumps({"w": np.arange(4.0), "d": np.dtype("f4")}, protocol=2))
    except ImportError:
        pass
    seeds += _joblib_seeds()
    return seeds


def _joblib_seeds() -> list[bytes]:
    try:
        import joblib
        import numpy as np
    except ImportError:
        return []
    seeds = []
    for obj in ({"coef": np.arange(6.0).reshape(2, 3), "n": [1, 2]}, np.array(["a", None], dtype=object)):
        buffer = io.BytesIO()
        joblib.dump(obj, buffer)
        seeds.append(buffer.getvalue())
    return seeds


def _zip_seeds() -> list[bytes]:
    from helpers import malicious
    from helpers.artifacts import nested_zip_bytes, torch_like_zip_bytes, zip_bytes

    payload = pickle.dumps(malicious.Reduce(exec, "pass"), protocol=2)
    benign = pickle.dumps({"a": 1}, protocol=2)
    seeds = [data for data, _ in malicious.zip_anomalies(payload, benign).values()]
    seeds.append(torch_like_zip_bytes(benign))
    seeds.append(torch_like_zip_bytes(payload))
    seeds.append(zip_bytes({"a.npy": _npy_seeds()[0], "b.txt": b"hello"}))
    seeds.append(nested_zip_bytes(payload, 3))
    seeds.append(zip_bytes({"x.pkl.gz": gzip.compress(payload, mtime=0)}, compression=zipfile.ZIP_STORED))
    seeds.append(zip_bytes({"m.bin": payload}, compression=zipfile.ZIP_BZIP2))
    seeds.append(zip_bytes({"m.bin": payload}, compression=zipfile.ZIP_LZMA))
    seeds += _keras_seeds()
    return seeds


def _keras_seeds() -> list[bytes]:
    from helpers.formats_extra import dense_model, keras_archive_bytes, nested_lambda_model

    return [keras_archive_bytes(dense_model()), keras_archive_bytes(nested_lambda_model())]


def _tar_seeds() -> list[bytes]:
    from helpers.artifacts import tar_bytes

    payload = pickle.dumps(os.system, protocol=2)
    return [
        tar_bytes({"sys_info": b"x", "pickle": payload, "storages": b"", "tensors": b""}),
        tar_bytes({"a/b.pkl": payload, "c.txt": b"text\n"}),
        tar_bytes({"inner.tar": tar_bytes({"p.pkl": payload})}),
    ]


def _compression_seeds() -> list[bytes]:
    payload = pickle.dumps(os.system, protocol=4)
    benign = pickle.dumps(list(range(50)), protocol=4)
    seeds = []
    for data in (payload, benign, bytes(4096)):
        seeds += [
            gzip.compress(data, mtime=0),
            bz2.compress(data),
            lzma.compress(data),
            lzma.compress(data, format=lzma.FORMAT_ALONE),
            zlib.compress(data),
        ]
    seeds.append(gzip.compress(gzip.compress(payload, mtime=0), mtime=0))
    return seeds


def _safetensors_seeds() -> list[bytes]:
    from helpers.artifacts import safetensors_bytes

    header = {
        "__metadata__": {"format": "pt"},
        "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "b": {"dtype": "F16", "shape": [2], "data_offsets": [16, 20]},
    }
    return [
        safetensors_bytes(header, bytes(20)),
        safetensors_bytes({"w": {"dtype": "BF16", "shape": [], "data_offsets": [0, 2]}}, bytes(2)),
        safetensors_bytes(header, bytes(20), header_length=1 << 63),
        safetensors_bytes(b'{"a":' * 50 + b"1" + b"}" * 50, b""),
    ]


def _npy_seeds() -> list[bytes]:
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    numeric = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(16)
    objects = numeric.replace(b"'<f8'", b"'|O' ")[: len(numeric) - 16] + pickle.dumps(["x", 1], protocol=3)
    version2 = b"\x93NUMPY\x02\x00" + len(header).to_bytes(4, "little") + header + bytes(16)
    structured = header.replace(b"'<f8'", b"[('a', '<i4'), ('b', 'O')]")
    seeds = [numeric, objects, version2, b"\x93NUMPY\x01\x00" + len(structured).to_bytes(2, "little") + structured]
    try:
        import numpy as np

        buffer = io.BytesIO()
        np.savez(buffer, a=np.arange(3), b=np.array([None, "x"], dtype=object))
        seeds.append(buffer.getvalue())
    except ImportError:
        pass
    return seeds


def _other_format_seeds() -> list[bytes]:
    from helpers.formats_extra import (
        INJECTION_CHAT_TEMPLATE,
        STANDARD_NODES,
        gguf_bytes,
        llama_metadata,
        onnx_model_bytes,
        onnx_tensor_bytes,
        saved_model_bytes,
    )

    return [
        gguf_bytes(llama_metadata("{{ messages }}")),
        gguf_bytes(llama_metadata(INJECTION_CHAT_TEMPLATE), big_endian=True),
        gguf_bytes(llama_metadata(None), version=1),
        saved_model_bytes([*STANDARD_NODES, ("r", "ReadFile")], functions={"f": [("p", "PyFunc")]}),
        onnx_model_bytes([onnx_tensor_bytes("w", "../../etc/passwd"), onnx_tensor_bytes("b", None)]),
        b"7z\xbc\xaf\x27\x1c" + bytes(32),
        b"\x89PNG\r\n\x1a\n" + bytes(32),
        b"\x89HDF\r\n\x1a\n" + bytes(64),
    ]


def artifact_seeds() -> list[bytes]:
    return (
        _pickle_seeds()
        + _zip_seeds()
        + _tar_seeds()
        + _compression_seeds()
        + _safetensors_seeds()
        + _npy_seeds()
        + _other_format_seeds()
    )


_CODE_PROJECT = Path(__file__).resolve().parent.parent / "data" / "code_project"


def _code_seeds() -> list[bytes]:
    seeds = [path.read_bytes() for path in sorted((_CODE_PROJECT / "src").glob("*.py"))]
    seeds.append(
        b"import torch, pickle\nfrom transformers import AutoModel as A\nREV='main'\n"
        b"m = A.from_pretrained('org/name', revision=REV, trust_remote_code=True)\n"
        b"torch.load(f'{x}.pt')\npickle.loads(b)\n"
    )
    return seeds


def _notebook_seeds() -> list[bytes]:
    seeds = [(_CODE_PROJECT / "notebooks" / "explore.ipynb").read_bytes()]
    for code in _code_seeds()[:3]:
        cells = [
            {"cell_type": "code", "source": code.decode("utf-8", "replace").splitlines(True)},
            {"cell_type": "markdown", "source": "# x"},
            {"cell_type": "code", "source": "%%bash\nls\n"},
            {"cell_type": "code", "source": "!pip install x\nimport os"},
        ]
        seeds.append(json.dumps({"cells": cells, "nbformat": 4}).encode())
    return seeds


def _config_seeds() -> list[bytes]:
    from pytest_aisupply.settings import schema as config_schema

    root = Path(__file__).resolve().parents[2]
    seeds = [
        config_schema.full_example().encode(),
        (root / "examples" / "demo" / "pyproject.toml").read_bytes(),
        (_CODE_PROJECT / "pyproject.toml").read_bytes(),
        b"[tool.aisupply]\npickle = 'scan'\npickle_allowed_globals = ['sklearn.*']\n"
        b"[tool.aisupply.rules]\nno-pickle = 'warn'\n[tool.aisupply.limits]\nmax_members = 10\nmax_depth = 2\n",
    ]
    return [seed.replace(b'artifacts = ["models", "data"]', b'artifacts = ["."]') for seed in seeds]


def _lock_seeds() -> list[bytes]:
    today = dt.date(2026, 1, 2)
    lock = Lock(
        artifacts={"m.pt": ArtifactEntry("m.pt", "pytorch-zip", 10, "a" * 64, today)},
        hub={
            ("model", "org/name", "b" * 40): HubEntry(
                "model",
                "org/name",
                "b" * 40,
                today,
                license=("apache-2.0",),
                base_models=("org/base",),
                files=(HubFile("config.json", 10, git_sha1="c" * 40), HubFile("w.bin", 99, sha256="d" * 64)),
            ),
            ("dataset", "o/d", "e" * 40): HubEntry(
                "dataset",
                "o/d",
                "e" * 40,
                today,
                license_name='a "quoted" name\\',
                files=(HubFile("a/very/long/path/" * 8 + "x.parquet", 1 << 40, sha256="f" * 64),),
            ),
        },
    )
    return [render_lock(lock).encode(), render_lock(Lock()).encode()]


def _card_seeds() -> list[bytes]:
    return [
        b"---\nlicense: apache-2.0\nbase_model: org/base\ntags: [a, b]\n---\n# Model\n",
        b"---\nlicense: [mit, other]\nlicense_name: acme\nbase_model:\n - a/b\n - c/d\n---\ntext\n",
        b"---\na: &a [1, 2]\nb: &b [*a, *a]\nlicense: *b\n---\n",
        b"no front matter\n",
        b"---\nlicense: mit\ndate: 2020-01-02\nwhen: 2020-01-02 10:11:12\nscore: !!float 1.5\n"
        b"bin: !!binary aGk=\n---\n",
        b"---\nlicense: (mit OR apache-2.0) AND bsd-3-clause WITH classpath-exception-2.0\nbase_model: a/b\n---\n",
    ]


@dataclass(frozen=True)
class Target:
    """One reader under test: its name, how to run it, its seeds, and the largest input."""

    name: str
    run: Callable[[bytes], bool]
    seeds: Callable[[], list[bytes]]
    max_size: int = 1 << 16


TARGETS: tuple[Target, ...] = (
    Target("sniff", run_sniff, artifact_seeds),
    Target("pickle", run_artifact, _pickle_seeds),
    Target("zip", run_artifact, _zip_seeds),
    Target("keras", run_keras, _keras_seeds),
    Target("tar", run_artifact, _tar_seeds),
    Target("compression", run_artifact, _compression_seeds),
    Target("safetensors", run_artifact, _safetensors_seeds),
    Target("numpy", run_artifact, _npy_seeds),
    Target("gguf-onnx-savedmodel", run_artifact, _other_format_seeds),
    Target("python", run_code, _code_seeds),
    Target("notebook", run_notebook, _notebook_seeds),
    Target("config", run_config, _config_seeds),
    Target("lockfile", run_lockfile, _lock_seeds),
    Target("modelcard", run_modelcard, _card_seeds),
)
BY_NAME = {target.name: target for target in TARGETS}


@cache
def seeds_of(name: str) -> tuple[bytes, ...]:
    return tuple(BY_NAME[name].seeds())


def run(name: str, data: bytes) -> bool:
    """Run one target on one input, watching for execution. Returns whether the verdict is a
    finding; raises PropertyFailure (a property broke) or anything else (an internal error)."""
    target = BY_NAME[name]
    with armed():
        return target.run(data)


__all__ = [
    "FUZZ_LIMITS",
    "TARGETS",
    "PropertyFailure",
    "Target",
    "analyze_bytes",
    "armed",
    "run",
    "seeds_of",
]
