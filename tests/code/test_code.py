"""Code rules on a fixture project whose expected verdicts are written next to each call."""

from __future__ import annotations

import ast
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pytest_aisupply.code.cell_syntax import (
    BUILTIN_LINE_MAGICS,
    CellSyntaxError,
    builtin_transform,
    ipython_line_magics,
    ipython_transform,
)
from pytest_aisupply.code.references import extract
from pytest_aisupply.code.sources import read_source
from pytest_aisupply.formats import builtin_readers
from pytest_aisupply.rules import builtin_rules
from pytest_aisupply.settings.config import load_settings
from pytest_aisupply.verdicts.engine import Engine

PROJECT = Path(__file__).parent.parent / "data" / "code_project"
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
        "aisupply::pinned-revision::src/flow_and_paths.py",
        "aisupply::pinned-revision::src/hub_downloads.py",
        "aisupply::pinned-revision::src/more_loaders.py",
        "aisupply::pinned-revision::src/other_loaders.py",
        "aisupply::pinned-revision::src/reload_model.py",
        "aisupply::pinned-revision::src/train_transformers.py",
        "aisupply::remote-code::src/broken.py",
        "aisupply::remote-code::src/more_loaders.py",
        "aisupply::remote-code::src/other_loaders.py",
        "aisupply::remote-code::src/train_transformers.py",
        "aisupply::unsafe-load::notebooks/explore.ipynb",
        "aisupply::unsafe-load::src/broken.py",
        "aisupply::unsafe-load::src/flow_and_paths.py",
        "aisupply::unsafe-load::src/loading.py",
        "aisupply::unsafe-load::src/more_loaders.py",
        "aisupply::unsafe-load::src/train_transformers.py",
    }
    run = pytester.runpytest_subprocess("-p", "no:cacheprovider", *xdist_args)
    run.assert_outcomes(failed=18)


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
    assert source.text.splitlines() == [
        "get_ipython().run_line_magic('load_ext', 'autoreload')",
        "get_ipython().system('pip list')",
        "x = 1",
    ]
    assert source.place(3) == "cell 2:line 3"


# -- notebooks as IPython runs them -----------------------------------------------------------------

CORPUS = Path(__file__).parent.parent / "data" / "notebook_corpus"


def _corpus_cells() -> list[tuple[str, int, str]]:
    cells = []
    for path in sorted(CORPUS.glob("*.ipynb")):
        for number, cell in enumerate(json.loads(path.read_text())["cells"], start=1):
            if cell["cell_type"] == "code":
                cells.append((path.name, number, "".join(cell["source"])))
    return cells


def _prompts_read_the_older_way(cell: str) -> bool:
    """The built-in prompt stripping is IPython 9's, which also strips indented doctest prompts and
    leaves docstrings alone; older IPython strips ``>>>`` at the start of a line only."""
    from IPython.core.inputtransformer2 import classic_prompt

    return not getattr(classic_prompt, "doctest", False) and (">>>" in cell or "..." in cell)


def _skip_prompts_on_older_ipython(cell: str) -> None:
    if _prompts_read_the_older_way(cell):
        pytest.skip("this IPython strips pasted prompts the older way")


def test_builtin_magic_names_match_ipython() -> None:
    pytest.importorskip("IPython")
    assert ipython_line_magics() == BUILTIN_LINE_MAGICS


@pytest.mark.parametrize(("notebook", "number", "cell"), _corpus_cells(), ids=lambda value: str(value)[:30])
def test_builtin_transformation_agrees_with_ipython(notebook: str, number: int, cell: str) -> None:
    pytest.importorskip("IPython")
    from IPython.core.inputtransformer2 import TransformerManager

    _skip_prompts_on_older_ipython(cell)
    ours = ipython_transform(cell)
    assert builtin_transform(cell) == ours
    assert len(ours) == max(len(cell.splitlines()), 1)  # one line per cell line: places stay exact
    if cell.lstrip().startswith("%%"):
        return  # cell magics: the Python body is kept (checked in test_cell_magic_bodies_are_python)
    theirs = TransformerManager().transform_cell(cell)  # type: ignore[no-untyped-call]
    try:
        same = ast.dump(ast.parse("\n".join(ours))) == ast.dump(ast.parse(theirs))
    except SyntaxError:
        same = False
    automagic = len(theirs.splitlines()) == 1 and "run_line_magic" in "".join(ours)
    assert same or automagic, (ours, theirs)


def test_no_corpus_notebook_is_unparseable() -> None:
    notebooks = sorted(CORPUS.glob("*.ipynb"))
    assert len(notebooks) >= 2
    for notebook in notebooks:
        source = read_source(notebook)
        assert source.error is None
        assert extract(source.text, str(notebook)).error is None, notebook.name


def test_no_corpus_notebook_is_unparseable_without_ipython(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_aisupply.code.cell_syntax as cell_syntax

    def no_ipython(cell: str, shadowed: object = ()) -> list[str]:
        raise ImportError("IPython is not installed")

    monkeypatch.setattr(cell_syntax, "ipython_transform", no_ipython)
    for notebook in sorted(CORPUS.glob("*.ipynb")):
        source = read_source(notebook)
        assert extract(source.text, str(notebook)).error is None, notebook.name


def test_cell_magic_bodies_are_python_and_places_are_exact() -> None:
    assert builtin_transform("%%time\nfrom transformers import AutoModel\nm = AutoModel.from_pretrained('o/m')\n") == [
        "",
        "from transformers import AutoModel",
        "m = AutoModel.from_pretrained('o/m')",
    ]
    assert builtin_transform("%%bash\npython -c 'import x'\n") == ["", ""]
    assert builtin_transform("!pip install a \\\n    b\nimport c\n") == [
        "get_ipython().system('pip install a      b')",
        "",
        "import c",
    ]
    assert builtin_transform("if x:\n    !ls\n") == ["if x:", "    get_ipython().system('ls')"]
    assert builtin_transform("pip install peft") == ["get_ipython().run_line_magic('pip', 'install peft')"]
    assert builtin_transform("pip install peft", shadowed={"pip"}) == ["pip install peft"]
    assert builtin_transform("# setup\npip install peft") == ["# setup", "pip install peft"]  # IPython fails too


def test_notebook_findings_point_at_cell_lines(tmp_path: Path) -> None:
    cells = [
        "pip install -q transformers",
        "!pip install a \\\n  b\nfrom transformers import AutoModel\nm = AutoModel.from_pretrained('org/a')",
        "%%time\nimport torch\nstate = torch.load('w.pt')",
    ]
    notebook = tmp_path / "n.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "source": cell} for cell in cells]}))
    source = read_source(notebook)
    facts = extract(source.text, str(notebook))
    assert facts.error is None
    assert [source.place(ref.line) for ref in facts.references] == ["cell 2:line 4"]
    assert [source.place(load.line) for load in facts.unsafe_loads] == ["cell 3:line 3"]


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


# -- what a project declares, messages ------------------------------------------------------------

_DECLARED_CODE = """\
import argparse
from transformers import AutoModel
from mypkg.hub import pinned_revision

SHA = "0123456789abcdef0123456789abcdef01234567"


def export(ckpt_root):
    return AutoModel.from_pretrained(ckpt_root)


def load(name):
    return AutoModel.from_pretrained(name, revision=pinned_revision(name))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="org/model")
    parser.add_argument("--revision", default=SHA)
    args = parser.parse_args()
    return AutoModel.from_pretrained(args.model, revision=args.revision)
"""


def _findings(root: Path) -> list[tuple[str, str | None, str]]:
    engine = Engine(load_settings(root / "pyproject.toml", root), builtin_rules(), builtin_readers())
    found = []
    for rule, subjects in engine.subjects():
        if rule.id in CODE_RULES:
            for subject in subjects:
                found += [(f.rule, f.where, f.message) for f in engine.evaluate(rule.id, subject).findings]
    return sorted(found, key=lambda item: (item[1] or "", item[0]))


def test_declarations_are_fail_closed_by_default(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.aisupply]\nlockfile = ''\n")
    (tmp_path / "train.py").write_text(_DECLARED_CODE)
    not_constant = "transformers.AutoModel.from_pretrained(a repo id that is not a constant): "
    assert [(where, message) for _, where, message in _findings(tmp_path)] == [
        ("train.py:13:12", not_constant + "revision cannot be verified statically (it is not a constant)"),
        ("train.py:21:12", not_constant + "revision cannot be verified statically (it is not a constant)"),
        (
            "train.py:9:12",
            not_constant + "no revision: it loads whatever the default branch holds at run time; "
            "the repo id cannot be verified statically either",
        ),
    ]


def test_declared_local_names_pinning_functions_and_argparse_defaults_pass(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.aisupply]\nlockfile = ''\nlocal_path_names = ['ckpt_root']\n"
        "pinning_functions = ['mypkg.hub.pinned_revision']\nargparse_defaults = true\n"
    )
    (tmp_path / "train.py").write_text(_DECLARED_CODE)
    assert _findings(tmp_path) == []
    (tmp_path / "train.py").write_text(_DECLARED_CODE.replace("default=SHA", 'default="main"'))
    assert [message for _, _, message in _findings(tmp_path)] == [
        "transformers.AutoModel.from_pretrained('org/model'): revision 'main' is a branch or tag, which can move"
    ]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("local_path_names = ['a-b']", "local_path_names: bad name 'a-b'"),
        ("pinning_functions = 'x'", "pinning_functions"),
        ("argparse_defaults = 'yes'", "argparse_defaults: expected true or false"),
    ],
)
def test_bad_declarations_name_the_key(tmp_path: Path, line: str, error: str) -> None:
    from pytest_aisupply.settings.config import ConfigError

    (tmp_path / "pyproject.toml").write_text(f"[tool.aisupply]\nlockfile = ''\n{line}\n")
    with pytest.raises(ConfigError, match=re.escape(error)):
        load_settings(tmp_path / "pyproject.toml", tmp_path)


def test_messages_name_the_repo_that_is_loaded(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.aisupply]\nlockfile = ''\n")
    (tmp_path / "app.py").write_text(
        "import timm, torch\nfrom sentence_transformers import SentenceTransformer\n"
        "SentenceTransformer('all-MiniLM-L6-v2')\n"
        "timm.create_model('hf-hub:timm/resnet50.a1_in1k', pretrained=True)\n"
        "def f(p, **kw):\n    return torch.load(p, **kw)\n"
        "URL = 'https://huggingface.co/org/m/resolve/main/config.json'\n"
    )
    engine = Engine(load_settings(tmp_path / "pyproject.toml", tmp_path), builtin_rules(), builtin_readers())
    fixes = {}
    for rule, subjects in engine.subjects():
        for subject in subjects:
            for finding in engine.evaluate(rule.id, subject).findings:
                fixes[finding.where] = (finding.message, finding.fix)
    assert fixes["app.py:3:1"][0].startswith(
        "sentence_transformers.SentenceTransformer('sentence-transformers/all-MiniLM-L6-v2'): no revision"
    )
    assert "repo_info('sentence-transformers/all-MiniLM-L6-v2')" in fixes["app.py:3:1"][1]
    assert fixes["app.py:4:1"][1] == (
        "use 'hf-hub:timm/resnet50.a1_in1k@<40-hex commit sha>' (timm downloads at the revision after '@')"
    )
    assert fixes["app.py:6:12"][0] == (
        "torch.load: weights_only cannot be verified statically (it may come in through **kwargs)"
    )
    assert "revision 'main'" in fixes["app.py:7:7"][0]
    assert "resolve/<40-hex commit sha>/" in fixes["app.py:7:7"][1]


def test_notebook_findings_carry_the_ipynb_line(tmp_path: Path) -> None:
    """The finding's line (SARIF region, waiver ``line``) is the line of the .ipynb that holds the cell line."""
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Title\n", "text"]},
        {
            "cell_type": "code",
            "metadata": {"tags": ["source"]},
            "outputs": [],
            "source": ["%%time\n", "from transformers import AutoModel\n", "m = AutoModel.from_pretrained('org/a')"],
        },
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": "import torch\ntorch.load('w.pt')"},
    ]
    (tmp_path / "pyproject.toml").write_text("[tool.aisupply]\nlockfile = ''\n")
    notebook = tmp_path / "n.ipynb"
    text = json.dumps({"metadata": {"source": "x"}, "cells": cells, "nbformat": 4}, indent=1)
    notebook.write_text(text)
    lines = text.splitlines()
    engine = Engine(load_settings(tmp_path / "pyproject.toml", tmp_path), builtin_rules(), builtin_readers())
    found = {}
    for rule, subjects in engine.subjects():
        for subject in subjects:
            for finding in engine.evaluate(rule.id, subject).findings:
                found[finding.where] = finding.line
    pinned_line = found["n.ipynb:cell 2:line 3"]
    assert pinned_line is not None
    assert "m = AutoModel.from_pretrained('org/a')" in lines[pinned_line - 1]
    load_line = found["n.ipynb:cell 3:line 2"]
    assert load_line is not None
    assert "torch.load('w.pt')" in lines[load_line - 1]  # a one-string source: its only line


_CELL_PIECES = (
    "!ls", "!!ls", "%time x", "%%time", "%%bash", "x = !ls", "y = %env", "obj?", "obj??", "?obj", "pip install x",
    "ls -la", "x = 1", "if x:", "    !echo hi", "    y = 2", "'''", '"""', "s = '''a", "b'''", "f(", ")", "\\",
    "!a \\", "  b", "# c?", "print('?')", "a = b == c", "x = (1,", " 2)", "", "   ", "%pip install a \\", ",f a b",
    ";f a b", "/f a b", "d = {'a': !x}", "x = % time", "lambda a=!b: 1", "x=!ls", "\u00e9 = 1", "\t!ls", "class A:",
    "  def f(self):", "    %time 1", "'unterminated", "x = 'it''s'", "%%capture out", "a?b", "x = y?",
    "for i in []: !echo", "!echo {x} \\", "    more", "x? # q", "[1,", "obj?  ",
    # pasted prompts: the Python shell's and doctests' (indented, around docstrings), and IPython's
    ">>> x = 1", "... y = 2", "    >>> f(", ">>>", "...", '>>> s = """', "r'''", "   >>>x", "\t>>> t", ">>> if x:",
    "...     !ls", "In [1]: !ls", "   ...: z = 3", "In [12]: %time 1", "[ins] In [3]: x", "...: q", "# >>> c",
)  # fmt: skip


def _read_or_none(transform: Callable[[str], list[str]], cell: str) -> list[str] | None:
    try:
        return transform(cell)
    except CellSyntaxError:
        return None


def _parses(lines: list[str] | None) -> bool:
    if lines is None:
        return False
    try:
        ast.parse("\n".join(lines))
    except SyntaxError:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_CELL_PIECES), min_size=1, max_size=6), st.booleans())
def test_builtin_and_ipython_agree_on_mixed_cells(pieces: list[str], trailing_newline: bool) -> None:
    """On cells mixing IPython syntax, strings, brackets and bad indentation, the two transformers give
    the same Python, or neither gives Python that parses (IPython would not run the cell either)."""
    pytest.importorskip("IPython")
    cell = "\n".join(pieces) + ("\n" if trailing_newline else "")
    assume(not _prompts_read_the_older_way(cell))
    ours = _read_or_none(ipython_transform, cell)
    builtin = _read_or_none(builtin_transform, cell)
    assert ours == builtin or not (_parses(ours) or _parses(builtin)), (cell, ours, builtin)


def test_metric_scripts_from_the_hub_are_remote_code(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.aisupply]\ncode = ["."]\nlockfile = ""\n')
    (tmp_path / "metrics.py").write_text(
        "import evaluate\n"
        "from datasets import load_metric\n"
        f"evaluate.load('exact_match', module_type='comparison', revision='{'a' * 40}')\n"
        "load_metric('glue', 'mrpc')\n"
        "evaluate.load('metrics/local_metric.py')\n"
    )
    engine = Engine(load_settings(tmp_path / "pyproject.toml", tmp_path), builtin_rules(), builtin_readers())
    messages = [
        (finding.where, finding.message)
        for rule, subjects in engine.subjects()
        if rule.id == "remote-code"
        for subject in subjects
        for finding in engine.evaluate(rule.id, subject).findings
    ]
    assert messages == [
        (
            "metrics.py:3:1",
            "evaluate.load('evaluate-comparison/exact_match'): runs the repo's Python script, "
            "and the repo is not in trust_remote_code",
        ),
        (
            "metrics.py:4:1",
            "datasets.load_metric('glue'): runs the repo's Python script, and the repo is not in trust_remote_code",
        ),
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            'torch.load("m.pt")',
            "torch.load without weights_only=True unpickles arbitrary objects on torch < 2.6 "
            "or with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD set",
        ),
        (
            'torch.load("m.pt", pickle_module=pickle)',
            "torch.load without weights_only=True (with pickle_module given, weights_only defaults to False) "
            "unpickles arbitrary objects",
        ),
        ('torch.load("m.pt", weights_only=False)', "torch.load weights_only=False unpickles arbitrary objects"),
        (
            'torch.hub.load_state_dict_from_url("https://example.com/r.pth")',
            "torch.hub.load_state_dict_from_url without weights_only=True (its weights_only defaults to False) "
            "unpickles arbitrary objects",
        ),
    ],
)
def test_torch_load_message_says_when_it_unpickles(tmp_path: Path, call: str, message: str) -> None:
    """torch.load defaults to weights_only=True from torch 2.6 (unless pickle_module is given or
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set): the finding says under which conditions it unpickles."""
    (tmp_path / "pyproject.toml").write_text("[tool.aisupply]\ncode = ['.']\nartifacts = []\n")
    (tmp_path / "train.py").write_text(f"import pickle\nimport torch\n\nstate = {call}\n")
    engine = Engine(load_settings(tmp_path / "pyproject.toml", tmp_path), builtin_rules(), builtin_readers())
    rule = engine.rules["unsafe-load"]
    messages = [f.message for s in engine.subjects_of(rule) for f in engine.evaluate(rule.id, s).findings]
    assert messages == [message]
