"""Readers for archives: zip (PyTorch checkpoints, ``.npz``, ``.keras``), tar, and the ones that
cannot be inspected statically (7z, RAR)."""

from __future__ import annotations

import io
import lzma
import re
import tarfile
import tempfile
import zipfile
import zlib
from typing import IO, BinaryIO

from .bytestream import ByteReader
from .core import ReadContext
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
            self._read(raw, ctx)
            return
        try:
            copy = _spool(raw, ctx.limits.max_decompressed_bytes)
        except _TooLarge as exc:
            ctx.add_problem(f"zip archive inside a stream is too large to inspect ({exc}); not inspected")
            return
        with copy:
            self._read(copy, ctx)

    def _read(self, raw: IO[bytes], ctx: ReadContext) -> None:
        try:
            archive = zipfile.ZipFile(raw)
            infos = archive.infolist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            ctx.add_problem(f"zip archive cannot be read: {exc}")
            return
        limits = ctx.limits
        if len(infos) > limits.max_members:
            ctx.add_problem(f"zip archive has {len(infos)} members, over the cap of {limits.max_members}")
            return
        names = [info.filename for info in infos]
        is_torch = any(_TORCH_PICKLE.search(n) for n in names) and any(_TORCH_VERSION.search(n) for n in names)
        files = [info for info in infos if not info.is_dir()]
        ctx.add_detail("zip_members", len(files))
        if is_torch:
            ctx.set_label("pytorch-zip")
        elif files and all(info.filename.endswith(".npy") for info in files):
            ctx.set_label("numpy-npz")
        elif {"config.json", "metadata.json"} <= set(names):
            ctx.set_label("keras")
        for info in files:
            where = f"{info.filename} inside the zip"
            if info.flag_bits & 0x1:
                ctx.read_nested_problem(where, "member is encrypted and cannot be inspected")
                continue
            if info.compress_type not in _ZIP_METHODS:
                ctx.read_nested_problem(where, f"member uses unsupported compression method {info.compress_type}")
                continue
            if _is_bomb(info.file_size, info.compress_size, ctx):
                ctx.read_nested_problem(
                    where,
                    f"member expands {info.compress_size} bytes to {info.file_size} bytes "
                    "(zip bomb cap); not inspected",
                )
                continue
            try:
                with archive.open(info) as member:
                    if is_torch and _TORCH_STORAGE.search(info.filename):
                        _check_storage(member, info.file_size, where, ctx)
                    else:
                        ctx.read_nested(member, info.file_size, where)  # type: ignore[arg-type]
            except _MEMBER_ERRORS as exc:
                ctx.read_nested_problem(where, f"member cannot be read: {exc}")


def _check_storage(member: IO[bytes], size: int, where: str, ctx: ReadContext) -> None:
    """Tensor storages are raw bytes; only a complete pickle hidden in one is worth a finding."""
    head = member.read(2)
    if not looks_like_pickle_start(head):
        return
    member.seek(0)
    stream = read_pickle(ByteReader(member, size=size))  # type: ignore[arg-type]
    if stream.complete:
        ctx.read_nested_pickle(where, stream, "pickle hidden in a tensor storage member")


def _is_bomb(expanded: int, compressed: int, ctx: ReadContext) -> bool:
    limits = ctx.limits
    if expanded > limits.max_decompressed_bytes:
        return True
    return expanded >= limits.bomb_min_bytes and expanded > limits.bomb_ratio * max(compressed, 1)


class TarReader:
    name = "tar"
    artifact = True

    def sniff(self, head: bytes, size: int | None) -> bool:
        return len(head) >= 262 and head[257:262] == b"ustar"

    def read(self, raw: BinaryIO, size: int | None, ctx: ReadContext) -> None:
        count = 0
        names: set[str] = set()
        try:
            with tarfile.open(fileobj=raw, mode="r|") as archive:
                for member in archive:
                    count += 1
                    if count > ctx.limits.max_members:
                        ctx.add_problem(
                            f"tar archive has more than {ctx.limits.max_members} members; rest not inspected"
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
