"""The lazy reader list decides exactly as the eager one, and a run over pickles, .npy and
safetensors files imports none of the other readers' modules.

Every head here goes through both lists: the fuzzers' seeds of every format (the sample files the
suite builds for each reader, malicious pickles included), the repository's data files, tar
headers of every format ``tarfile`` writes, each real magic followed by junk, truncations at the
lengths the sniffs look at, mutations of the seeds and random bytes.
"""

from __future__ import annotations

import functools
import io
import os
import pickle
import random
import subprocess
import sys
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuzz.mutate import mutate
from fuzz.targets import artifact_seeds
from pytest_aisupply.formats import HEAD_SIZE, FormatReader, LazyReader, builtin_readers, eager_builtin_readers
from pytest_aisupply.formats.core import analyze_content, pick_reader

REPO = Path(__file__).resolve().parents[2]

#: Every magic a built-in reader knows, to be followed by junk.
MAGICS = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\x1f\x8b",
    b"\x1f\x8b\x08\x00",
    b"BZh",
    b"BZh9",
    b"\xfd7zXZ\x00",
    b"\x5d\x00",
    b"\x5d\x00\x00\x80\x00",
    b"\x28\xb5\x2f\xfd",
    b"\x04\x22\x4d\x18",
    b"ZF",
    b"ZF" + b"0" * 19,
    b"\x93NUMPY",
    b"\x93NUMPY\x01\x00",
    b"\x10\x00\x00\x00\x00\x00\x00\x00{",
    b'\x10\x00\x00\x00\x00\x00\x00\x00{"',
    b"GGUF",
    b"GGUF\x03\x00\x00\x00",
    b"\x89HDF\r\n\x1a\n",
    b"\x08\x01\x12",
    b"\x08\x01\x12\x00",
    b"\x08\x07\x12",
    b"\x08\x07\x3a",
    b"\x78\x9c",
    b"\x78\x01",
    b"\x78\xda",
    b"\x48\x89",
    b"\x80\x04",
    b"\x89PNG\r\n\x1a\n",
)


def eager_reference() -> list[FormatReader]:
    """The built-in list as it was before the readers were proxied: every module imported, in order."""
    from pytest_aisupply.formats.archives import RAR, SEVEN_ZIP, TarReader, ZipReader
    from pytest_aisupply.formats.compression import compressed_readers
    from pytest_aisupply.formats.gguf import GgufReader
    from pytest_aisupply.formats.misc import HDF5, NOT_ARTIFACTS, TextReader
    from pytest_aisupply.formats.numpy import NpyReader
    from pytest_aisupply.formats.onnx import OnnxReader
    from pytest_aisupply.formats.pickles import HeaderlessPickleReader, PickleReader
    from pytest_aisupply.formats.safetensors import SafetensorsReader
    from pytest_aisupply.formats.savedmodel import SavedModelReader

    compressed = compressed_readers()
    return [
        PickleReader(),
        ZipReader(),
        TarReader(),
        SEVEN_ZIP,
        RAR,
        *[reader for reader in compressed if reader.name != "zlib"],
        NpyReader(),
        SafetensorsReader(),
        GgufReader(),
        HDF5,
        SavedModelReader(),
        OnnxReader(),
        *NOT_ARTIFACTS,
        *[reader for reader in compressed if reader.name == "zlib"],
        HeaderlessPickleReader(),
        TextReader(),
    ]


def tar_headers() -> list[bytes]:
    """One archive per format tarfile writes, and V7 headers (no ``ustar`` magic: the checksum
    decides), their checksum spelt each way int() reads it too ("0o..", "+..", " ..")."""
    archives = []
    for form in (tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=form) as archive:
            info = tarfile.TarInfo("model.pkl")
            info.size = 3
            archive.addfile(info, io.BytesIO(b"\x80\x02N"))
        archives.append(buffer.getvalue())
    header = bytearray(archives[1][:512])
    header[257:] = bytes(512 - 257)
    header[148:156] = b" " * 8
    checksum = sum(header)
    for spelling in (b"%06o\0 ", b"0o%o\0", b"+%o\0", b" %o \0", b"%o"):
        field = (spelling % checksum).ljust(8, b" ")[:8]
        archives.append(bytes(header[:148]) + field + bytes(header[156:]) + b"\x80\x02N" + bytes(509))
    return archives


def joblib_zfile() -> bytes:
    """joblib's format before 0.10: "ZF", the data length in hex padded to 19 characters, zlib."""
    data = pickle.dumps({"step": 1}, protocol=2)
    return b"ZF" + b"%-19x" % len(data) + zlib.compress(data)


def repository_files() -> list[bytes]:
    files = []
    for folder in ("tests/data", "examples"):
        for path in sorted((REPO / folder).rglob("*")):
            if path.is_file() and path.stat().st_size <= 1 << 20:
                files.append(path.read_bytes())
    return files


def corpus() -> list[bytes]:
    seeds = [*artifact_seeds(), *tar_headers(), joblib_zfile(), *repository_files()]
    rng = random.Random(18)
    junk = [rng.randbytes(HEAD_SIZE) for _ in range(4)] + [bytes(HEAD_SIZE), b"\xff" * HEAD_SIZE, b" " * HEAD_SIZE]
    with_magic = [magic + filler[: HEAD_SIZE - len(magic)] for magic in MAGICS for filler in junk]
    with_magic += [magic for magic in MAGICS]
    mutated = [mutate(seed, random.Random(index), seeds) for index, seed in enumerate(seeds * 3)]
    randoms = [rng.randbytes(rng.choice((1, 2, 3, 9, 10, 261, 262, 511, 512, 600, HEAD_SIZE))) for _ in range(600)]
    return seeds + with_magic + mutated + randoms


def heads(data: bytes) -> Iterator[tuple[bytes, int | None]]:
    """The head as the sniff sees it, at the lengths the tests of the head depend on, with the sizes
    a file, a shorter declared size and a stream of unknown size give."""
    head = data[:HEAD_SIZE]
    yield head, len(data)
    yield head, None
    for cut in (1, 2, 3, 4, 8, 9, 10, 12, 262, 511, 512):
        if cut < len(head):
            yield head[:cut], len(data)


@functools.cache
def cached_corpus() -> list[bytes]:
    return corpus()


def test_the_lazy_list_is_the_eager_list_in_the_same_order() -> None:
    lazy = builtin_readers()
    eager = eager_reference()
    assert [(reader.name, reader.artifact) for reader in lazy] == [(reader.name, reader.artifact) for reader in eager]
    loaded = [reader.reader if isinstance(reader, LazyReader) else reader for reader in lazy]
    assert [type(reader) for reader in loaded] == [type(reader) for reader in eager]
    assert [type(reader) for reader in eager_builtin_readers()] == [type(reader) for reader in eager]
    assert sum(isinstance(reader, LazyReader) for reader in lazy) == 17


def test_a_head_that_fails_a_condition_is_never_that_format() -> None:
    """The condition is necessary: whatever it rejects, the reader's own sniff rejects too."""
    proxies = [reader for reader in builtin_readers() if isinstance(reader, LazyReader)]
    accepted = {proxy.name: 0 for proxy in proxies}
    for data in cached_corpus():
        for head, size in heads(data):
            for proxy in proxies:
                real = proxy.reader.sniff(head, size)
                if not proxy.could_be(head):
                    assert not real, f"{proxy.name}: its condition rejects a head its reader accepts: {head[:64]!r}"
                accepted[proxy.name] += real
    # the corpus reaches every lazy reader, so the assertion above was put to each of them
    assert all(accepted.values()), accepted


def test_the_lazy_and_the_eager_lists_pick_the_same_reader_for_every_head() -> None:
    lazy = builtin_readers()
    eager = eager_reference()
    for data in cached_corpus():
        for head, size in heads(data):
            picked_lazy = pick_reader(lazy, head, size)
            picked_eager = pick_reader(eager, head, size)
            assert (picked_lazy and picked_lazy.name) == (picked_eager and picked_eager.name), head[:64]


def test_the_lazy_and_the_eager_lists_find_the_same_facts() -> None:
    """Format, problems and pickle streams of whole files, nested members included (the readers
    hand members back to the list they were given)."""
    lazy = builtin_readers()
    eager = eager_reference()
    for data in cached_corpus():
        ours, theirs = analyze_content(data, lazy), analyze_content(data, eager)
        assert (ours.format, ours.artifact) == (theirs.format, theirs.artifact)
        assert ours.problems == theirs.problems
        assert [(fact.where, fact.stream.import_names()) for fact in ours.pickles] == [
            (fact.where, fact.stream.import_names()) for fact in theirs.pickles
        ]
        assert "internal error" not in " ".join(problem.message for problem in ours.problems)


_ONLY_WHAT_IS_READ = """
import sys
from pathlib import Path
from pytest_aisupply.formats import analyze_path, builtin_readers

readers = builtin_readers()
for path in sorted(Path(sys.argv[1]).iterdir()):
    print(path.name, analyze_path(path, readers).format)
print("loaded:", " ".join(sorted(name for name in sys.modules if name.startswith("pytest_aisupply.formats."))))
print("stdlib:", " ".join(sorted(name for name in ("gzip", "tarfile") if name in sys.modules)))
"""


@pytest.mark.parametrize("with_zip", [False, True])
def test_a_run_over_pickles_npy_and_safetensors_imports_only_their_readers(tmp_path: Path, with_zip: bool) -> None:
    from helpers.artifacts import safetensors_bytes, write_npy, write_pickle, zip_bytes

    files = tmp_path / "files"
    files.mkdir()
    write_pickle(files / "a.pkl", {"step": 1})
    write_npy(files / "b.npy")
    (files / "c.safetensors").write_bytes(
        safetensors_bytes({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4))
    )
    (files / "d.txt").write_text("notes\n" * 1000)
    if with_zip:
        (files / "e.zip").write_bytes(zip_bytes({"x.npy": (files / "b.npy").read_bytes()}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", _ONLY_WHAT_IS_READ, str(files)], capture_output=True, text=True, env=env, check=True
    )
    lines = done.stdout.splitlines()
    assert lines[:4] == ["a.pkl pickle", "b.npy numpy", "c.safetensors safetensors", "d.txt text"]
    loaded = set(lines[-2].split()[1:])
    readers = {name.rsplit(".", 1)[1] for name in loaded}
    assert {"numpy", "safetensors", "pickles", "readers"} <= readers
    assert not readers & {"compression", "gguf", "onnx", "savedmodel", "protobuf", "keras"}
    assert ("archives" in readers) is with_zip
    assert lines[-1].split() == ["stdlib:"]  # a zip is read without tarfile (only a tar needs it)
