"""Builders of real artifact files for the tests: pickles, torch checkpoints, joblib dumps, numpy
and safetensors files, archives, compression streams, bombs and booby-trapped payloads.

Every ``write_*`` function writes one file at the given path (creating parent directories) and
returns that path; ``*_bytes`` functions return the content instead. Nothing here ever unpickles
anything. Builders needing an optional library (torch, joblib, numpy, safetensors) import it when
called, so importing this module needs only the standard library; tests that call them should
``pytest.importorskip`` the library first.

Typical use (also from pytester-based tests, which pass ``pytester.path / "models" / ...``)::

    from helpers.artifacts import malicious_reduce_pickle, write_torch_checkpoint

    write_torch_checkpoint(tmp_path / "model.pt")
    (tmp_path / "evil.bin").write_bytes(malicious_reduce_pickle(tmp_path / "MARKER"))
"""

from __future__ import annotations

import builtins
import gzip
import io
import json
import os
import pickle
import random
import shlex
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

#: The dotted name a pickle records for ``os.system`` (``posix.system`` on POSIX, ``nt.system``
#: on Windows): what the readers must report for a :class:`ShellPayload`.
OS_SYSTEM = f"{os.system.__module__}.system"
#: The dotted name a pickle of protocol 3 or above records for ``builtins.exec``.
BUILTINS_EXEC = "builtins.exec"

#: First bytes of a 7z archive (a format that cannot be inspected statically).
SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
#: First bytes of a PNG image (not an artifact).
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

GiB = 1 << 30
_ZERO_CHUNK = 1 << 24


def _target(path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------------------------
# Pickles and booby-trapped payloads
# --------------------------------------------------------------------------------------------


class ShellPayload:
    """Unpickling this runs ``command`` through ``os.system`` (pickling it runs nothing)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


class ExecPayload:
    """Unpickling this runs ``code`` through ``builtins.exec`` (pickling it runs nothing)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return (builtins.exec, (self.code,))


def trace_payload(marker: Path, kind: str = "exec") -> ShellPayload | ExecPayload:
    """An object whose unpickling creates the file ``marker``; a test asserts the file does not
    exist after analysis, proving nothing was unpickled. ``kind`` is ``"exec"`` (imports
    ``builtins.exec``, no shell needed) or ``"system"`` (imports ``os.system``: ``touch``)."""
    if kind == "system":
        return ShellPayload(f"touch {shlex.quote(str(marker))}")
    if kind == "exec":
        return ExecPayload(f"open({str(marker)!r}, 'w').close()")
    raise ValueError(f"unknown payload kind {kind!r}")


def builtin_name(name: str, protocol: int) -> str:
    """The dotted name a pickle records for ``builtins.<name>``: protocols 0-2 write Python 2's
    module name (``__builtin__``), as ``pickle`` maps it for compatibility (torch.save uses 2)."""
    return f"{'__builtin__' if protocol < 3 else 'builtins'}.{name}"


def trace_import(kind: str, protocol: int = 4) -> str:
    """The global a :func:`trace_payload` of ``kind`` pickled with ``protocol`` imports."""
    return OS_SYSTEM if kind == "system" else builtin_name("exec", protocol)


def malicious_reduce_pickle(marker: Path, protocol: int = 4, kind: str = "exec") -> bytes:
    """A pickle (any protocol 0-5) whose REDUCE would create ``marker`` if it were ever loaded."""
    return pickle.dumps(trace_payload(marker, kind), protocol=protocol)


def global_reference_pickle(target: Callable[..., Any] = os.system, protocol: int = 4) -> bytes:
    """A pickle of a reference to a global (default ``os.system``): it imports the global when
    loaded but calls nothing. Protocols 0 and 1 have no PROTO header."""
    return pickle.dumps(target, protocol=protocol)


def write_pickle(path: Path, obj: Any = os.system, protocol: int = 4) -> Path:
    """A raw pickle of ``obj`` (default: a reference to ``os.system``)."""
    path = _target(path)
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


# --------------------------------------------------------------------------------------------
# torch, joblib, numpy, safetensors
# --------------------------------------------------------------------------------------------


def write_torch_checkpoint(path: Path, legacy: bool = False, obj: Any = None, folder: str | None = None) -> Path:
    """A real ``torch.save`` checkpoint of ``obj`` (default: a small state dict).

    ``legacy=True`` writes the pre-1.6 format (consecutive pickles, then raw storages).
    ``folder`` renames the folder the zip format keeps its members in (torch names it after the
    file); ``folder=""`` puts them at the top of the zip."""
    import torch

    path = _target(path)
    if obj is None:
        obj = {"weight": torch.arange(6, dtype=torch.float32).reshape(2, 3), "bias": torch.zeros(2)}
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    if folder is not None and not legacy:

        def rename(name: str) -> str:
            _, _, rest = name.partition("/")
            return f"{folder}/{rest}" if folder else rest

        rewrite_zip(path, rename)
    return path


def rewrite_zip(path: Path, rename: Callable[[str], str]) -> Path:
    """Rewrite a zip in place with every member renamed by ``rename`` (content unchanged)."""
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w") as target:
        for info, data in members:
            target.writestr(rename(info.filename), data, compress_type=info.compress_type)
    return path


def torch_like_zip_bytes(data_pkl: bytes, folder: str = "archive") -> bytes:
    """A zip laid out like a torch checkpoint (``data.pkl``, ``version``, ``byteorder``) around
    an arbitrary pickle, built without torch."""
    prefix = f"{folder}/" if folder else ""
    return zip_bytes(
        {
            f"{prefix}data.pkl": data_pkl,
            f"{prefix}byteorder": b"little",
            f"{prefix}version": b"3\n",
            f"{prefix}.data/serialization_id": b"1234567890",
        },
        compression=zipfile.ZIP_STORED,
    )


def write_joblib(path: Path, obj: Any = None, compress: str | None = None, protocol: int | None = None) -> Path:
    """A real ``joblib.dump`` of ``obj`` (default: a dict with numpy arrays and a list).

    ``compress`` is None (plain) or one of joblib's compressors: ``zlib``, ``gzip``, ``bz2``,
    ``xz``, ``lzma``. joblib writes array data between the pickle opcodes."""
    import joblib
    import numpy as np

    path = _target(path)
    if obj is None:
        obj = {"coef": np.arange(12.0).reshape(3, 4), "labels": np.array(["a", "b"]), "n": [1, 2, 3]}
    joblib.dump(obj, path, compress=(compress, 3) if compress else 0, protocol=protocol)
    return path


def write_npy(path: Path, objects: bool = False, payload: Any = None) -> Path:
    """An ``np.save`` file: numeric (no pickle) or, with ``objects=True``, an object array
    (numpy stores those as a pickle), holding ``payload`` if given."""
    import numpy as np

    path = _target(path)
    array = np.array([payload if payload is not None else "text", 1], dtype=object) if objects else np.arange(10.0)
    with open(path, "wb") as handle:  # a handle: np.save would append '.npy' to the name
        np.save(handle, array, allow_pickle=objects)
    return path


def write_npz(path: Path, objects: bool = False, payload: Any = None) -> Path:
    """An ``np.savez`` archive with a numeric member ``a.npy`` and, with ``objects=True``, an
    object-array member ``b.npy`` (a pickle) holding ``payload`` if given."""
    import numpy as np

    path = _target(path)
    arrays = {"a": np.arange(4, dtype=np.int32)}
    if objects:
        arrays["b"] = np.array([payload if payload is not None else "text", 2], dtype=object)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]
    return path


def write_safetensors(
    path: Path, tensors: Mapping[str, Any] | None = None, metadata: Mapping[str, str] | None = None
) -> Path:
    """A real safetensors file written by the ``safetensors`` library (numpy backend)."""
    import numpy as np
    from safetensors.numpy import save_file

    path = _target(path)
    if tensors is None:
        tensors = {
            "embed.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
            "embed.bias": np.zeros(4, dtype=np.float16),
            "steps": np.array([7], dtype=np.int64),
        }
    save_file(dict(tensors), str(path), metadata=dict(metadata) if metadata else None)
    return path


def safetensors_bytes(header: Mapping[str, Any] | bytes, data: bytes, header_length: int | None = None) -> bytes:
    """A hand-made safetensors file: 8-byte little-endian header length, the header (a mapping
    dumped as JSON, or raw bytes as given) and ``data``. ``header_length`` overrides the length
    field (to point past the end, say)."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    length = len(raw) if header_length is None else header_length
    return struct.pack("<Q", length) + raw + data


def write_raw_safetensors(
    path: Path, header: Mapping[str, Any] | bytes, data: bytes, header_length: int | None = None
) -> Path:
    """:func:`safetensors_bytes` written to ``path``."""
    path = _target(path)
    path.write_bytes(safetensors_bytes(header, data, header_length))
    return path


# --------------------------------------------------------------------------------------------
# Archives and compression
# --------------------------------------------------------------------------------------------


def zip_bytes(members: Mapping[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive holding ``members`` (name -> content), in order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write_zip(path: Path, members: Mapping[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """:func:`zip_bytes` written to ``path``."""
    path = _target(path)
    path.write_bytes(zip_bytes(members, compression))
    return path


def nested_zip_bytes(payload: bytes, depth: int, inner_name: str = "payload.pkl") -> bytes:
    """``payload`` stored as ``inner_name`` in a zip, that zip in another, ``depth`` zips deep."""
    data, name = payload, inner_name
    for level in range(depth):
        data = zip_bytes({name: data}, compression=zipfile.ZIP_STORED)
        name = f"level{level}.zip"
    return data


def tar_bytes(members: Mapping[str, bytes], mode: str = "w") -> bytes:
    """A tar archive (``mode`` ``"w"``, or ``"w:gz"`` etc. for a compressed one)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_tar(path: Path, members: Mapping[str, bytes], mode: str = "w") -> Path:
    """:func:`tar_bytes` written to ``path``."""
    path = _target(path)
    path.write_bytes(tar_bytes(members, mode))
    return path


def gzip_bytes(data: bytes) -> bytes:
    """``data`` gzip-compressed (fixed mtime, so reproducible)."""
    return gzip.compress(data, mtime=0)


def corrupt_zip_member(archive: bytes, name: str, mode: str = "deflate") -> bytes:
    """A copy of ``archive`` whose member ``name`` is damaged: ``mode="deflate"`` inverts its
    compressed bytes (broken deflate data), ``mode="crc"`` changes one stored byte (the data no
    longer matches its CRC-32; use it on a ZIP_STORED member)."""
    data = bytearray(archive)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        info = opened.getinfo(name)
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    if mode == "deflate":
        for position in range(start, start + info.compress_size):
            data[position] ^= 0xFF
    elif mode == "crc":
        data[start + info.compress_size // 2] ^= 0x01
    else:
        raise ValueError(f"unknown corruption mode {mode!r}")
    return bytes(data)


def random_bytes(size: int = 4096, seed: int = 0) -> bytes:
    """Reproducible random bytes (no known format)."""
    return random.Random(seed).randbytes(size)


class _RepeatedZeroDeflate:
    """Stands in for zipfile's compressor when writing zeros: deflates one chunk of zeros once
    (with a full flush, so every copy is self-contained) and repeats those bytes. The result is
    a valid deflate stream, written in a fraction of the time zlib would take for 1 GiB."""

    def __init__(self) -> None:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        self._block = compressor.compress(bytes(_ZERO_CHUNK)) + compressor.flush(zlib.Z_FULL_FLUSH)

    def compress(self, data: bytes) -> bytes:
        if len(data) != _ZERO_CHUNK or any(data[:64]):
            raise ValueError("only whole chunks of zeros")
        return self._block

    def flush(self) -> bytes:
        return zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block


def write_zip_bomb(path: Path, size: int = GiB, member: str = "zeros.bin") -> Path:
    """A zip whose single deflated member expands to ``size`` bytes of zeros (~1000x): written
    with zipfile's streaming writer (``force_zip64``) in chunks, fast (about 0.5 s per GiB)."""
    path = _target(path)
    chunk = bytes(_ZERO_CHUNK)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(member, "w", force_zip64=True) as stream,
    ):
        if hasattr(stream, "_compressor") and size % _ZERO_CHUNK == 0:
            stream._compressor = _RepeatedZeroDeflate()
        written = 0
        while written < size:
            piece = chunk if size - written >= _ZERO_CHUNK else bytes(size - written)
            stream.write(piece)
            written += len(piece)
    return path


def write_gzip_bomb(path: Path, size: int = GiB, pickle_shaped: bool = True) -> Path:
    """A gzip stream expanding to ``size`` zeros (~1000x). With ``pickle_shaped`` the zeros are
    the payload of a BINBYTES8 opcode inside a pickle, so a reader that walks the pickle has to
    go through them (and must stop at its decompression caps); without it the content is plain
    zeros."""
    if size % _ZERO_CHUNK:
        raise ValueError(f"size must be a multiple of {_ZERO_CHUNK}")
    path = _target(path)
    prefix = b"\x80\x04\x8e" + size.to_bytes(8, "little") if pickle_shaped else b""
    suffix = b"." if pickle_shaped else b""
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = _RepeatedZeroDeflate()
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(_ZERO_CHUNK)
    crc = zlib.crc32(prefix)
    with open(path, "wb") as handle:
        handle.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")  # gzip header, mtime 0
        handle.write(head.compress(prefix) + head.flush(zlib.Z_FULL_FLUSH))
        for _ in range(size // _ZERO_CHUNK):
            handle.write(zeros.compress(chunk))
            crc = zlib.crc32(chunk, crc)
        handle.write(tail.compress(suffix) + tail.flush())
        crc = zlib.crc32(suffix, crc)
        handle.write(struct.pack("<II", crc, (len(prefix) + size + len(suffix)) & 0xFFFFFFFF))
    return path
