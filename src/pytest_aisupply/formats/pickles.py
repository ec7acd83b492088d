"""Readers for files that are pickle streams: raw pickles, joblib dumps, legacy torch files.

Bytes a stream hands to an unpickling callable (``pickle.loads(b'...')``,
``torch.storage._load_from_bytes(b'...')``) are read like any member, with every reader (they
may be a pickle, a torch zip, a compressed stream ...), at a location that names the call.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from typing import IO, BinaryIO

from .bytestream import ByteReader
from .core import HEAD_SIZE, ReadContext
from .pickle import (
    TORCH_LEGACY_MAGIC,
    PickleStream,
    looks_like_pickle_start,
    reaches_code,
    read_pickle,
    read_pickles,
    stops_at_once,
)

#: How far from the end of a file the end-of-central-directory record of a zip may start
#: (22 bytes plus a comment of up to 64 KiB).
_ZIP_TAIL = 22 + (1 << 16)


#: joblib's wrappers of the joblib < 0.10 format: the array lives in a side file named in the
#: pickle, which joblib.load opens (joblib/numpy_pickle_compat.py, NDArrayWrapper.read:
#: ``np.load(os.path.join(dirname, filename), allow_pickle=True)``; ZNDArrayWrapper.read: a
#: zlib file).
_SIDE_FILE_WRAPPERS = {
    (module, name)
    for module in ("joblib.numpy_pickle_compat", "joblib.numpy_pickle", "sklearn.externals.joblib.numpy_pickle")
    for name in ("NDArrayWrapper", "ZNDArrayWrapper")
}


def record_stream(ctx: ReadContext, stream: PickleStream, note: str = "") -> None:
    """Record a stream in the context, then read the bytes it hands to unpickling callables.

    Each distinct payload is read once per file (by content hash: the same bytes handed over
    again, from the memo or a copy, add no work), and the opcodes of all nested readings count
    against the file's opcode cap."""
    ctx.add_pickle(stream, note)
    wrappers = sorted(
        {f"{item.module}.{item.name}" for item in stream.imports} & {".".join(pair) for pair in _SIDE_FILE_WRAPPERS}
    )
    if wrappers:
        ctx.add_problem(
            f"{', '.join(wrappers)} (joblib's format before 0.10): joblib.load reads the array from a side file whose "
            "name the pickle gives (NDArrayWrapper with numpy.load(allow_pickle=True), so a pickle in it runs), "
            "anywhere on disk; what it reads cannot be checked from this file. Re-save the object with a current joblib"
        )
    for payload in stream.nested:
        data, payload.data = payload.data, None
        if data is None:
            continue
        digest = hashlib.sha256(data).digest()
        if digest in ctx.nested_digests:
            payload.analysed = True  # its findings are recorded where it was first read
            continue
        ctx.nested_digests.add(digest)
        if ctx.nested_opcodes > ctx.limits.max_pickle_opcodes:
            continue  # not analysed: reported as such (fails closed)
        recorded = len(ctx.facts.pickles)
        ctx.read_nested(io.BytesIO(data), len(data), payload.where)
        ctx.nested_opcodes += sum(fact.stream.opcodes for fact in ctx.facts.pickles[recorded:])
        payload.analysed = True


def record_pickles(raw: BinaryIO, size: int | None, ctx: ReadContext, *, note: str = "") -> list[PickleStream]:
    """Read every consecutive pickle stream from ``raw`` into the context.

    Where joblib's unpickler skips array data, ``pickle.load``, ``torch.load`` and pandas read
    those bytes as opcodes: the streams are read that way too, and a reading that imports globals
    in bytes joblib skips is recorded as well."""
    spooled: IO[bytes] | None = None
    if not _seekable(raw):
        # The plain reading of a joblib stream needs the bytes again (compressed dumps).
        spooled = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 - closed below
        while chunk := raw.read(1 << 20):
            spooled.write(chunk)
        size = spooled.tell()
        spooled.seek(0)
        raw = spooled  # type: ignore[assignment]
    try:
        streams, trailing = read_pickles(ByteReader(raw, size=size), max_opcodes=ctx.limits.max_pickle_opcodes)
        for stream in streams:
            record_stream(ctx, stream, note)
        _record_plain_readings(raw, size, streams, ctx)
        if trailing is not None:
            ctx.add_detail("trailing_bytes_at", trailing)
            _check_zip_after(raw, size, trailing, ctx)
    finally:
        if spooled is not None:
            spooled.close()
    return streams


def _record_plain_readings(raw: BinaryIO, size: int | None, streams: list[PickleStream], ctx: ReadContext) -> None:
    for stream in streams:
        skip_at = stream.joblib_skip_at
        # Object arrays too: joblib reads their pickle apart, where the others read on.
        if skip_at is None and not any(item.module.startswith("joblib.") for item in stream.imports):
            continue
        raw.seek(stream.start)
        plain = read_pickle(
            ByteReader(raw, size=size, start=stream.start),
            max_opcodes=ctx.limits.max_pickle_opcodes,
            joblib=False,
        )
        known = {(item.module, item.name) for item in stream.imports}
        extra = [item for item in plain.imports if (item.module, item.name) not in known]
        if plain.undecided or (extra and reaches_code(plain)):
            where = f"from offset {skip_at} " if skip_at is not None else ""
            record_stream(
                ctx,
                plain,
                f"as pickle.load, torch.load and pandas read it: the array data joblib reads apart {where}"
                "runs as opcodes",
            )


def _check_zip_after(raw: BinaryIO, size: int | None, trailing: int, ctx: ReadContext) -> None:
    """A zip after the pickle streams makes a pickle-then-zip polyglot: ``pickle.load`` runs the
    pickle, zip readers (``zipfile``, ``numpy.load`` of an ``.npz``, Keras) read the members.
    Both are read; the polyglot itself is a problem."""
    if size is None or not _seekable(raw):
        return
    raw.seek(max(trailing, size - _ZIP_TAIL))
    if b"PK\x05\x06" not in raw.read(_ZIP_TAIL):
        return
    ctx.add_problem(
        f"a zip archive follows the pickle stream (from offset {trailing}): a pickle-then-zip polyglot, "
        "which pickle loaders and zip loaders read as different content"
    )
    from .archives import ZipReader  # archives reads pickles too: imported here, not at the top

    raw.seek(0)
    ZipReader().read_archive(raw, ctx, polyglot=True)


def _seekable(raw: BinaryIO) -> bool:
    try:
        return raw.seekable()
    except (AttributeError, OSError, ValueError):
        return False


def pickle_label(streams: list[PickleStream]) -> str:
    if streams and streams[0].first_value == TORCH_LEGACY_MAGIC:
        return "pytorch-legacy"
    if any(item.module.startswith("joblib.") for stream in streams for item in stream.imports):
        return "joblib"
    return "pickle"


class PickleReader:
    """Pickle streams with a PROTO header (protocols 2 to 5)."""

    name = "pickle"
    artifact = True

    def sniff(self, head: bytes, size: int | None) -> bool:
        return looks_like_pickle_start(head)

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        ctx.set_label(pickle_label(record_pickles(raw, size, ctx)))


class HeaderlessPickleReader:
    """Protocol 0 and 1 pickles, which have no header: recognised when the first bytes parse as a
    pickle (up to STOP, or up to the end of the sniffed bytes)."""

    name = "pickle"
    artifact = True

    def sniff(self, head: bytes, size: int | None) -> bool:
        if not head or head[0] == 0x80 or stops_at_once(head):
            return False
        whole = (size is not None and size <= len(head)) or len(head) < HEAD_SIZE
        stream = read_pickle(ByteReader(io.BytesIO(head), size=len(head), cut=not whole))
        if stream.complete:
            return stream.opcodes >= 2
        cut = not whole and stream.error is not None and stream.error.startswith("truncated")
        # Cut off by the end of the head: a pickle when the unpickler would import by then, or
        # when a run of opcodes imports nothing at all. Imports of names that are no module
        # (a wheel's RECORD: 'c' then a path line) end any unpickling there.
        return cut and (reaches_code(stream) or (stream.opcodes >= 8 and not stream.imports))

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        ctx.set_label(pickle_label(record_pickles(raw, size, ctx)))
