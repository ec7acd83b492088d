"""The reader bugs the fuzzers found, each as the smallest input that showed it."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from fuzz.targets import analyze_bytes, check_facts, run
from helpers.formats_extra import dense_model, keras_archive_bytes
from pytest_aisupply.code.sources import read_notebook
from pytest_aisupply.formats import Limits
from pytest_aisupply.inventory.modelcard import read_card
from pytest_aisupply.lockfile.lock import LockError, fast_parse, read_lock
from pytest_aisupply.settings.config import ConfigError, load_settings


def test_zip_member_with_an_empty_name() -> None:
    import struct
    import zlib

    payload = b"\x80\x02cos\nsystem\nq\x00."
    crc, size = zlib.crc32(payload), len(payload)
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, size, size, 0, 0) + payload
    fields = (20, 20, 0, 0, 0, 0, crc, size, size, 0, 0, 0, 0, 0, 0, 0)
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", *fields)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local), 0)
    facts = analyze_bytes(local + central + end)  # zipfile's is_dir() raised IndexError on ""
    check_facts(facts)
    assert facts.pickles


def test_zip_member_without_the_data_it_declares_is_a_problem() -> None:
    data = bytearray(_stored_zip({"archive/data.pkl": b"\x80\x02K\x01."}))
    # The central directory keeps its sizes; the local data is cut to nothing.
    local_size = data.index(b"archive/data.pkl") + len("archive/data.pkl")
    data[18:22] = (0).to_bytes(4, "little")  # local compressed size 0
    facts = analyze_bytes(bytes(data[:local_size]) + bytes(data[local_size + 6 :]))
    check_facts(facts)
    assert facts.problems


def _stored_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_keras_archive_with_corrupt_deflate_data() -> None:
    data = bytearray(keras_archive_bytes(dense_model()))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("config.json")
    start = info.header_offset + 30 + len("config.json") + len(info.extra)
    for position in range(start, start + min(info.compress_size, 64)):
        data[position] ^= 0x5A
    run("keras", bytes(data))  # zlib.error escaped the Keras reader


def test_model_card_nested_deeper_than_the_parser_recurses() -> None:
    run("modelcard", b"---\n" + b"[" * 5000 + b"\n---\n")  # RecursionError escaped read_card


@pytest.mark.parametrize(
    "front_matter",
    ["license: other\nlicense_name: 5", "license: {a: b}", "base_model: [[a]]"],
)
def test_model_card_metadata_of_the_wrong_type_is_an_error(tmp_path: Path, front_matter: str) -> None:
    (tmp_path / "README.md").write_text(f"---\n{front_matter}\n---\n", encoding="utf-8")
    card = read_card(tmp_path / "README.md")
    assert card is not None
    assert card.error is not None


@pytest.mark.parametrize("value", ["2020-13-45", "!!float x", "!!float ''", "!!timestamp 2020-99-99", "1" * 5000])
def test_model_card_values_yaml_cannot_convert_are_an_error(tmp_path: Path, value: str) -> None:
    (tmp_path / "README.md").write_text(f"---\nlicense: mit\nx: {value}\n---\n", encoding="utf-8")
    card = read_card(tmp_path / "README.md")  # ValueError escaped read_card
    assert card is not None
    assert card.error is not None


def test_aliases_cannot_make_a_card_expensive(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [*a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}]" for n in range(1, 12)]
    (tmp_path / "README.md").write_text("---\n" + "\n".join(lines) + "\nlicense: *a11\n---\n", encoding="utf-8")
    card = read_card(tmp_path / "README.md")
    assert card is not None
    assert card.error == "model card metadata: 'license' must be a string or a list of strings"


@pytest.mark.parametrize(
    "text",
    [
        '[tool.aisupply]\nartifacts = ["' + "x" * 5000 + '"]\n',  # os.stat: file name too long
        '[tool.aisupply]\nartifacts = ["a\\u0000b"]\n',  # embedded NUL byte
        "[tool.aisupply]\npickle = " + "[" * 5000 + "\n",  # tomllib recursion
    ],
    ids=["name-too-long", "nul", "deep-array"],
)
def test_config_errors_that_escaped_as_other_exceptions(tmp_path: Path, text: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_settings(tmp_path / "pyproject.toml", tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        "version = 1\nx = " + "[" * 5000 + "\n",
        "version = 1\nx = " + "1" * 5000 + "\n",
        'version = 1\n[[hub]]\nrepo_type = "model"\nrepo_id = "a/b"\nrevision = "' + "a" * 40 + '"\n'
        "reviewed = 2026-01-01\nfiles = 3\n",
        'version = 1\n[[hub]]\nrepo_type = "model"\nrepo_id = "a/b"\nrevision = "' + "a" * 40 + '"\n'
        "reviewed = 2026-01-01\nlicense = 3\n",
        'version = 1\n[[hub]]\nrepo_type = "model"\nrepo_id = "a/b"\nrevision = "' + "a" * 40 + '"\n'
        "reviewed = 2026-01-01\nbase_models = 3\n",
        'version = 1\n[[hub]]\nrepo_type = "model"\nrepo_id = "a/b"\nrevision = "' + "a" * 40 + '"\n'
        "reviewed = 2026-01-01\nlicense_name = 3\n",
    ],
    ids=["deep-array", "long-integer", "files", "license", "base-models", "license-name"],
)
def test_lockfile_errors_that_escaped_as_other_exceptions(tmp_path: Path, text: str) -> None:
    (tmp_path / "aisupply.lock").write_text(text, encoding="utf-8")
    with pytest.raises(LockError):
        read_lock(tmp_path / "aisupply.lock")


def test_lockfile_fast_path_leaves_what_it_does_not_know_to_tomllib() -> None:
    assert fast_parse('version = 1\n\n[[artifact]]\npath = "a"\n') == {"version": 1, "artifact": [{"path": "a"}]}
    for text in ("version = 1\nversion = 1\n", 'path = "a\\u0041"\n', "x = [1]\n", "artifact = []\n[[artifact]]\n"):
        assert fast_parse(text) is None


def test_notebook_code_over_the_cap_is_not_parsed() -> None:
    notebook = json.dumps({"cells": [{"cell_type": "code", "source": "x = 1\n" * 100}]}).encode()
    source = read_notebook(notebook, max_code_bytes=100)
    assert source.error is not None
    assert "max_code_file_bytes" in source.error


def test_claimed_lengths_are_read_piece_by_piece() -> None:
    import gzip
    import tracemalloc

    from helpers.artifacts import safetensors_bytes

    data = gzip.compress(safetensors_bytes({}, b"", header_length=90_000_000) + bytes(100), mtime=0)
    tracemalloc.start()
    try:
        analyze_bytes(data, limits=Limits())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


@pytest.mark.parametrize("declared", ["()(", "((" * 30 + ")(" + "he", "(OR apache-2.0) AND bsd-3-clause"])
def test_license_expressions_the_parser_cannot_take_are_not_allowed(declared: str) -> None:
    from pytest_aisupply.rules.license_policy import check_license

    verdict = check_license((declared,), ("mit",))  # license_expression raised IndexError
    assert not verdict.allowed
    assert "not a valid SPDX expression" in verdict.reason


def _npy(descr: str) -> bytes:
    header = f"{{'descr': {descr}, 'fortran_order': False, 'shape': (2,), }}".encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\x80\x03]q\x00(K\x01K\x02e."


@pytest.mark.parametrize("descr", ["'|T'", "'object'", "'i4,O'", "[('a', 'object')]", "'float64'"])
def test_npy_dtypes_that_numpy_reads_as_objects_are_findings(descr: str) -> None:
    facts = analyze_bytes(_npy(descr))  # numpy unpickles the data of these; the reader saw plain data
    check_facts(facts)
    assert facts.pickles or facts.problems


#: Inputs the differential fuzz run found: a GLOBAL line read past the end of a FRAME. C's
#: unpickler reads it from its read-ahead buffer and then the file, and imported names the
#: walker (which reads the bytes in order) never sees; the walker now stops there, undecided.
_FRAME_STRADDLES = [
    (b"\x80\x04\x95\x14\x00\x00\x00\x00\x00\x00\x00cbuiltiny8\xc3\xc4\xa9\xd4(\xee\x98\xda\x92\xbcs\nexec\n(\x8c3"),
    (
        b"\x80\x04\x95\x14\x00\x00\x00\x00\x00\x00\x00cbuidtins\nex\x04"
        b"\x95\x14\x00\x00\x00\x00\x00\x00\x00cbuidtins\nex\x04\x95\x14"
        b"\x00\x00\x00\x00\x00\x00\x00cbuidtins\nex\x04\x95\x14\x00\x00"
        b"\x00\x00\x00\x00\x00cbuidtins\nex\x04\x95\x14\x00\x00\x00\x00"
        b"\x00\x00\x00c"
    ),
    (
        b"\x80\x04\x95\x14\x00\x00\x00\x00\x00\x00\x00cbuiltins.exe"
        b"c\n(\x8c3open('/tma = [a = ["
        b"a = \x00\x00\x00\x00\x00\x00cbuiltins.exec"
        b"\n(\x8c3open('/tma = [a = [a"
        b" = \x00"
    ),
    (
        b"\x80\x04\x95\x14\x00\x00\x00\x00\x00\x00\x00cbuiltins\nexe"
        b"builtins\nexebuiltins\nexe"
        b"builtins\nexebuiltins\nexe"
        b"builtins\nexebuiltins\nexe"
        b"buil"
    ),
]


@pytest.mark.parametrize("data", _FRAME_STRADDLES)
def test_a_line_read_past_a_frame_is_undecided_and_covers_the_unpickler(data: bytes) -> None:
    from helpers.recording_unpickler import uncovered, walker_reading

    assert walker_reading(data).undecided
    assert uncovered(data) is None
    assert run("pickle", data)  # a finding
