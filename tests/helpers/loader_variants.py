"""Generated container variants for the differential against the real loaders: pickle payloads
(benign values, calls of globals in every encoding, fuzz mutations of both) inside each container
a loader reads (torch's zip, its legacy tar and sequence of pickles, pandas' compression by name,
numpy's .npy/.npz and fallback, joblib dumps raw and compressed), the containers themselves
mutated now and then. Driven by a seeded ``random.Random``: every input is reproducible.
"""

from __future__ import annotations

import bz2
import datetime
import gzip
import io
import lzma
import pickle
import random
import tarfile
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fuzz.mutate import mutate
from helpers.loader_attacks import joblib_zfile, long_first_line

#: Globals a payload calls: real code, names the stubs must record, names that import nothing.
_TARGETS = (
    ("builtins", "exec"),
    ("os", "system"),
    ("posix", "system"),
    ("subprocess", "Popen"),
    ("builtins", "getattr"),
    ("torch.serialization", "load"),
    ("numpy.testing._private.utils", "runstring"),
    ("collections", "OrderedDict"),
    ("nonexistent_module_x", "anything"),
)


@dataclass(frozen=True)
class Variant:
    kind: str
    filename: str
    loaders: tuple[str, ...]
    data: bytes


def _value(rng: random.Random, depth: int = 0) -> object:
    choice = rng.randrange(9 if depth < 3 else 5)
    if choice == 0:
        return rng.randint(-(1 << 70), 1 << 70)
    if choice == 1:
        return "".join(rng.choice("abcé\n'\"") for _ in range(rng.randrange(12)))
    if choice == 2:
        return rng.random()
    if choice == 3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(10)))
    if choice == 4:
        return None
    if choice == 5:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if choice == 6:
        return {str(index): _value(rng, depth + 1) for index in range(rng.randrange(4))}
    if choice == 7:
        return OrderedDict((str(index), _value(rng, depth + 1)) for index in range(rng.randrange(3)))
    return (datetime.date(2020, 1, 2), _value(rng, depth + 1))


def _call(rng: random.Random, module: str, name: str) -> bytes:
    """A call of ``module.name`` with a string argument, in one of the encodings unpicklers accept."""
    argument = "x" * rng.randrange(1, 6)
    form = rng.randrange(5)
    if form == 0:  # protocol 0 text: GLOBAL, MARK, UNICODE, TUPLE, REDUCE
        return f"c{module}\n{name}\n(V{argument}\ntR.".encode()
    if form == 1:  # protocol 2: GLOBAL, then the argument as a BINUNICODE in TUPLE1
        encoded = argument.encode()
        return (
            b"\x80\x02c"
            + f"{module}\n{name}\n".encode()
            + b"X"
            + len(encoded).to_bytes(4, "little")
            + encoded
            + b"\x85R."
        )
    if form == 2:  # protocol 4: STACK_GLOBAL from two SHORT_BINUNICODE, memoized
        parts = b"".join(b"\x8c" + bytes([len(part)]) + part + b"\x94" for part in (module.encode(), name.encode()))
        return b"\x80\x04" + parts + b"\x93\x94\x8c" + bytes([len(argument)]) + argument.encode() + b"\x85R."
    if form == 3:  # through the memo: PUT the global, pop it, GET it back
        return f"c{module}\n{name}\np0\n0g0\n(V{argument}\ntR.".encode()
    # INST: MARK, arguments, then the class by name
    return f"(V{argument}\ni{module}\n{name}\n.".encode()


def payload(rng: random.Random) -> bytes:
    """A benign pickle, a call of a global (behind a long first line now and then), or a fuzz
    mutation of one of them."""
    kind = rng.randrange(10)
    if kind < 4:
        data = pickle.dumps(_value(rng), protocol=rng.randrange(6))
    else:
        module, name = rng.choice(_TARGETS)
        data = _call(rng, module, name)
        if rng.random() < 0.3 and not data.startswith(b"\x80"):
            data = long_first_line(rng.choice((10, 5000))) + data
    if rng.random() < 0.35:
        data = mutate(data, rng, [pickle.dumps(_value(rng), protocol=2)], max_size=1 << 14)
    return data


def _tar(members: dict[str, bytes], rng: random.Random, *, v7: bool | None = None) -> bytes:
    buffer = io.BytesIO()
    form = rng.choice((tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT))
    with tarfile.open(fileobj=buffer, mode="w", format=form) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    raw = bytearray(buffer.getvalue())
    if (rng.random() < 0.3 if v7 is None else v7) and form == tarfile.USTAR_FORMAT:
        position = 0
        while position + 512 <= len(raw) and any(raw[position : position + 512]):
            header = raw[position : position + 512]
            size = int(header[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
            header[257:265] = bytes(8)
            header[148:156] = b"        "
            header[148:156] = b"%06o\x00 " % sum(header)
            raw[position : position + 512] = header
            position += 512 + (size + 511) // 512 * 512
    return bytes(raw)


def _zip(members: dict[str, bytes], rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    method = rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


_TORCH_MAGIC = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
_TORCH_VERSION = pickle.dumps(1001, protocol=2)
_SYS_INFO = pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {}}, protocol=2)


def _torch_zip(rng: random.Random) -> Variant:
    members = {"archive/data.pkl": payload(rng), "archive/byteorder": b"little", "archive/version": b"3\n"}
    if rng.random() < 0.2:
        members["archive/.data/serialization_id"] = b"0" * 20
    return Variant("torch-zip", "model.pt", ("torch.load",), _zip(members, rng))


def _torch_sequence(rng: random.Random) -> Variant:
    data = _TORCH_MAGIC + _TORCH_VERSION + _SYS_INFO + payload(rng) + pickle.dumps([], protocol=2)
    return Variant("torch-legacy-sequence", "model.pt", ("torch.load", "pickle.load"), data)


def _torch_tar(rng: random.Random) -> Variant:
    members = {
        "sys_info": _SYS_INFO,
        "storages": pickle.dumps(0, protocol=2),
        "tensors": pickle.dumps(0, protocol=2),
        "pickle": payload(rng),
    }
    if rng.random() < 0.3:
        members["storages"] = payload(rng)
    return Variant("torch-legacy-tar", "model.tar", ("torch.load",), _tar(members, rng))


_COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lambda data: lzma.compress(data, format=lzma.FORMAT_XZ),
}


def _pandas(rng: random.Random) -> Variant:
    data = payload(rng)
    suffix = rng.choice((".gz", ".bz2", ".xz", ".zip", ".tar", ".tar.gz", ".pkl"))
    if suffix in _COMPRESSORS:
        body = _COMPRESSORS[suffix](data)
        loaders: tuple[str, ...] = ("pandas.read_pickle", "joblib.load")
    elif suffix == ".zip":
        prefix = b"# notes\n" * rng.randrange(3) if rng.random() < 0.3 else b""
        body, loaders = prefix + _zip({"model.pkl": data}, rng), ("pandas.read_pickle",)
    elif suffix == ".tar":
        body, loaders = _tar({"model.pkl": data}, rng), ("pandas.read_pickle",)
    elif suffix == ".tar.gz":
        body, loaders = gzip.compress(_tar({"model.pkl": data}, rng)), ("pandas.read_pickle",)
    else:
        body, loaders = data, ("pandas.read_pickle", "numpy.load", "joblib.load")
    return Variant("pandas-compressed", "model" + suffix, loaders, body)


def npy_object_header(count: int = 1) -> bytes:
    header = f"{{'descr': '|O', 'fortran_order': False, 'shape': ({count},), }}".encode()
    padded = header + b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(padded).to_bytes(2, "little") + padded


def _numpy(rng: random.Random) -> Variant:
    form = rng.randrange(3)
    if form == 0:
        return Variant("numpy", "array.npy", ("numpy.load",), npy_object_header() + payload(rng))
    if form == 1:
        members = {f"a{index}.npy": npy_object_header() + payload(rng) for index in range(rng.randint(1, 3))}
        return Variant("numpy", "arrays.npz", ("numpy.load",), _zip(members, rng))
    return Variant("numpy", "array.npy", ("numpy.load", "pickle.load"), payload(rng))


def _joblib(rng: random.Random) -> Variant:
    import joblib
    import numpy as np

    value: object = np.arange(rng.randrange(1, 20), dtype=rng.choice(("f8", "i4", "u1", "O")))
    if rng.random() < 0.5:
        value = {"w": value, "meta": _value(rng)}
    buffer = io.BytesIO()
    joblib.dump(value, buffer, protocol=rng.choice((2, 4, 5)))
    data = buffer.getvalue()
    if rng.random() < 0.5:
        data = mutate(data, rng, [payload(rng)], max_size=1 << 14)
    compress = rng.choice(("", ".gz", ".bz2", ".xz", ".zf"))
    if compress == ".zf":
        data = joblib_zfile(data)
    elif compress:
        data = _COMPRESSORS[compress](data)
    return Variant("joblib", "model.joblib" + compress, ("joblib.load", "pickle.load"), data)


KINDS: dict[str, Callable[[random.Random], Variant]] = {
    "torch-zip": _torch_zip,
    "torch-legacy-sequence": _torch_sequence,
    "torch-legacy-tar": _torch_tar,
    "pandas-compressed": _pandas,
    "numpy": _numpy,
    "joblib": _joblib,
}


def variants(seed: int, per_kind: int, kinds: tuple[str, ...] = tuple(KINDS)) -> Iterator[Variant]:
    rng = random.Random(seed)
    for kind in kinds:
        for _ in range(per_kind):
            variant = KINDS[kind](rng)
            if rng.random() < 0.15:  # the container itself damaged
                variant = Variant(variant.kind, variant.filename, variant.loaders, mutate(variant.data, rng))
            yield variant


def write(variant: Variant, directory: Path, index: int) -> Path:
    path = directory / f"{index:05d}-{variant.kind}" / variant.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(variant.data)
    return path
