"""The checks under pytest-xdist as a user sees them: the same outcomes, failure messages, summary,
SARIF, BOM and lockfile at ``-n 0`` and ``-n 2``, whether the checks' reports carry their whole
records (a SARIF, BOM or lockfile writer asked for them) or only the summary's share of a check
that passed (nothing else asked for: the trimmed records a large tree ships between processes).

Times are measured by benchmarks/bench_scale.py, never asserted here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from test_performance import WAIVER_REASON, build_mixed_tree

#: A code file whose one Hub reference an inline comment takes out: its check passes, and the
#: summary counts the ignored call site (a passed record that must not be trimmed away).
IGNORED_CODE = (
    "from transformers import AutoModel\n\n"
    "model = AutoModel.from_pretrained('org/other')  # aisupply: ignore[pinned-revision] pinned by the image\n"
)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--aisupply-only", "-rA", *args
    )


def _outcomes(result: pytest.RunResult) -> list[str]:
    """Every check's outcome line from ``-rA`` (``PASSED aisupply::rule::subject`` ...)."""
    return sorted(line for line in result.stdout.lines if re.match(r"^(PASSED|FAILED|ERROR|SKIPPED) aisupply::", line))


def _failure_messages(result: pytest.RunResult) -> list[str]:
    """The failure blocks pytest prints per failed check, each under its ``____ title ____`` line."""
    text = result.stdout.str()
    failures = text.partition("= FAILURES =")[2]
    end = r"^=+ (?:warnings summary|short test summary info|PASSES|aisupply) =+$"
    failures = re.split(end, failures, flags=re.M)[0]
    # xdist names the worker that ran the check on a line of its own: not part of the verdict
    failures = re.sub(r"^\[gw\d+\] .*\n", "", failures, flags=re.M)
    blocks = re.split(r"^_{3,} (.+?) _{3,}$", failures, flags=re.M)[1:]
    return sorted(f"{title}\n{body.strip()}" for title, body in zip(blocks[::2], blocks[1::2], strict=True))


def _summary(result: pytest.RunResult) -> list[str]:
    """The ``aisupply`` summary section: counts, formats, waived checks, inline ignores."""
    text = result.stdout.str()
    section = re.search(r"^=+ aisupply =+$\n(.*?)(?=^=+ )", text, re.M | re.S)
    assert section is not None, text
    return sorted(line for line in section[1].splitlines() if line.strip())


@pytest.fixture
def mixed_tree(pytester: pytest.Pytester) -> Path:
    build_mixed_tree(pytester.path)
    (pytester.path / "src" / "serve.py").write_text(IGNORED_CODE)
    update = _run(pytester, "--aisupply-update")
    assert (pytester.path / "aisupply.lock").is_file(), update.stdout.str()
    # a reviewed file changed after the review: integrity fails for it
    np.save(pytester.path / "data" / "shard-0" / "x03.npy", np.arange(99, dtype=np.int64))
    return pytester.path


def test_trimmed_records_give_the_same_outcomes_messages_and_summary_with_and_without_xdist(
    pytester: pytest.Pytester, mixed_tree: Path
) -> None:
    # no writer asked for the records: a passed check's report carries only the summary's share
    serial = _run(pytester, "-n", "0")
    parallel = _run(pytester, "-n", "2")
    # a SARIF writer asked for every record in full: the summary must not differ from the trimmed runs
    full = _run(pytester, "-n", "2", "--aisupply-sarif=out.sarif")

    assert serial.ret == parallel.ret == full.ret == pytest.ExitCode.TESTS_FAILED
    outcomes = _outcomes(serial)
    # the tree has checks of every outcome, so the comparisons below compare something
    assert any(line.startswith("PASSED aisupply::no-pickle::data/shard-0/") for line in outcomes), outcomes
    assert any(line.startswith("FAILED aisupply::integrity::data/shard-0/x03.npy") for line in outcomes), outcomes
    assert "PASSED aisupply::pinned-revision::src/serve.py" in outcomes
    assert _outcomes(parallel) == outcomes
    assert _outcomes(full) == outcomes

    messages = _failure_messages(serial)
    assert len(messages) >= 4, serial.stdout.str()
    assert any("[aisupply] no-pickle: data/shard-1/labels.pkl" in block for block in messages), messages
    assert _failure_messages(parallel) == messages

    summary = _summary(serial)
    assert any(re.match(r"^\d+ checks: .*\d+ passed", line) for line in summary), summary
    assert any(line.startswith("artifacts by format: ") and "numpy 24," in line for line in summary), summary
    assert any(line.startswith("waived: no-pickle::models/legacy/") and WAIVER_REASON in line for line in summary)
    assert any(line.startswith("inline ignores: 1 call site") for line in summary), summary
    assert _summary(parallel) == summary
    assert _summary(full) == summary


def test_sarif_bom_and_lockfile_are_the_same_with_and_without_xdist(
    pytester: pytest.Pytester, mixed_tree: Path
) -> None:
    reports = ("--aisupply-sarif=out-{}.sarif", "--aisupply-bom=bom-{}.json")
    serial = _run(pytester, "-n", "0", *(flag.format(0) for flag in reports))
    parallel = _run(pytester, "-n", "2", *(flag.format(2) for flag in reports))
    assert serial.ret == parallel.ret == pytest.ExitCode.TESTS_FAILED
    assert _outcomes(parallel) == _outcomes(serial)
    assert _summary(parallel) == _summary(serial)

    sarif = [json.loads((mixed_tree / f"out-{n}.sarif").read_text())["runs"][0]["results"] for n in (0, 2)]
    assert len(sarif[0]) >= 4
    key = json.dumps  # results in a stable order, whichever worker reported first
    assert sorted(sarif[1], key=key) == sorted(sarif[0], key=key)
    # the BOM is deterministic: the same bytes from the controller that gathered two workers' reports
    assert (mixed_tree / "bom-2.json").read_text() == (mixed_tree / "bom-0.json").read_text()

    # the lockfile an update writes from two workers' records is the file one process writes
    lock = mixed_tree / "aisupply.lock"
    updated = []
    for workers in ("0", "2"):
        lock.unlink()
        result = _run(pytester, "-n", workers, "--aisupply-update")
        assert lock.is_file(), result.stdout.str()
        updated.append(lock.read_text())
    assert updated[1] == updated[0]
    assert "data/shard-0/x03.npy" in updated[0]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_the_lockfile_records_the_format_as_read_whichever_checks_ran_in_the_process(
    pytester: pytest.Pytester, mixed_tree: Path, workers: str
) -> None:
    # Nothing else reads the files: under xdist the worker that records a file in the lockfile is
    # often not the one whose no-pickle check read it, and with no-pickle off none is.
    pyproject = mixed_tree / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('safetensors = "warn"\n', 'safetensors = "warn"\nno-pickle = "off"\n')
    )
    lock = mixed_tree / "aisupply.lock"
    lock.unlink()
    result = _run(pytester, "-n", workers, "--aisupply-update")
    assert lock.is_file(), result.stdout.str()
    text = lock.read_text()
    entry = re.search(r'^path = "models/good/objects\.npy"\n(?:\w+ = .*\n)*', text, re.M)
    assert entry is not None, text
    # an object array is a pickle inside a .npy: the sniffed "numpy" would hide that from the review
    assert 'format = "numpy-object"' in entry[0], entry[0]
