"""``--aisupply-update`` as the way out of an invalid lockfile: the error names the key's line and
says what the update does; the update then repairs the file, keeping the invalid one aside."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_aisupply.lockfile.lock import read_lock


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


GOOD_HASH = "a" * 64
BAD_ENTRY = """version = 1

[[artifact]]
path = "a.npy"
format = "numpy"
size = 152
sha256 = "NOT-A-HASH"
reviewed = 2026-01-01
"""


@pytest.fixture
def invalid_lock(pytester: pytest.Pytester) -> str:
    pytester.makepyprojecttoml("[tool.aisupply]\n")
    np.save(pytester.path / "a.npy", np.arange(3))
    (pytester.path / "aisupply.lock").write_text(BAD_ENTRY)
    return BAD_ENTRY


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (BAD_ENTRY, "aisupply.lock:7: [[artifact]] entry 1: 'sha256' must be 64 lowercase hex characters"),
        (
            BAD_ENTRY.replace("NOT-A-HASH", GOOD_HASH).replace("size = 152", "size = '152'"),
            "aisupply.lock:6: [[artifact]] entry 1: field 'size'",
        ),
        (
            BAD_ENTRY.replace("NOT-A-HASH", GOOD_HASH).replace("reviewed = 2026-01-01", "reviewed = 'soon'"),
            "aisupply.lock:8: [[artifact]] entry 1",
        ),
        (
            BAD_ENTRY.replace("NOT-A-HASH", GOOD_HASH).replace('path = "a.npy"\n', ""),
            "aisupply.lock:3: [[artifact]] entry 1: missing field 'path'",
        ),
    ],
    ids=["bad-value", "wrong-type", "bad-date", "missing-key-at-the-table"],
)
def test_the_error_names_the_keys_line_and_a_way_out(pytester: pytest.Pytester, text: str, where: str) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\n")
    (pytester.path / "aisupply.lock").write_text(text)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    [line] = [line for line in result.stderr.lines if line.strip()]
    assert line.startswith(f"ERROR: {where}"), line
    assert line.endswith(
        "fix it by hand, or run pytest --aisupply-update: it keeps this file as aisupply.lock.invalid "
        "and records the lockfile anew for you to review"
    )


@pytest.mark.usefixtures("invalid_lock")
def test_update_repairs_an_invalid_lockfile_and_keeps_the_old_one(pytester: pytest.Pytester) -> None:
    narrowed = run(pytester, "--aisupply-update", "-k", "nothing-matches")
    narrowed.stdout.fnmatch_lines(["aisupply.lock is invalid (*); not replaced: repair it with an unfiltered*"])
    assert (pytester.path / "aisupply.lock").read_text() == BAD_ENTRY

    repaired = run(pytester, "--aisupply-update")
    assert repaired.ret == pytest.ExitCode.OK, repaired.stdout.str()
    repaired.stdout.fnmatch_lines(
        ["aisupply.lock was invalid (aisupply.lock:7: *); kept it as aisupply.lock.invalid and recorded the *"]
    )
    assert (pytester.path / "aisupply.lock.invalid").read_text() == BAD_ENTRY
    assert list(read_lock(pytester.path / "aisupply.lock").artifacts) == ["a.npy"]
    assert run(pytester).ret == pytest.ExitCode.OK
