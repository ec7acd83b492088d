"""Hand-made hostile files: each ends in a finding within 256 MiB, read with the default caps
through the engine the plugin uses; a lockfile of 200,000 entries loads and checks.

Memory (tracemalloc's peak) is asserted exactly. Time is only guarded against a hang, with a 10x
margin over the acceptance bounds (2 s per file, 10 s for the lockfile) that
benchmarks/bench_hostile.py measures and checks on an idle machine (docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
import struct
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers.artifacts import safetensors_bytes, write_gzip_bomb, write_zip_bomb
from pytest_aisupply.findings import Finding
from pytest_aisupply.formats import builtin_readers
from pytest_aisupply.lockfile.lock import read_lock
from pytest_aisupply.rules import builtin_rules
from pytest_aisupply.settings.config import Settings
from pytest_aisupply.verdicts.engine import Engine

# A loaded CI machine measured 2.11 s and 11.8 s where an idle one stays under the acceptance
# bounds, so a timed unit test only catches a hang: ten times the bound. benchmarks/bench_hostile.py
# runs these tests with AISUPPLY_BENCH_BOUNDS=1, which holds them to the bounds themselves.
HANG_MARGIN = 1 if os.environ.get("AISUPPLY_BENCH_BOUNDS") == "1" else 10
SECONDS = 2.0 * HANG_MARGIN
LOCKFILE_SECONDS = 10.0 * HANG_MARGIN
MEMORY = 256 << 20


def findings_for(root: Path, subject_id: str, **options: object) -> list[Finding]:
    """Every finding of every rule on one subject, from a fresh engine (nothing cached)."""
    settings = Settings(root=root, lockfile="", **options)  # type: ignore[arg-type]
    engine = Engine(settings, builtin_rules(), builtin_readers())
    found: list[Finding] = []
    for rule, subjects in engine.subjects():
        for subject in subjects:
            if subject.id == subject_id:
                found += engine.evaluate(rule.id, subject).findings
    return found


def measured(action: Callable[[], list[Finding]]) -> tuple[list[Finding], float, int]:
    started = time.perf_counter()
    found = action()
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    try:
        action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return found, elapsed, peak


def assert_bounded_finding(root: Path, subject_id: str, *expected: str, **options: object) -> None:
    found, elapsed, peak = measured(lambda: findings_for(root, subject_id, **options))
    text = "\n".join(f"{finding.message} {finding.details}" for finding in found)
    assert found, f"{subject_id}: no finding"
    for part in expected:
        assert part in text, text
    assert elapsed < SECONDS, f"{subject_id}: {elapsed:.2f} s (hang guard)"
    assert peak < MEMORY, f"{subject_id}: {peak >> 20} MiB at peak"


def test_zip_bomb(tmp_path: Path) -> None:
    write_zip_bomb(tmp_path / "bomb.zip")  # 1 GiB of zeros in about 1 MiB
    assert_bounded_finding(tmp_path, "bomb.zip", "zip bomb", "bomb_ratio", "[tool.aisupply.limits]")


def test_gzip_bomb(tmp_path: Path) -> None:
    write_gzip_bomb(tmp_path / "bomb.pkl.gz")
    assert_bounded_finding(tmp_path, "bomb.pkl.gz", "compression bomb", "bomb_ratio")


def test_many_small_bombs_are_held_to_the_ratio_of_the_whole_file(tmp_path: Path) -> None:
    import gzip
    import zipfile

    from helpers.artifacts import zip_bytes

    # Each member expands 2 MiB, under the size from which a stream's own ratio is checked;
    # together they expand the file far more than 200x.
    member = gzip.compress(b"\x80\x04\x8e" + (2 << 20).to_bytes(8, "little") + bytes(2 << 20) + b".", mtime=0)
    archive = zip_bytes({f"m{index}.pkl.gz": member for index in range(200)}, compression=zipfile.ZIP_STORED)
    (tmp_path / "bombs.zip").write_bytes(archive)
    assert_bounded_finding(tmp_path, "bombs.zip", "to more than 200x its size", "bomb_ratio")


def test_pickle_of_a_list_nested_10000_deep(tmp_path: Path) -> None:
    depth = 10_000
    (tmp_path / "deep.pkl").write_bytes(b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b".")
    assert_bounded_finding(tmp_path, "deep.pkl", "pickle stream (protocol 2)")


def test_pickle_of_marks_nested_10000_deep(tmp_path: Path) -> None:
    depth = 10_000
    (tmp_path / "marks.pkl").write_bytes(b"\x80\x02" + b"(" * depth + b"t" * depth + b".")
    assert_bounded_finding(tmp_path, "marks.pkl", "pickle stream (protocol 2)")


def test_pickle_over_the_opcode_cap(tmp_path: Path) -> None:
    (tmp_path / "long.pkl").write_bytes(b"\x80\x02N" + b"0N" * 600 + b".")
    assert_bounded_finding(
        tmp_path,
        "long.pkl",
        "more than 1000 opcodes",
        "[tool.aisupply.limits] max_pickle_opcodes",
        limit_overrides={"max_pickle_opcodes": 1000},
    )


@pytest.mark.parametrize("claimed", [1 << 63, (1 << 64) - 1, 99_999_999])
def test_safetensors_header_claiming_more_than_the_file_has(tmp_path: Path, claimed: int) -> None:
    header = {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    (tmp_path / "model.safetensors").write_bytes(safetensors_bytes(header, bytes(4), header_length=claimed))
    assert_bounded_finding(tmp_path, "model.safetensors", "malformed header: header length")


def test_gzipped_safetensors_header_claiming_99_mb_allocates_only_what_is_there(tmp_path: Path) -> None:
    import gzip

    header = {"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    data = gzip.compress(safetensors_bytes(header, bytes(4), header_length=99_000_000), mtime=0)
    (tmp_path / "model.bin").write_bytes(data)
    _, elapsed, peak = measured(lambda: findings_for(tmp_path, "model.bin"))  # safetensors in gzip: no pickle
    assert elapsed < SECONDS
    assert peak < 16 << 20  # not the 99 MB the header claims


def many_members_zip(count: int) -> bytes:
    """A zip of ``count`` empty stored members, written by hand (zipfile takes seconds)."""
    local, central, offset = [], [], 0
    for index in range(count):
        name = f"m{index}.bin".encode()
        header = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
        local.append(header)
        central.append(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, offset
            )
            + name
        )
        offset += len(header)
    directory = b"".join(central)
    entries = min(count, 0xFFFF)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, entries, entries, len(directory), offset, 0)
    return b"".join(local) + directory + end


def test_zip_with_100000_members(tmp_path: Path) -> None:
    (tmp_path / "many.zip").write_bytes(many_members_zip(100_000))
    assert_bounded_finding(
        tmp_path, "many.zip", "100000 members, over the cap of 20000", "[tool.aisupply.limits] max_members"
    )


def test_notebook_with_a_50_mb_cell(tmp_path: Path) -> None:
    cell = "x = 1\n" * (50_000_000 // 6)
    notebook = {"cells": [{"cell_type": "code", "source": cell}], "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "big.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    assert_bounded_finding(tmp_path, "big.ipynb", "cannot be checked", "[tool.aisupply.limits] max_notebook_bytes")


def test_notebook_under_its_cap_with_too_much_code(tmp_path: Path) -> None:
    cell = "x = 1\n" * 1_000_000
    notebook = {"cells": [{"cell_type": "code", "source": cell}], "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "code.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    assert_bounded_finding(tmp_path, "code.ipynb", "[tool.aisupply.limits] max_code_file_bytes")


def test_python_file_over_its_cap(tmp_path: Path) -> None:
    (tmp_path / "huge.py").write_text("import torch\ntorch.load('x')\n" + "x = 1\n" * 1_000_000, encoding="utf-8")
    assert_bounded_finding(tmp_path, "huge.py", "[tool.aisupply.limits] max_code_file_bytes")


def _big_lock(path: Path, artifacts: int, hub: int) -> None:
    """A lockfile as render_lock writes it (built as text: rendering 200,000 entries is slow)."""
    parts = ["version = 1\n"]
    for index in range(artifacts):
        parts.append(
            f'\n[[artifact]]\npath = "data/f{index}.npy"\nformat = "numpy"\nsize = {index}\n'
            f'sha256 = "{index:064x}"\nreviewed = 2026-01-02\n'
        )
    for index in range(hub):
        parts.append(
            f'\n[[hub]]\nrepo_type = "model"\nrepo_id = "org/m{index}"\nrevision = "{index:040x}"\n'
            f'license = [\n    "mit",\n]\ngated = "false"\nbase_models = []\nreachable_from = []\n'
            f"reviewed = 2026-01-02\n"
            f'\n[[hub.files]]\npath = "config.json"\nsize = 10\ngit_sha1 = "{index:040x}"\n'
        )
    path.write_text("".join(parts), encoding="utf-8")


def test_lockfile_with_200000_entries_loads_and_checks(tmp_path: Path) -> None:
    _big_lock(tmp_path / "aisupply.lock", artifacts=150_000, hub=50_000)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "f7.npy").write_bytes(b"\x93NUMPY\x01\x00" + bytes(10))
    started = time.perf_counter()
    lock = read_lock(tmp_path / "aisupply.lock")
    settings = Settings(root=tmp_path, allowed_licenses=("mit",), allowed_sources=("org/*",))
    engine = Engine(settings, builtin_rules(), builtin_readers(), lock=lock)
    verdicts = [engine.evaluate(rule.id, subject) for rule, subjects in engine.subjects() for subject in subjects]
    elapsed = time.perf_counter() - started
    assert len(lock.artifacts) == 150_000
    assert len(lock.hub) == 50_000
    assert len(verdicts) > 100_000  # license and source check every locked Hub entry
    assert any(verdict.rule == "integrity" and verdict.subject.id == "data/f7.npy" for verdict in verdicts)
    assert elapsed < LOCKFILE_SECONDS, f"{elapsed:.1f} s (hang guard)"


def test_hostile_files_leave_no_trace(tmp_path: Path) -> None:
    """The payloads of the malicious corpus, read as hostile files are read, ran nothing."""
    from helpers.malicious import ENV_MARKER, corpus

    marker = tmp_path / "MARKER"
    for sample in corpus(marker, with_large=False):
        (tmp_path / f"{sample.name}.bin").write_bytes(sample.data)
    for sample in corpus(marker, with_large=False):
        assert findings_for(tmp_path, f"{sample.name}.bin"), sample.name
    assert not marker.exists()
    assert ENV_MARKER not in os.environ
