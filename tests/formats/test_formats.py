"""The format readers on real files: what they report (format, pickles and their imports, where,
problems), decided by content and never by file name, and never by unpickling anything."""

from __future__ import annotations

import io
import os
import pickle
import stat
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from helpers.artifacts import (
    OS_SYSTEM,
    PNG_MAGIC,
    SEVEN_ZIP_MAGIC,
    builtin_name,
    corrupt_zip_member,
    global_reference_pickle,
    gzip_bytes,
    malicious_reduce_pickle,
    nested_zip_bytes,
    random_bytes,
    safetensors_bytes,
    tar_bytes,
    torch_like_zip_bytes,
    trace_import,
    trace_payload,
    write_gzip_bomb,
    write_joblib,
    write_npy,
    write_npz,
    write_pickle,
    write_raw_safetensors,
    write_safetensors,
    write_tar,
    write_torch_checkpoint,
    write_zip,
    write_zip_bomb,
    zip_bytes,
)
from helpers.timing import run_with_timeout
from pytest_aisupply.formats import ArtifactFacts, Limits, analyze_path, builtin_readers, sniff_path
from pytest_aisupply.formats.bytestream import ByteReader
from pytest_aisupply.formats.pickle import read_pickle, read_pickles

READERS = builtin_readers()
MISLEADING_NAMES = ["weights.safetensors", "data.csv.gz", "config.json"]
JOBLIB_COMPRESSORS = [None, "zlib", "gzip", "bz2", "xz", "lzma"]


def analyze(path: Path, limits: Limits | None = None) -> ArtifactFacts:
    return analyze_path(path, READERS, limits)


def imports_of(facts: ArtifactFacts) -> set[str]:
    return {name for fact in facts.pickles for name in fact.stream.import_names()}


def messages(facts: ArtifactFacts) -> str:
    return " | ".join(f"{problem.where}: {problem.message}" for problem in facts.problems)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def needs(module: str) -> Any:
    """Import an optional library, or skip the test."""
    return pytest.importorskip(module, reason=f"{module} is not installed")


# --------------------------------------------------------------------------------------------
# Raw pickles
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MISLEADING_NAMES)
@pytest.mark.parametrize("protocol", range(6))
def test_raw_pickle_of_every_protocol_is_found_whatever_its_name(tmp_path: Path, protocol: int, name: str) -> None:
    path = write(tmp_path / name, global_reference_pickle(os.system, protocol))

    assert sniff_path(path, READERS) == ("pickle", True)
    facts = analyze(path)

    assert facts.format == "pickle"
    assert facts.artifact is True
    assert facts.problems == []
    [fact] = facts.pickles
    assert fact.where == ""
    assert fact.stream.import_names() == [OS_SYSTEM]
    assert fact.stream.complete
    assert fact.stream.protocol == (protocol if protocol >= 2 else 0)


@pytest.mark.parametrize("protocol", range(6))
def test_builtins_eval_reference_is_named(tmp_path: Path, protocol: int) -> None:
    path = write(tmp_path / "model.bin", global_reference_pickle(eval, protocol))

    facts = analyze(path)

    assert facts.format == "pickle"
    assert imports_of(facts) == {builtin_name("eval", protocol)}


def test_pickle_of_plain_data_is_still_a_pickle(tmp_path: Path) -> None:
    path = write_pickle(tmp_path / "numbers.json", {"a": [1, 2.5, "x"]}, protocol=4)

    facts = analyze(path)

    assert facts.format == "pickle"
    [fact] = facts.pickles
    assert fact.stream.imports == []
    assert fact.stream.complete


def test_truncated_pickle_is_reported_with_what_it_imported(tmp_path: Path) -> None:
    data = global_reference_pickle(os.system, 2)
    path = write(tmp_path / "cut.pkl", data[:-1])

    facts = analyze(path)

    assert facts.format == "pickle"
    [fact] = facts.pickles
    assert not fact.stream.complete
    assert fact.stream.error is not None
    assert fact.stream.error.startswith("truncated")
    assert fact.stream.import_names() == [OS_SYSTEM]


def test_truncated_frame_is_read_as_pythons_unpickler_reads_it(tmp_path: Path) -> None:
    """C's unpickler reads a whole frame before running any of it, and fails on a frame that
    announces more bytes than there are; Python's own (pickle._Unpickler, which joblib.load and
    pandas' fallback use) takes the bytes left as the frame and imports what they name."""
    imported: list[str] = []

    class Recording(pickle._Unpickler):  # type: ignore[name-defined,misc]
        def find_class(self, module: str, name: str) -> object:
            imported.append(f"{module}.{name}")
            return object

    data = global_reference_pickle(os.system, 4)[:-1]  # no STOP: the frame is one byte short
    with pytest.raises(EOFError):
        Recording(io.BytesIO(data)).load()
    assert imported == [OS_SYSTEM]
    path = write(tmp_path / "cut.pkl", data)

    [fact] = analyze(path).pickles

    assert fact.stream.error is not None
    assert fact.stream.error.startswith("truncated")
    assert fact.stream.import_names() == [OS_SYSTEM]


def test_later_pickle_stream_that_breaks_off_keeps_its_imports(tmp_path: Path) -> None:
    """A loader reading consecutive pickles (as torch's legacy format does) imports os.system
    from the second stream before it breaks off: the import must be reported, not dropped as
    trailing data."""
    harmless = pickle.dumps([1, 2, 3], protocol=2)
    evil = malicious_reduce_pickle(tmp_path / "MARKER", protocol=2, kind="system")
    path = write(tmp_path / "two.pkl", harmless + evil[:-1])  # second stream lacks its STOP

    facts = analyze(path)

    assert OS_SYSTEM in imports_of(facts)
    assert not facts.pickles[-1].stream.complete
    assert not (tmp_path / "MARKER").exists()


def test_read_pickles_drops_trailing_bytes_without_imports() -> None:
    data = pickle.dumps({"x": 1}, protocol=2) + b"\x00\x01\x02 raw storage bytes"
    streams, trailing = read_pickles(ByteReader(io.BytesIO(data), size=len(data)))

    assert len(streams) == 1
    assert streams[0].complete
    assert trailing == len(pickle.dumps({"x": 1}, protocol=2))


def test_read_pickle_reports_the_global_and_the_offset() -> None:
    data = global_reference_pickle(os.system, 2)
    stream = read_pickle(ByteReader(io.BytesIO(data), size=len(data)))

    assert stream.complete
    assert stream.protocol == 2
    [item] = stream.imports
    assert (item.dotted, item.opcode, item.offset) == (OS_SYSTEM, "GLOBAL", 2)


# --------------------------------------------------------------------------------------------
# torch
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["model.pt", "weights.safetensors", "checkpoint"])
def test_torch_zip_checkpoint(tmp_path: Path, name: str) -> None:
    needs("torch")
    path = write_torch_checkpoint(tmp_path / name)

    assert sniff_path(path, READERS) == ("zip", True)
    facts = analyze(path)

    assert facts.format == "pytorch-zip"
    assert facts.problems == []
    [fact] = facts.pickles
    assert fact.where.endswith("/data.pkl inside the zip")
    assert "torch._utils._rebuild_tensor_v2" in fact.stream.import_names()
    assert fact.stream.complete


@pytest.mark.parametrize(("folder", "where"), [("renamed_folder", "renamed_folder/data.pkl"), ("", "data.pkl")])
def test_torch_zip_checkpoint_with_its_folder_renamed(tmp_path: Path, folder: str, where: str) -> None:
    needs("torch")
    path = write_torch_checkpoint(tmp_path / "model.pt", folder=folder)
    assert not any(name.startswith("archive/") for name in zipfile.ZipFile(path).namelist())

    facts = analyze(path)

    assert facts.format == "pytorch-zip"
    assert [fact.where for fact in facts.pickles] == [f"{where} inside the zip"]
    assert "torch._utils._rebuild_tensor_v2" in imports_of(facts)


def test_torch_legacy_checkpoint(tmp_path: Path) -> None:
    needs("torch")
    path = write_torch_checkpoint(tmp_path / "legacy.bin", legacy=True)

    assert sniff_path(path, READERS) == ("pickle", True)
    facts = analyze(path)

    assert facts.format == "pytorch-legacy"
    assert facts.problems == []
    assert len(facts.pickles) >= 4  # magic number, protocol version, sys info, the object, ...
    assert all(fact.stream.complete for fact in facts.pickles)
    assert "torch._utils._rebuild_tensor_v2" in imports_of(facts)


def test_torch_checkpoint_reads_little_of_a_large_tensor(tmp_path: Path) -> None:
    torch = needs("torch")
    path = write_torch_checkpoint(tmp_path / "big.pt", obj={"w": torch.zeros(1 << 20)})  # 4 MiB

    facts = analyze(path)

    assert facts.format == "pytorch-zip"
    assert facts.bytes_read < 256 << 10


def test_pickle_hidden_in_a_torch_storage_member_is_found(tmp_path: Path) -> None:
    needs("torch")
    path = write_torch_checkpoint(tmp_path / "model.pt")
    evil = global_reference_pickle(os.system, 2)
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    storage = next(name for name in members if name.endswith("data/0"))
    members[storage] = evil
    write_zip(path, members, compression=zipfile.ZIP_STORED)

    facts = analyze(path)

    hidden = [fact for fact in facts.pickles if fact.where == f"{storage} inside the zip"]
    assert len(hidden) == 1
    assert hidden[0].stream.import_names() == [OS_SYSTEM]
    assert "tensor storage" in hidden[0].note


# --------------------------------------------------------------------------------------------
# Archives and compression
# --------------------------------------------------------------------------------------------


def test_tar_with_a_pickle_member(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "bundle.tar", {"README.md": b"# model\n", "model.pkl": global_reference_pickle()})

    facts = analyze(path)

    assert facts.format == "tar"
    assert [(fact.where, fact.stream.import_names()) for fact in facts.pickles] == [
        ("model.pkl inside the tar", [OS_SYSTEM])
    ]


def test_gzipped_tar_with_a_pickle_member(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "bundle.tgz", {"model.pkl": global_reference_pickle(eval)}, mode="w:gz")

    facts = analyze(path)

    assert facts.format == "tar (gzip)"
    assert [fact.where for fact in facts.pickles] == ["after gzip decompression > model.pkl inside the tar"]
    assert imports_of(facts) == {"builtins.eval"}


def test_zip_with_a_pickle_named_config_json(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "model.zip", {"README.md": b"hello\n", "config.json": global_reference_pickle()})

    facts = analyze(path)

    assert facts.format == "zip"
    assert facts.problems == []
    assert [(fact.where, fact.stream.import_names()) for fact in facts.pickles] == [
        ("config.json inside the zip", [OS_SYSTEM])
    ]


def test_zip_nested_in_a_zip(tmp_path: Path) -> None:
    inner = zip_bytes({"config.json": global_reference_pickle()})
    path = write(tmp_path / "outer.zip", zip_bytes({"inner.zip": inner}))

    facts = analyze(path)

    assert [fact.where for fact in facts.pickles] == ["inner.zip inside the zip > config.json inside the zip"]
    assert imports_of(facts) == {OS_SYSTEM}


def test_gzip_of_a_zip_of_a_pickle(tmp_path: Path) -> None:
    """zipfile needs to seek; a decompressed stream cannot, so the zip is spooled first."""
    path = write(tmp_path / "model.zip.gz", gzip_bytes(zip_bytes({"payload.pkl": global_reference_pickle()})))

    facts = analyze(path)

    assert facts.format == "zip (gzip)"
    assert facts.problems == []
    assert [fact.where for fact in facts.pickles] == ["after gzip decompression > payload.pkl inside the zip"]
    assert imports_of(facts) == {OS_SYSTEM}


def test_zip_inside_a_tar_and_tar_inside_a_zip(tmp_path: Path) -> None:
    pickled = global_reference_pickle()
    zip_in_tar = write(tmp_path / "a.tar", tar_bytes({"a.zip": zip_bytes({"p.pkl": pickled})}))
    tar_in_zip = write(tmp_path / "b.zip", zip_bytes({"x.tar": tar_bytes({"p.pkl": pickled})}))

    assert [fact.where for fact in analyze(zip_in_tar).pickles] == ["a.zip inside the tar > p.pkl inside the zip"]
    assert [fact.where for fact in analyze(tar_in_zip).pickles] == ["x.tar inside the zip > p.pkl inside the tar"]


# --------------------------------------------------------------------------------------------
# joblib
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", JOBLIB_COMPRESSORS)
def test_joblib_dump(tmp_path: Path, compress: str | None) -> None:
    needs("joblib")
    needs("numpy")
    path = write_joblib(tmp_path / "model.joblib", compress=compress)

    facts = analyze(path)

    assert facts.format == (f"joblib ({compress})" if compress else "joblib")
    assert facts.problems == []
    [fact] = facts.pickles
    assert fact.where == (f"after {compress} decompression" if compress else "")
    assert "joblib.numpy_pickle.NumpyArrayWrapper" in fact.stream.import_names()


@pytest.mark.parametrize("compress", [None, "gzip"])
@pytest.mark.parametrize("protocol", range(6))
def test_joblib_arrays_are_skipped_and_the_stream_read_to_its_end(
    tmp_path: Path, protocol: int, compress: str | None
) -> None:
    """joblib writes array data between the pickle opcodes: the reader must skip it and keep
    going, so a global pickled after the arrays (here os.system) is still reported."""
    np = needs("numpy")
    needs("joblib")
    obj = {
        "floats": np.arange(1000.0),
        "fortran": np.asfortranarray(np.ones((3, 5), dtype=np.float32)),
        "strings": np.array(["abc", "de"]),
        "records": np.zeros(3, dtype=[("x", "<i4"), ("y", ">f8")]),
        "dates": np.array(["2024-01-01"], dtype="M8[D]"),
        "scalar_array": np.array(5),
        "empty": np.zeros((0, 3)),
        "objects": np.array([1, "x", None], dtype=object),
        "after": os.system,
    }
    path = write_joblib(tmp_path / "model.joblib", obj, compress=compress, protocol=protocol)

    facts = analyze(path)

    assert facts.problems == []
    [fact] = facts.pickles
    assert fact.stream.error is None
    assert fact.stream.complete
    assert fact.stream.import_names()[-1] == OS_SYSTEM


def test_joblib_object_array_content_is_read(tmp_path: Path) -> None:
    """Object arrays are pickled as a nested stream inside joblib's; its imports count."""
    np = needs("numpy")
    needs("joblib")
    path = write_joblib(tmp_path / "m.joblib", {"w": np.arange(3.0), "o": np.array([eval, 1], dtype=object)})

    facts = analyze(path)

    [fact] = facts.pickles
    assert fact.stream.complete
    assert "builtins.eval" in fact.stream.import_names()


def test_joblib_wrapper_with_an_unreadable_header_fails_closed() -> None:
    """When the size of the array data after a NumpyArrayWrapper cannot be told (here the state
    has no shape), the stream ends with an error instead of guessing where the opcodes resume."""
    data = b"\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}b" + b"\x00" * 16 + b"."
    stream = read_pickle(ByteReader(io.BytesIO(data), size=len(data)))

    assert not stream.complete
    assert stream.error is not None
    assert "joblib array data" in stream.error
    assert stream.import_names() == ["joblib.numpy_pickle.NumpyArrayWrapper"]


def test_scikit_learn_model_dump(tmp_path: Path) -> None:
    np = needs("numpy")
    needs("joblib")
    linear_model = needs("sklearn.linear_model")
    model = linear_model.LogisticRegression().fit(np.arange(20.0).reshape(10, 2), [0, 1] * 5)
    path = write_joblib(tmp_path / "clf.joblib", model, compress="xz")

    facts = analyze(path)

    assert facts.format == "joblib (xz)"
    [fact] = facts.pickles
    assert fact.stream.complete
    assert "sklearn.linear_model._logistic.LogisticRegression" in fact.stream.import_names()


# --------------------------------------------------------------------------------------------
# numpy
# --------------------------------------------------------------------------------------------


def test_numeric_npy_holds_no_pickle(tmp_path: Path) -> None:
    needs("numpy")
    path = write_npy(tmp_path / "array.npy")

    facts = analyze(path)

    assert (facts.format, facts.pickles, facts.problems) == ("numpy", [], [])


def test_numeric_npz_holds_no_pickle(tmp_path: Path) -> None:
    needs("numpy")
    path = write_npz(tmp_path / "arrays.npz")

    facts = analyze(path)

    assert (facts.format, facts.pickles, facts.problems) == ("numpy-npz", [], [])


def test_object_npy_is_a_pickle(tmp_path: Path) -> None:
    needs("numpy")
    path = write_npy(tmp_path / "objects.npy", objects=True, payload=os.system)

    facts = analyze(path)

    assert facts.format == "numpy-object"
    [fact] = facts.pickles
    assert fact.where == ""
    assert OS_SYSTEM in fact.stream.import_names()
    assert "object array" in fact.note


def test_object_npz_names_the_member(tmp_path: Path) -> None:
    needs("numpy")
    path = write_npz(tmp_path / "arrays.npz", objects=True, payload=os.system)

    facts = analyze(path)

    assert facts.format == "numpy-npz"
    [fact] = facts.pickles
    assert fact.where == "b.npy inside the zip"
    assert OS_SYSTEM in fact.stream.import_names()


# --------------------------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------------------------

GOOD_HEADER = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}


def safetensors_problems(facts: ArtifactFacts) -> list[str]:
    [(where, header)] = facts.detail("safetensors")
    assert where == ""
    return list(header.problems)  # type: ignore[attr-defined]


def test_real_safetensors_file(tmp_path: Path) -> None:
    needs("numpy")
    needs("safetensors")
    path = write_safetensors(tmp_path / "model.safetensors", metadata={"format": "np"})

    assert sniff_path(path, READERS) == ("safetensors", True)
    facts = analyze(path)

    assert facts.format == "safetensors"
    assert facts.pickles == []
    assert facts.problems == []
    [(_, header)] = facts.detail("safetensors")
    assert header.problems == []  # type: ignore[attr-defined]
    assert header.tensors == 3  # type: ignore[attr-defined]


def test_safetensors_header_only_is_read(tmp_path: Path) -> None:
    np = needs("numpy")
    needs("safetensors")
    path = write_safetensors(tmp_path / "big.safetensors", {"w": np.zeros(4 << 20, dtype=np.float32)})  # 16 MiB

    facts = analyze(path)

    assert safetensors_problems(facts) == []
    assert facts.bytes_read < 256 << 10


@pytest.mark.parametrize(
    ("header", "data", "header_length", "expected"),
    [
        pytest.param(GOOD_HEADER, bytes(8), 10**6, "points past the end of the file", id="length-past-end"),
        pytest.param(b'{"a": {"dtype": "F32",', bytes(8), None, "not valid JSON", id="invalid-json"),
        pytest.param(
            b'{"\xff": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}',
            bytes(8),
            None,
            "not valid UTF-8",
            id="non-utf8",
        ),
        pytest.param(
            {"a": {"dtype": "F33", "shape": [2], "data_offsets": [0, 8]}}, bytes(8), None, "unknown dtype", id="dtype"
        ),
        pytest.param(
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            bytes(12),
            None,
            "overlaps",
            id="overlap",
        ),
        pytest.param(
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]},
            },
            bytes(20),
            None,
            "gap of 4 bytes",
            id="gap",
        ),
        pytest.param(
            {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8), None, "needs 12 bytes", id="shape"
        ),
        pytest.param(
            {"__metadata__": {"step": 1}, **GOOD_HEADER}, bytes(8), None, "__metadata__ must map strings", id="metadata"
        ),
        pytest.param(
            b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, '
            b'"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}',
            bytes(8),
            None,
            "duplicate key",
            id="duplicate-keys",
        ),
        pytest.param(GOOD_HEADER, bytes(12), None, "not part of any tensor", id="trailing-data"),
    ],
)
def test_bad_safetensors_header(
    tmp_path: Path, header: dict[str, object] | bytes, data: bytes, header_length: int | None, expected: str
) -> None:
    path = write_raw_safetensors(tmp_path / "model.safetensors", header, data, header_length)

    facts = analyze(path)

    assert facts.format == "safetensors"
    problems = safetensors_problems(facts)
    assert any(expected in problem for problem in problems), problems


def test_hand_made_valid_safetensors_has_no_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "x.bin", safetensors_bytes({"__metadata__": {"k": "v"}, **GOOD_HEADER}, bytes(8)))

    assert safetensors_problems(analyze(path)) == []


# --------------------------------------------------------------------------------------------
# Not artifacts, unknown and uninspectable content
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        pytest.param("notes.txt", b"plain text\nover two lines\n", "text", id="text"),
        pytest.param("model.json", b'{"architectures": ["Bert"], "hidden_size": 768}\n', "text", id="json"),
        pytest.param("table.csv", b"a,b,c\n1,2,3\n4,5,6\n", "text", id="csv"),
        pytest.param("model.pkl", PNG_MAGIC + bytes(64), "png", id="png"),
    ],
)
def test_not_artifacts(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    path = write(tmp_path / name, data)

    assert sniff_path(path, READERS) == (expected, False)
    facts = analyze(path)

    assert facts.artifact is False
    assert facts.format == expected
    assert facts.pickles == []
    assert facts.problems == []


def test_empty_file_is_not_an_artifact(tmp_path: Path) -> None:
    path = write(tmp_path / "model.pt", b"")

    assert sniff_path(path, READERS) == (None, False)
    facts = analyze(path)

    assert (facts.format, facts.artifact, facts.problems) == ("empty", False, [])


def test_seven_zip_cannot_be_inspected(tmp_path: Path) -> None:
    path = write(tmp_path / "weights.bin", SEVEN_ZIP_MAGIC + bytes(32))

    facts = analyze(path)

    assert facts.format == "7z"
    [problem] = facts.problems
    assert "cannot be inspected" in problem.message


def test_unknown_binary_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "model.safetensors", random_bytes(4096, seed=0))

    assert sniff_path(path, READERS) == ("unknown", True)
    facts = analyze(path)

    assert facts.format == "unknown"
    assert facts.artifact is True
    [problem] = facts.problems
    assert "format not recognised" in problem.message


# --------------------------------------------------------------------------------------------
# Bad input never raises: it ends in a finding or a pass
# --------------------------------------------------------------------------------------------


def test_truncated_zip(tmp_path: Path) -> None:
    data = zip_bytes({"model.pkl": global_reference_pickle()})
    path = write(tmp_path / "model.zip", data[: len(data) // 2])

    facts = analyze(path)

    assert facts.format == "zip"
    assert "zip archive cannot be read" in messages(facts)


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip_bytes(global_reference_pickle() * 50)
    path = write(tmp_path / "model.gz", data[:20])

    facts = analyze(path)

    # What decompresses before the damage is what a loader unpickles: it is read, and the
    # damage is reported.
    assert facts.format == "pickle (gzip)"
    assert "corrupt or truncated" in messages(facts)


def test_zip_member_with_a_bad_crc(tmp_path: Path) -> None:
    data = zip_bytes({"model.pkl": global_reference_pickle()}, compression=zipfile.ZIP_STORED)
    path = write(tmp_path / "model.zip", corrupt_zip_member(data, "model.pkl", mode="crc"))

    facts = analyze(path)

    assert facts.format == "zip"
    [problem] = facts.problems
    assert problem.where == "model.pkl inside the zip"
    assert "Bad CRC-32" in problem.message


def test_zip_member_with_broken_deflate_data_does_not_stop_the_others(tmp_path: Path) -> None:
    """A corrupt deflate stream raises zlib.error: it must be a problem of that member, and the
    members after it must still be read."""
    data = zip_bytes({"broken.bin": bytes(range(256)) * 64, "model.pkl": global_reference_pickle()})
    path = write(tmp_path / "model.zip", corrupt_zip_member(data, "broken.bin", mode="deflate"))

    facts = analyze(path)

    assert facts.format == "zip"
    [problem] = facts.problems
    assert problem.where == "broken.bin inside the zip"
    assert problem.message.startswith("member cannot be read")
    assert "internal error" not in problem.message
    assert [fact.where for fact in facts.pickles] == ["model.pkl inside the zip"]


def test_zip_bomb_is_not_inflated(tmp_path: Path) -> None:
    path = write_zip_bomb(tmp_path / "bomb.zip")  # 1 GiB of zeros in about 1 MiB

    started = time.monotonic()
    facts = analyze(path)

    assert time.monotonic() - started < 20  # hang guard (10x); speed: benchmarks/bench_hostile.py
    assert facts.format == "zip"
    [problem] = facts.problems
    assert problem.where == "zeros.bin inside the zip"
    assert "a zip bomb: the bomb_ratio cap; to allow more, raise it with [tool.aisupply.limits] bomb_ratio" in (
        problem.message
    )


def test_gzip_bomb_stops_at_the_cap(tmp_path: Path) -> None:
    path = write_gzip_bomb(tmp_path / "bomb.pkl.gz")

    started = time.monotonic()
    facts = analyze(path)

    assert time.monotonic() - started < 50  # hang guard (10x); speed: benchmarks/bench_hostile.py
    assert facts.format == "gzip"
    assert "compression bomb (the bomb_ratio cap" in messages(facts)


def test_gzip_of_plain_zeros_is_unknown_content_read_only_at_its_head(tmp_path: Path) -> None:
    path = write_gzip_bomb(tmp_path / "zeros.gz", pickle_shaped=False)

    facts = analyze(path)

    assert facts.format == "unknown (gzip)"
    assert "format not recognised" in messages(facts)
    assert facts.bytes_read < 1 << 20


def test_decompression_caps_are_configurable(tmp_path: Path) -> None:
    data = gzip_bytes(b"\x80\x04\x8e" + (1 << 20).to_bytes(8, "little") + bytes(1 << 20) + b".")
    path = write(tmp_path / "small.gz", data)
    limits = Limits(bomb_min_bytes=64 << 10, bomb_ratio=10)

    assert "compression bomb (the bomb_ratio cap" in messages(analyze(path, limits))
    assert analyze(path).problems == []


def test_deep_nesting_is_a_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "deep.zip", nested_zip_bytes(global_reference_pickle(), depth=10))

    facts = analyze(path)

    assert facts.format == "zip"
    assert facts.pickles == []
    [problem] = facts.problems
    assert "nested deeper than 6 levels" in problem.message
    assert problem.where.count(" inside the zip") == 7


def test_non_utf8_file_name(tmp_path: Path) -> None:
    if sys.platform == "darwin" or os.name == "nt":
        pytest.skip("the file system refuses names that are not valid UTF-8")
    raw = os.path.join(os.fsencode(tmp_path), b"model\xff\xfe.pkl")
    with open(raw, "wb") as handle:
        handle.write(global_reference_pickle())
    path = Path(os.fsdecode(raw))

    assert sniff_path(path, READERS) == ("pickle", True)
    facts = analyze(path)

    assert imports_of(facts) == {OS_SYSTEM}


def test_directory_named_like_a_model(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.mkdir()

    facts = analyze(path)

    assert facts.artifact is True
    [problem] = facts.problems
    assert "cannot be read" in problem.message
    with pytest.raises(IsADirectoryError):
        sniff_path(path, READERS)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "model.pkl"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(fifo.stat().st_mode)

    facts = run_with_timeout(lambda: analyze(fifo))

    assert facts.format == "special"
    assert [problem.message for problem in facts.problems] == ["not a regular file"]
    with pytest.raises(OSError, match="not a regular file"):
        run_with_timeout(lambda: sniff_path(fifo, READERS))


def test_unreadable_file(tmp_path: Path) -> None:
    if os.name == "nt" or os.geteuid() == 0:
        pytest.skip("permissions are not enforced here")
    path = write(tmp_path / "model.pkl", global_reference_pickle())
    path.chmod(0)

    facts = analyze(path)

    assert facts.format == "unreadable"
    assert "cannot be read" in messages(facts)


# --------------------------------------------------------------------------------------------
# Booby-trapped payloads: nothing is ever unpickled
# --------------------------------------------------------------------------------------------


def test_the_trace_payload_is_live(tmp_path: Path) -> None:
    """Control: the payload really creates its marker when unpickled, so the tests below, which
    assert the marker is absent after analysis, can fail."""
    marker = tmp_path / "MARKER"
    pickle.loads(malicious_reduce_pickle(marker, kind="exec"))
    assert marker.exists()


def _raw(data: bytes, tmp_path: Path) -> Path:
    return write(tmp_path / "model.bin", data)


def _zip(data: bytes, tmp_path: Path) -> Path:
    return write(tmp_path / "model.zip", zip_bytes({"weights/model.bin": data}))


def _torch_like(data: bytes, tmp_path: Path) -> Path:
    return write(tmp_path / "model.pt", torch_like_zip_bytes(data))


def _gzip(data: bytes, tmp_path: Path) -> Path:
    return write(tmp_path / "model.pkl.gz", gzip_bytes(data))


def _tar(data: bytes, tmp_path: Path) -> Path:
    return write(tmp_path / "model.tar", tar_bytes({"model.pkl": data}))


CONTAINERS = {"raw": _raw, "zip": _zip, "torch-like": _torch_like, "gzip": _gzip, "tar": _tar}


@pytest.mark.parametrize("kind", ["exec", "system"])
@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("container", CONTAINERS)
def test_trace_payload_is_reported_and_never_run(tmp_path: Path, container: str, protocol: int, kind: str) -> None:
    marker = tmp_path / "MARKER"
    path = CONTAINERS[container](malicious_reduce_pickle(marker, protocol, kind), tmp_path)

    facts = analyze(path)

    assert trace_import(kind, protocol) in imports_of(facts)
    assert not marker.exists()


@pytest.mark.parametrize("compress", JOBLIB_COMPRESSORS)
@pytest.mark.parametrize("kind", ["exec", "system"])
def test_trace_payload_in_joblib(tmp_path: Path, kind: str, compress: str | None) -> None:
    np = needs("numpy")
    needs("joblib")
    marker = tmp_path / "MARKER"
    path = write_joblib(
        tmp_path / "model.joblib", {"w": np.ones(64), "hook": trace_payload(marker, kind)}, compress=compress
    )

    facts = analyze(path)

    assert trace_import(kind) in imports_of(facts)
    assert all(fact.stream.complete for fact in facts.pickles)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["exec", "system"])
def test_trace_payload_in_numpy_object_arrays(tmp_path: Path, kind: str) -> None:
    needs("numpy")
    marker = tmp_path / "MARKER"
    npy = write_npy(tmp_path / "a.npy", objects=True, payload=trace_payload(marker, kind))
    npz = write_npz(tmp_path / "b.npz", objects=True, payload=trace_payload(marker, kind))

    npy_facts, npz_facts = analyze(npy), analyze(npz)

    assert trace_import(kind) in imports_of(npy_facts)
    assert trace_import(kind) in imports_of(npz_facts)
    assert [fact.where for fact in npz_facts.pickles] == ["b.npy inside the zip"]
    assert not marker.exists()


@pytest.mark.parametrize("legacy", [False, True])
def test_trace_payload_in_a_real_torch_checkpoint(tmp_path: Path, legacy: bool) -> None:
    torch = needs("torch")
    marker = tmp_path / "MARKER"
    path = write_torch_checkpoint(
        tmp_path / "model.pt", legacy=legacy, obj={"w": torch.ones(2), "hook": trace_payload(marker, "exec")}
    )

    facts = analyze(path)

    assert facts.format == ("pytorch-legacy" if legacy else "pytorch-zip")
    assert builtin_name("exec", protocol=2) in imports_of(facts)  # torch.save pickles with protocol 2
    assert not marker.exists()
