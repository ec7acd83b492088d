"""Readers for archives: zip (PyTorch checkpoints, ``.npz``, ``.keras``), tar, and the ones that
cannot be inspected statically (7z, RAR).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import io
import lzma
import re
import struct
import tempfile
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from typing import IO, BinaryIO

from ..settings.limits import cap_hint
from .bytestream import ByteReader
from .core import ReadContext
from .heads import is_tar_head
from .pickle import looks_like_pickle_start, read_pickle

_TORCH_STORAGE = re.compile(r"(?:^|/)data/\d+\Z")
_TORCH_PICKLE = re.compile(r"(?:^|/)data\.pkl\Z")
_TORCH_VERSION = re.compile(r"(?:^|/)(?:\.data/)?(?:version|\.format_version)\Z")
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_LEGACY_TAR_MEMBERS = {"sys_info", "pickle", "storages", "tensors"}
#: What reading a zip member can raise for corrupt data (zlib and lzma have their own errors).
_MEMBER_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, zlib.error, lzma.LZMAError)
#: A zip inside a stream that cannot seek (a gzip, a tar member) is copied to memory up to this
#: size, and to a temporary file beyond it.
_SPOOL_IN_MEMORY = 16 << 20
#: Members read as pickles are read to their end (so their CRC-32 is checked) up to this size.
_CRC_CHECKED = 64 << 20
_PICKLE_FORMATS = ("pickle", "joblib", "pytorch-legacy", "numpy-object")


class _TooLarge(Exception):
    pass


def _spool(raw: BinaryIO, cap: int) -> IO[bytes]:
    """A seekable copy of a stream that cannot seek (zipfile needs to seek to the central
    directory at the end). Decompression caps still apply: the stream is read through them."""
    copy: IO[bytes] = io.BytesIO()
    total = 0
    try:
        while chunk := raw.read(1 << 20):
            total += len(chunk)
            if total > cap:
                raise _TooLarge(f"more than {cap} bytes")
            if isinstance(copy, io.BytesIO) and total > _SPOOL_IN_MEMORY:
                spilled = tempfile.TemporaryFile()  # noqa: SIM115 - returned to the caller, who closes it
                spilled.write(copy.getvalue())
                copy = spilled
            copy.write(chunk)
    except BaseException:
        copy.close()
        raise
    copy.seek(0)
    return copy


def _seekable(raw: BinaryIO) -> bool:
    try:
        return raw.seekable()
    except (AttributeError, OSError, ValueError):
        return False


class ZipReader:
    name = "zip"
    artifact = True

    def sniff(self, head: bytes, size: int | None) -> bool:
        return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        if _seekable(raw):
            self.read_archive(raw, ctx)
            return
        try:
            copy = _spool(raw, ctx.limits.max_decompressed_bytes)
        except _TooLarge as exc:
            ctx.add_problem(
                f"zip archive inside a stream is too large to inspect ({exc}; {cap_hint('max_decompressed_bytes')}); "
                "not inspected"
            )
            return
        with copy:
            self.read_archive(copy, ctx)

    def read_archive(self, raw: IO[bytes], ctx: ReadContext, *, polyglot: bool = False) -> None:
        """Check the archive's structure, then read every member. ``polyglot``: the bytes before
        the first member are already known (and reported) to be something else."""
        try:
            archive = zipfile.ZipFile(raw)
            infos = archive.infolist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            ctx.add_problem(f"zip archive cannot be read: {exc}")
            return
        limits = ctx.limits
        if len(infos) > limits.max_members:
            ctx.add_problem(
                f"zip archive has {len(infos)} members, over the cap of {limits.max_members} "
                f"({cap_hint('max_members')}); not inspected"
            )
            return
        broken = _check_structure(raw, archive, infos, ctx, polyglot=polyglot)
        names = [info.filename for info in infos]
        is_torch = any(_TORCH_PICKLE.search(n) for n in names) and any(_TORCH_VERSION.search(n) for n in names)
        files = [info for info in infos if not info.filename.endswith("/")]  # is_dir() fails on ""
        ctx.add_detail("zip_members", len(files))
        if is_torch:
            ctx.set_label("pytorch-zip")
        elif files and all(info.filename.endswith(".npy") for info in files):
            ctx.set_label("numpy-npz")
        elif {"config.json", "metadata.json"} <= set(names):
            ctx.set_label("keras")
        for info in files:
            if id(info) in broken:
                continue
            where = f"{info.filename} inside the zip"
            if info.flag_bits & 0x1:
                ctx.read_nested_problem(where, "member is encrypted and cannot be inspected")
                continue
            if info.compress_type not in _ZIP_METHODS:
                ctx.read_nested_problem(where, f"member uses unsupported compression method {info.compress_type}")
                continue
            bomb = _bomb_cap(info.file_size, info.compress_size, ctx)
            if bomb is not None:
                ctx.read_nested_problem(
                    where,
                    f"member expands {info.compress_size} bytes to {info.file_size} bytes (a zip bomb: "
                    f"{cap_hint(bomb)}); not inspected",
                )
                continue
            try:
                with archive.open(info) as member:
                    if is_torch and _TORCH_STORAGE.search(info.filename):
                        _check_storage(member, info.file_size, where, ctx)
                    else:
                        found = ctx.read_nested(member, info.file_size, where)  # type: ignore[arg-type]
                        if found is not None and found.startswith(_PICKLE_FORMATS) and info.file_size <= _CRC_CHECKED:
                            _read_to_end(member)  # a pickle member is read whole: its CRC is checked
            except _MEMBER_ERRORS as exc:
                ctx.read_nested_problem(where, f"member cannot be read: {exc}")


def _read_to_end(member: IO[bytes]) -> None:
    """Read what is left of a member, so that zipfile compares its CRC-32 (it does at the end)."""
    while member.read(1 << 20):
        pass


def _check_structure(
    raw: IO[bytes], archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], ctx: ReadContext, *, polyglot: bool
) -> set[int]:
    """Structural anomalies that let two readers of one zip see different content: a name that
    differs between the local header and the central directory, an encrypted flag set only in
    the local header, duplicate names, members that overlap each other or the central directory,
    bytes before the first member. Each is a problem; returns the ids of members not to read."""
    broken: set[int] = set()
    counts = Counter(info.filename for info in infos)
    for name, count in sorted(counts.items()):
        if count > 1:
            ctx.read_nested_problem(
                f"{name} inside the zip",
                f"{count} members have this name: loaders disagree on which one they read (all are inspected)",
            )
    spans: list[tuple[int, int, str]] = []
    directory_start = getattr(archive, "start_dir", None)
    _check_end_record(raw, directory_start, ctx)
    for info in infos:
        where = f"{info.filename} inside the zip"
        # zipfile subtracts the bytes it believes were prepended from every offset: a crafted
        # directory makes that negative, where no reader finds a local header either
        if info.header_offset >= 0:
            raw.seek(info.header_offset)
            header = raw.read(30)
        else:
            header = b""
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            ctx.read_nested_problem(where, f"no local file header at offset {info.header_offset}")
            broken.add(id(info))
            continue
        flags, _method = struct.unpack("<HH", header[6:10])
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        local_name = raw.read(name_length)
        central_name = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace")
        if local_name != central_name:
            ctx.read_nested_problem(
                where,
                f"the local header names this member {local_name.decode('utf-8', 'replace')!r}: loaders that "
                "read local headers and those that read the central directory see different members",
            )
            broken.add(id(info))
        if flags & 0x1 and not info.flag_bits & 0x1:
            ctx.read_nested_problem(where, "member is marked encrypted in its local header only; cannot be inspected")
            broken.add(id(info))
        data_end = info.header_offset + 30 + name_length + extra_length + info.compress_size
        spans.append((info.header_offset, data_end, info.filename))
        if directory_start is not None and data_end > directory_start:
            ctx.read_nested_problem(where, "member data runs into the central directory")
            broken.add(id(info))
    spans.sort()
    reach, owner = 0, ""
    for start, end, name in spans:
        if start < reach:
            ctx.read_nested_problem(
                f"{name} inside the zip",
                f"member overlaps {owner!r} (bytes {start}-{min(end, reach) - 1} belong to both): the same bytes "
                "are read as two members",
            )
        if end > reach:
            reach, owner = end, name
    first = spans[0][0] if spans else directory_start
    if first and not polyglot:
        raw.seek(0)
        prefix = read_pickle(ByteReader(raw, size=first, cut=True), max_opcodes=ctx.limits.max_pickle_opcodes)  # type: ignore[arg-type]
        if prefix.imports or prefix.complete:
            ctx.read_nested_pickle(
                "before the first zip member",
                prefix,
                "a pickle stream before the zip archive (a pickle-then-zip polyglot)",
            )
        ctx.add_problem(
            f"{first} bytes before the first zip member are not part of the archive (a polyglot file: other "
            "loaders read them)"
        )
    return broken


def _check_end_record(raw: IO[bytes], directory_start: int | None, ctx: ReadContext) -> None:
    """Where zip readers disagree on the central directory. ``zipfile`` takes the one that ends
    right before the end record and shifts every offset by the bytes in front of the archive
    (Lib/zipfile.py, ``_RealGetContents``: ``concat``); torch's reader (miniz,
    ``mz_zip_reader_read_central_dir``) takes the offset the end record gives, unshifted. When the
    two differ, each reads its own members. Bytes after the end record and its comment are read
    by neither, and are where a second archive or record hides."""
    size = raw.seek(0, io.SEEK_END)
    raw.seek(max(0, size - 22 - (1 << 16)))
    tail_start = raw.tell()
    tail = raw.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return
    record = tail[at : at + 22]
    given = struct.unpack("<I", record[16:20])[0]
    comment_length = struct.unpack("<H", record[20:22])[0]
    end = tail_start + at + 22 + comment_length
    if given != 0xFFFFFFFF and directory_start is not None and given != directory_start:
        ctx.add_problem(
            f"the end record places the central directory at offset {given}, but it lies at {directory_start}: "
            "torch.load reads the one at the given offset and zipfile (numpy, pandas, Keras) the other, so "
            "the loaders see different members"
        )
    if end < size:
        ctx.add_problem(
            f"{size - end} bytes follow the zip's end record and comment: readers that search for the end "
            "record differently see different archives"
        )


def _check_storage(member: IO[bytes], size: int, where: str, ctx: ReadContext) -> None:
    """Tensor storages are raw bytes; only a complete pickle hidden in one is worth a finding."""
    head = member.read(2)
    if not looks_like_pickle_start(head):
        return
    member.seek(0)
    stream = read_pickle(ByteReader(member, size=size), max_opcodes=ctx.limits.max_pickle_opcodes)  # type: ignore[arg-type]
    if stream.complete:
        ctx.read_nested_pickle(where, stream, "pickle hidden in a tensor storage member")


def _bomb_cap(expanded: int, compressed: int, ctx: ReadContext) -> str | None:
    """The cap a member's declared sizes break, if any."""
    limits = ctx.limits
    if expanded > limits.max_decompressed_bytes:
        return "max_decompressed_bytes"
    if expanded >= limits.bomb_min_bytes and expanded > limits.bomb_ratio * max(compressed, 1):
        return "bomb_ratio"
    return None


class TarReader:
    name = "tar"
    artifact = True

    def sniff(self, head: bytes, size: int | None) -> bool:
        return is_tar_head(head)

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        import tarfile  # here: a zip (every torch checkpoint) is read without it

        count = 0
        names: set[str] = set()
        try:
            with tarfile.open(fileobj=raw, mode="r|") as archive:
                for member in archive:
                    count += 1
                    if count > ctx.limits.max_members:
                        ctx.add_problem(
                            f"tar archive has more than {ctx.limits.max_members} members "
                            f"({cap_hint('max_members')}); the rest is not inspected"
                        )
                        return
                    names.add(member.name)
                    if not member.isfile():
                        continue
                    extracted = archive.extractfile(member)
                    if extracted is None:
                        continue
                    ctx.read_nested(extracted, member.size, f"{member.name} inside the tar")  # type: ignore[arg-type]
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
            ctx.add_problem(f"tar archive cannot be read: {exc}")
        if names >= _LEGACY_TAR_MEMBERS:
            ctx.set_label("pytorch-legacy-tar")


def is_keras_archive(path: Path) -> bool:
    """Whether a zip file has ``config.json`` and ``metadata.json`` at its root (reads only the
    central directory). Unreadable zips are not Keras archives (other checks report them). Here,
    not in :mod:`.keras`: the unsafe-format rule asks it of every zip, Keras or not."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return False
    return {"config.json", "metadata.json"} <= names


class UninspectableArchiveReader:
    """Archive formats the standard library cannot open: their content cannot be shown safe."""

    artifact = True

    def __init__(self, name: str, magic: bytes, remedy: str) -> None:
        self.name = name
        self._magic = magic
        self._remedy = remedy

    def sniff(self, head: bytes, size: int | None) -> bool:
        return head.startswith(self._magic)

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        ctx.add_problem(f"{self.name} archives cannot be inspected statically; {self._remedy}")


SEVEN_ZIP = UninspectableArchiveReader(
    "7z", b"7z\xbc\xaf\x27\x1c", "extract it and commit the files, or repack it as zip or tar"
)
RAR = UninspectableArchiveReader("rar", b"Rar!\x1a\x07", "extract it and commit the files, or repack it as zip or tar")
