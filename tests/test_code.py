"""Code rules on a fixture project whose expected verdicts are written next to each call."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from pytest_aisupply.code.references import extract
from pytest_aisupply.code.sources import read_source
from pytest_aisupply.config import load_settings
from pytest_aisupply.engine import Engine
from pytest_aisupply.formats import builtin_readers
from pytest_aisupply.rules import builtin_rules

PROJECT = Path(__file__).parent / "data" / "code_project"
CODE_RULES = ("pinned-revision", "remote-code", "unsafe-load")
_EXPECT = re.compile(r"#\s*expect(-next|-file)?:\s*([\w\s,-]+)")

Verdict = tuple[str, str, str]  # (file, place, rule)


def _parse_expectation(comment: str) -> list[str]:
    return [rule.strip() for rule in comment.split(",") if rule.strip() and rule.strip() != "ok"]


def expected_verdicts(root: Path) -> tuple[set[Verdict], int]:
    """Expected (file, place, rule) triples from ``# expect:`` comments, and the call count."""
    expected: set[Verdict] = set()
    calls = 0
    for path in sorted((root / "src").glob("*.py")):
        rel = path.relative_to(root).as_posix()
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines, start=1):
            match = _EXPECT.search(line)
            if not match:
                continue
            kind, rules = match[1], _parse_expectation(match[2])
            if kind == "-file":
                expected.update((rel, "file", rule) for rule in rules)
                continue
            calls += 1
            target = number + 1 if kind == "-next" else number
            expected.update((rel, str(target), rule) for rule in rules)
        calls += sum(1 for line in lines if "aisupply: ignore[" in line and "expect" not in line)
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        rel = path.relative_to(root).as_posix()
        cells = json.loads(path.read_text())["cells"]
        for cell_number, cell in enumerate(cells, start=1):
            if cell["cell_type"] != "code":
                continue
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            for line_number, line in enumerate(source.splitlines(), start=1):
                if match := _EXPECT.search(line):
                    calls += 1
                    place = f"cell {cell_number}:line {line_number}"
                    expected.update((rel, place, rule) for rule in _parse_expectation(match[2]))
    return expected, calls


def actual_verdicts(root: Path) -> set[Verdict]:
    engine = Engine(load_settings(root / "pyproject.toml", root), builtin_rules(), builtin_readers())
    found: set[Verdict] = set()
    for rule, subjects in engine.subjects():
        if rule.id not in CODE_RULES:
            continue
        for subject in subjects:
            for finding in engine.evaluate(rule.id, subject).findings:
                if finding.where is None:
                    found.add((subject.id, "file", rule.id))
                    continue
                place = finding.where[len(subject.id) + 1 :]
                if not place.startswith("cell "):
                    place = place.split(":")[0]
                found.add((subject.id, place, rule.id))
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root)
    return root


def test_fixture_project_has_exactly_the_expected_verdicts(project: Path) -> None:
    expected, calls = expected_verdicts(project)
    assert calls >= 60
    actual = actual_verdicts(project)
    assert sorted(actual - expected) == [], "false positives"
    assert sorted(expected - actual) == [], "false negatives"


def test_failure_names_place_code_line_and_fix(pytester: pytest.Pytester) -> None:
    shutil.copytree(PROJECT, pytester.path, dirs_exist_ok=True)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "hub_downloads or explore")
    result.stdout.fnmatch_lines(
        [
            "*[[]aisupply[]] pinned-revision: src/hub_downloads.py: 10 findings",
            "  - found: huggingface_hub.hf_hub_download('org/model'): no revision: it loads whatever "
            "the default branch holds at run time",
            "    where: src/hub_downloads.py:12:1",
            '    hf_hub_download("org/model", "model.safetensors")  # expect: pinned-revision',
            "    fix:   pass revision='<40-hex commit sha>' (the current one: "
            "huggingface_hub.HfApi().repo_info('org/model').sha), and update it deliberately",
        ]
    )
    result.stdout.fnmatch_lines(["*where: notebooks/explore.ipynb:cell 3:line 1"])
    result.stdout.fnmatch_lines(["*revision 'abc1234' looks like a commit but is not 40 lowercase hex characters*"])


@pytest.mark.parametrize("xdist_args", [[], ["-n", "2"]], ids=["serial", "xdist-2"])
def test_items_one_per_file_and_rule(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    shutil.copytree(PROJECT, pytester.path, dirs_exist_ok=True)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q", *xdist_args[:0])
    collected = {line for line in result.outlines if line.startswith("aisupply::")}
    assert collected == {
        "aisupply::pinned-revision::notebooks/explore.ipynb",
        "aisupply::pinned-revision::src/broken.py",
        "aisupply::pinned-revision::src/hub_downloads.py",
        "aisupply::pinned-revision::src/other_loaders.py",
        "aisupply::pinned-revision::src/train_transformers.py",
        "aisupply::remote-code::src/broken.py",
        "aisupply::remote-code::src/other_loaders.py",
        "aisupply::remote-code::src/train_transformers.py",
        "aisupply::unsafe-load::notebooks/explore.ipynb",
        "aisupply::unsafe-load::src/broken.py",
        "aisupply::unsafe-load::src/loading.py",
        "aisupply::unsafe-load::src/train_transformers.py",
    }
    run = pytester.runpytest_subprocess("-p", "no:cacheprovider", *xdist_args)
    run.assert_outcomes(failed=12)


def test_waiver_by_path_and_line(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        "[tool.aisupply]\nlockfile = ''\n[[tool.aisupply.waive]]\nrule = 'unsafe-load'\npath = 'load.py'\nline = 2\n"
        "reason = 'trusted internal cache'\n"
    )
    (pytester.path / "load.py").write_text("import joblib\njoblib.load('a')\njoblib.load('b')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]aisupply[]] unsafe-load: load.py: 1 finding", "*where: load.py:3:1"])
    (pytester.path / "load.py").write_text("import joblib\njoblib.load('a')\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_unparseable_file_is_a_finding(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\nlockfile = ''\n")
    (pytester.path / "bad.py").write_text("def f(:\n")
    (pytester.path / "bad.ipynb").write_text("{not json")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=6)
    result.stdout.fnmatch_lines(["*found: cannot be checked: does not parse as Python (line 1)*"])
    result.stdout.fnmatch_lines(["*found: cannot be checked: notebook is not valid JSON*"])


def test_notebook_magics_keep_line_numbers(tmp_path: Path) -> None:
    notebook = tmp_path / "n.ipynb"
    cell = {"cell_type": "code", "source": "%load_ext autoreload\n!pip list\nx = 1\n", "metadata": {}, "outputs": []}
    notebook.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": "hi"}, cell]}))
    source = read_source(notebook)
    assert source.error is None
    assert source.text.splitlines() == ["", "", "x = 1"]
    assert source.place(3) == "cell 2:line 3"


def test_values_resolve_through_scopes_and_fstrings() -> None:
    code = (
        "from transformers import AutoModel\n"
        "SHA = 'a' * 40\n"
        "BASE = 'org'\n"
        "def f():\n"
        "    name = f'{BASE}/m'\n"
        "    return AutoModel.from_pretrained(name, revision=SHA)\n"
    )
    (reference,) = extract(code, "x.py").references
    assert reference.repo_id == "org/m"
    assert not isinstance(reference.revision, str)  # 'a' * 40 is an expression: not resolved
    assert reference.revision is not None


def test_code_is_never_executed(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\nlockfile = ''\n")
    (pytester.path / "evil.py").write_text("open('EXECUTED', 'w').close()\nimport torch\ntorch.load('x')\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(failed=1)
    assert not (pytester.path / "EXECUTED").exists()
