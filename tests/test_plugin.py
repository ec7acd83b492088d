"""The plugin as a user sees it: real pytest runs through pytester on real artifact files."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import re
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

# Heavy libraries are imported when this module is collected: pytester restores sys.modules
# after every test, and importing torch a second time in one process crashes it.
try:
    import torch as _torch
except ImportError:  # pragma: no cover - CI installs torch
    _torch = None  # type: ignore[assignment]
try:
    import sklearn.linear_model as _sklearn_linear
except ImportError:  # pragma: no cover
    _sklearn_linear = None  # type: ignore[assignment]
import joblib


def need_torch() -> Any:
    if _torch is None:
        pytest.skip("real PyTorch checkpoints need torch (installed by .ci/run)")
    return _torch


class LeavesTrace:
    """Unpickling this would create the file named by ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({self.marker!r}, 'w').write('executed')",))


def build_acceptance_repo(root: Path, marker: Path) -> None:
    """The acceptance repository of the foundation issue: misleading names everywhere."""
    torch = need_torch()
    models = root / "models"
    models.mkdir()
    (models / "weights.safetensors").write_bytes(pickle.dumps(LeavesTrace(marker)))
    torch.save(torch.nn.Linear(4, 2).state_dict(), models / "model.bin")
    buffer = io.BytesIO()
    joblib.dump({"x": np.arange(10)}, buffer)
    (models / "data.csv.gz").write_bytes(gzip.compress(buffer.getvalue()))
    np.save(models / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(models / "bundle.zip", "w") as archive:
        archive.writestr("config.json", pickle.dumps(LeavesTrace(marker), protocol=2))
    with tarfile.open(models / "archive.tar", "w") as archive:
        payload = pickle.dumps(LeavesTrace(marker), protocol=0)
        info = tarfile.TarInfo("inner/state")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    save_file({"w": np.zeros((2, 3), np.float32)}, str(models / "good.safetensors"))
    np.save(models / "numbers.npy", np.arange(12, dtype=np.int64))
    np.savez(models / "numbers.npz", a=np.ones(3), b=np.zeros(2))
    (models / "config.json").write_text('{"hidden": 3}')
    (models / "README.md").write_text("# model card\n")
    good = (models / "good.safetensors").read_bytes()
    (models / "broken.safetensors").write_bytes(b"\xff\xff\x00\x00\x00\x00\x00\x00" + good[8:])


EXPECTED_FAILURES = {
    "aisupply::no-pickle::models/archive.tar",
    "aisupply::no-pickle::models/bundle.zip",
    "aisupply::no-pickle::models/data.csv.gz",
    "aisupply::no-pickle::models/model.bin",
    "aisupply::no-pickle::models/objects.npy",
    "aisupply::no-pickle::models/weights.safetensors",
    "aisupply::safetensors::models/broken.safetensors",
    "aisupply::safetensors::models/weights.safetensors",
}
EXPECTED_PASSES = {
    "aisupply::no-pickle::models/broken.safetensors",
    "aisupply::no-pickle::models/good.safetensors",
    "aisupply::no-pickle::models/numbers.npy",
    "aisupply::no-pickle::models/numbers.npz",
    "aisupply::safetensors::models/good.safetensors",
}


@pytest.fixture
def acceptance_repo(pytester: pytest.Pytester) -> Path:
    pytester.makepyprojecttoml("[tool.aisupply]\nlockfile = ''\n")
    pytester.makepyfile(test_app="def test_app():\n    assert True\n")
    marker = pytester.path / "EXECUTED"
    build_acceptance_repo(pytester.path, marker)
    return marker


_SERIAL_LINE = re.compile(r"^(\S+) (PASSED|FAILED|ERROR|SKIPPED)\b")
_XDIST_LINE = re.compile(r"^\[gw\d+\] \[\s*\d+%\] (PASSED|FAILED|ERROR|SKIPPED) (\S+)")


def outcomes_by_nodeid(result: pytest.RunResult) -> dict[str, str]:
    """Outcome per node id from ``-v`` output, serial or under xdist."""
    outcomes = {}
    for line in result.outlines:
        if match := _SERIAL_LINE.match(line):
            outcomes[match[1]] = match[2]
        elif match := _XDIST_LINE.match(line):
            outcomes[match[2]] = match[1]
    return outcomes


@pytest.mark.parametrize("xdist_args", [[], ["-n", "2"], ["-p", "no:xdist"]], ids=["serial", "xdist-2", "no-xdist"])
def test_acceptance_repo_outcomes(pytester: pytest.Pytester, acceptance_repo: Path, xdist_args: list[str]) -> None:
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider", *xdist_args)
    outcomes = outcomes_by_nodeid(result)
    assert {n for n, o in outcomes.items() if o == "FAILED"} == EXPECTED_FAILURES
    assert {n for n, o in outcomes.items() if o == "PASSED" and n.startswith("aisupply::")} == EXPECTED_PASSES
    result.assert_outcomes(passed=len(EXPECTED_PASSES) + 1, failed=len(EXPECTED_FAILURES))
    assert not acceptance_repo.exists(), "a payload was executed during the scan"
    assert "PluginValidationError" not in result.stderr.str()


def test_failure_messages_say_what_where_and_how_to_fix(pytester: pytest.Pytester, acceptance_repo: Path) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        [
            "*[[]aisupply[]] no-pickle: models/model.bin (PyTorch zip checkpoint): 1 finding",
            "  - found: pickle stream (protocol 2)",
            "    where: model/data.pkl inside the zip",
            "    imports collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch.FloatStorage",
            "    fix:   convert the weights to safetensors*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*[[]aisupply[]] no-pickle: models/bundle.zip (zip): 1 finding",
            "*where: config.json inside the zip",
            "*imports builtins.exec",
        ]
    )
    result.stdout.fnmatch_lines(["*where: after gzip decompression", "*imports joblib.numpy_pickle.NumpyArrayWrapper*"])
    result.stdout.fnmatch_lines(["*data of an object array*", "*imports numpy*_reconstruct*"])
    result.stdout.fnmatch_lines(["*found: malformed header: header length 65535 points past the end of the file*"])
    result.stdout.fnmatch_lines(["*found: not a safetensors file: its content is raw pickle*"])
    assert "Traceback" not in result.stdout.str()
    assert "_pytest" not in result.stdout.str()
    assert not acceptance_repo.exists()


def test_summary_and_header(pytester: pytest.Pytester, acceptance_repo: Path) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        [
            "aisupply: pyproject.toml [[]tool.aisupply[]]; pickle=forbid",
            "*= aisupply =*",
            "13 checks: 5 passed, 8 failed",
            "artifacts by format: joblib (gzip) 1, numpy 1, numpy-npz 1, numpy-object 1, pickle 1, "
            "pytorch-zip 1, safetensors 2, tar 1, zip 1",
        ]
    )


@pytest.mark.parametrize("style", ["line", "short", "no", "long"])
def test_failure_output_under_every_traceback_style(pytester: pytest.Pytester, style: str) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\nlockfile = ''\n")
    (pytester.path / "evil.pkl").write_bytes(pickle.dumps(os.system))
    result = pytester.runpytest_subprocess(f"--tb={style}", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    assert "None" not in output
    assert "Traceback" not in output
    if style != "no":
        assert "imports posix.system" in output or "imports nt.system" in output


def test_project_without_table_sees_no_change(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[project]\nname = 'plain'\n")
    (pytester.path / "evil.pkl").write_bytes(pickle.dumps(os.system))
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert not [line for line in result.outlines if "aisupply" in line and not line.startswith("plugins:")]
    plain = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:aisupply")
    strip = [line for line in result.outlines if "plugins:" not in line and " in " not in line]
    strip_plain = [line for line in plain.outlines if "plugins:" not in line and " in " not in line]
    assert strip == strip_plain


def test_aisupply_flag_enables_checks_without_table(pytester: pytest.Pytester) -> None:
    (pytester.path / "evil.pkl").write_bytes(pickle.dumps(os.system))
    result = pytester.runpytest_subprocess("--aisupply", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)  # the pickle, and the lockfile that does not exist yet
    result.stdout.fnmatch_lines(["aisupply: defaults (--aisupply, no [[]tool.aisupply[]] table)*"])


def test_help_lists_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["AI/ML supply-chain checks*", "*--aisupply *", "*--no-aisupply*", "*--aisupply-only*"])


@pytest.fixture
def two_artifacts(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\nlockfile = ''\n")
    (pytester.path / "evil.pkl").write_bytes(pickle.dumps(os.system))
    save_file({"w": np.zeros(2, np.float32)}, str(pytester.path / "ok.safetensors"))
    pytester.makepyfile(test_app="def test_app(): pass")


@pytest.mark.usefixtures("two_artifacts")
@pytest.mark.parametrize(
    ("args", "outcomes", "deselected"),
    [
        (["--aisupply-only"], {"passed": 2, "failed": 1}, 0),  # test_app.py is not even collected
        (["--no-aisupply"], {"passed": 1}, 0),
        (["-p", "no:aisupply"], {"passed": 1}, 0),
        (["-m", "aisupply"], {"passed": 2, "failed": 1}, 1),
        (["-m", "not aisupply"], {"passed": 1}, 3),
        (["-k", "safetensors"], {"passed": 2}, 2),
        (["-k", "evil"], {"failed": 1}, 3),
        (["--deselect", "aisupply::no-pickle::evil.pkl"], {"passed": 3}, 1),
    ],
)
def test_selection(pytester: pytest.Pytester, args: list[str], outcomes: dict[str, int], deselected: int) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    result.assert_outcomes(**outcomes, deselected=deselected)


@pytest.mark.usefixtures("two_artifacts")
def test_node_id_arguments_run_only_those_tests(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_app.py::test_app")
    result.assert_outcomes(passed=1)


def test_checks_appear_in_junit_xml(pytester: pytest.Pytester, two_artifacts: None) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--junitxml=report.xml")
    result.assert_outcomes(passed=3, failed=1)
    xml = (pytester.path / "report.xml").read_text()
    assert 'name="evil.pkl"' in xml
    assert "imports posix.system" in xml or "imports nt.system" in xml
    assert xml.count("<testcase") == 4


def test_aisupply_only_conflicts_with_no_aisupply(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--aisupply-only", "--no-aisupply")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--aisupply-only and --no-aisupply cannot be used together" in result.stderr.str()


def waiver_project(pytester: pytest.Pytester, extra: str) -> Path:
    torch = need_torch()
    target = pytester.path / "legacy" / "old_model.pt"
    target.parent.mkdir()
    torch.save({"w": torch.zeros(2)}, target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    pytester.makepyprojecttoml(
        "[tool.aisupply]\nlockfile = ''\n\n[[tool.aisupply.waive]]\nrule = 'no-pickle'\npath = 'legacy/*.pt'\n"
        f"reason = 'vendor model, replaced by Q3'\n{extra.format(sha256=digest)}\n"
    )
    return target


def test_waiver_with_matching_sha256_passes_and_is_reported(pytester: pytest.Pytester) -> None:
    waiver_project(pytester, "sha256 = '{sha256}'\nexpires = 2999-12-31")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["1 check: 1 waived", "waived: no-pickle::legacy/old_model.pt (vendor model, replaced by Q3)"]
    )


def test_waiver_stops_applying_when_the_file_changes(pytester: pytest.Pytester) -> None:
    target = waiver_project(pytester, "sha256 = '{sha256}'")
    torch = need_torch()
    torch.save({"w": torch.ones(2)}, target)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*note: waiver for no-pickle on 'legacy/*.pt' (pyproject.toml:4) no longer applies: "
            "the file changed (sha256 *"
        ]
    )


def test_expired_waiver_fails_and_says_so(pytester: pytest.Pytester) -> None:
    waiver_project(pytester, "expires = 2001-01-01")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*note: waiver for no-pickle on 'legacy/*.pt' (pyproject.toml:4) expired on 2001-01-01*"]
    )


def test_rule_set_to_warn_passes_with_a_warning(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\nlockfile = ''\n[tool.aisupply.rules]\nno-pickle = 'warn'\n")
    (pytester.path / "evil.pkl").write_bytes(pickle.dumps(os.system))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*AisupplyWarning: [[]aisupply[]] no-pickle: evil.pkl (raw pickle): 1 finding", "1 check: 1 warned"]
    )
    result.stdout.fnmatch_lines(["aisupply::no-pickle::evil.pkl", "  evil.pkl:1: AisupplyWarning: *"])
    assert "items.py" not in result.stdout.str()


def test_warn_on_code_points_at_the_code_line(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        "[tool.aisupply]\nlockfile = ''\ncode = ['src']\n[tool.aisupply.rules]\npinned-revision = 'warn'\n"
    )
    src = pytester.mkdir("src")
    (src / "app.py").write_text("from transformers import AutoModel\n\nAutoModel.from_pretrained('org/a')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "pinned")
    result.stdout.fnmatch_lines(["  src/app.py:3: AisupplyWarning: *", "    AutoModel.from_pretrained('org/a')"])
    assert "items.py" not in result.stdout.str()


def test_summary_sections_are_coloured_under_color_yes(pytester: pytest.Pytester, two_artifacts: None) -> None:
    coloured = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--color=yes", "--aisupply-sarif=out.sarif")
    text = coloured.stdout.str()
    section = text[text.index(" aisupply ") - 40 :]
    assert "\x1b[31m" in section  # red: a check failed
    assert "\x1b[31m1 failed" in section
    assert "\x1b[32m2 passed" in section
    plain = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--color=no")
    assert "\x1b[" not in plain.stdout.str()
    plain.stdout.fnmatch_lines(["3 checks: 2 passed, 1 failed"])


def test_rule_set_to_off_collects_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        "[tool.aisupply]\nlockfile = ''\n[tool.aisupply.rules]\nno-pickle = 'off'\nsafetensors = 'off'\n"
    )
    (pytester.path / "evil.pkl").write_bytes(pickle.dumps(os.system))
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


MODEL_CARD_CONFTEST = """
from pytest_aisupply import Finding, Subject


class ModelCardRule:
    id = "model-card"
    summary = "every folder holding a model has a README.md model card"

    def subjects(self, inventory):
        folders = sorted({a.path.parent for a in inventory.artifacts})
        for folder in folders:
            rel = folder.relative_to(inventory.root).as_posix()
            yield Subject(rel, folder, kind="folder")

    def check(self, subject, inventory):
        if not (subject.path / "README.md").is_file():
            yield Finding(self.id, subject.id, "no README.md model card", "write a model card (README.md)")


def pytest_aisupply_rules():
    return [ModelCardRule()]
"""


@pytest.fixture
def model_folders(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(MODEL_CARD_CONFTEST)
    for name, card in (("bert", True), ("gpt", False)):
        folder = pytester.mkdir(name)
        save_file({"w": np.zeros(2, np.float32)}, str(folder / "model.safetensors"))
        if card:
            (folder / "README.md").write_text("---\nlicense: mit\n---\n")


@pytest.mark.usefixtures("model_folders")
@pytest.mark.parametrize("xdist_args", [[], ["-n", "2"]], ids=["serial", "xdist-2"])
def test_project_rule_from_conftest_gets_items(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\nlockfile = ''\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", *xdist_args)
    result.assert_outcomes(passed=6, failed=1)  # bert also gets a license item: its card declares one
    assert outcomes_by_nodeid(result)["aisupply::model-card::gpt"] == "FAILED"
    result.stdout.fnmatch_lines(["*found: no README.md model card", "*fix:   write a model card (README.md)"])


@pytest.mark.usefixtures("model_folders")
def test_project_rule_can_be_waived_and_set_to_warn(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        "[tool.aisupply]\nlockfile = ''\n"
        "[[tool.aisupply.waive]]\nrule = 'model-card'\npath = 'gpt'\nreason = 'card in review'\n"
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=7)
    pytester.makepyprojecttoml("[tool.aisupply]\nlockfile = ''\n[tool.aisupply.rules]\nmodel-card = 'warn'\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7, warnings=1)


def test_project_reader_from_conftest_is_used(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
class PteReader:
    name = "executorch"
    artifact = True

    def sniff(self, head, size):
        return head[4:8] == b"ET12"

    def read(self, raw, size, ctx):
        ctx.add_problem("ExecuTorch programs are not inspected yet")


def pytest_aisupply_readers():
    return [PteReader()]
"""
    )
    pytester.makepyprojecttoml("[tool.aisupply]\nlockfile = ''\n")
    (pytester.path / "model.pte").write_bytes(b"\x00\x00\x00\x00ET12" + bytes(64))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*no-pickle: model.pte (executorch)*", "*cannot be inspected: ExecuTorch programs are not inspected yet"]
    )


def build_scan_repo(root: Path, marker: Path) -> None:
    torch = need_torch()
    if _sklearn_linear is None:
        pytest.skip("scikit-learn is part of the test extra")
    LogisticRegression = _sklearn_linear.LogisticRegression

    models = root / "models"
    models.mkdir()
    torch.save(torch.nn.Linear(3, 2).state_dict(), models / "state_dict.pt")
    whole = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.LayerNorm(4))
    torch.save(whole, models / "whole_model.pt")
    arrays = {dtype: np.zeros(3, dtype=dtype) for dtype in ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "c8", "?")}
    for protocol in range(2, 6):
        (models / f"arrays-p{protocol}.pkl").write_bytes(pickle.dumps(arrays, protocol=protocol))
    classifier = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
    (models / "classifier.pkl").write_bytes(pickle.dumps(classifier))
    (models / "payload.pkl").write_bytes(pickle.dumps(LeavesTrace(marker)))
    (models / "getattr.pkl").write_bytes(pickle.dumps(getattr))


SCAN_FAILURES_DEFAULT = {"classifier.pkl", "payload.pkl", "getattr.pkl"}


@pytest.mark.parametrize(
    ("allowed", "failures"),
    [
        ("[]", SCAN_FAILURES_DEFAULT),
        ("['sklearn.*']", SCAN_FAILURES_DEFAULT - {"classifier.pkl"}),
        # a pattern never allows a callable that reaches arbitrary code; only its exact name does
        ("['sklearn.*', 'builtins.*']", {"payload.pkl", "getattr.pkl"}),
        ("['sklearn.*', 'builtins.getattr']", {"payload.pkl"}),
    ],
    ids=["default", "sklearn", "builtins-pattern", "exact-getattr"],
)
def test_scan_mode_allows_only_the_allowlist(pytester: pytest.Pytester, allowed: str, failures: set[str]) -> None:
    marker = pytester.path / "EXECUTED"
    build_scan_repo(pytester.path, marker)
    pytester.makepyprojecttoml(f"[tool.aisupply]\nlockfile = ''\npickle = 'scan'\npickle_allowed_globals = {allowed}\n")
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    outcomes = outcomes_by_nodeid(result)
    failed = {node.rsplit("/", 1)[1] for node, outcome in outcomes.items() if outcome == "FAILED"}
    assert failed == failures
    assert len(outcomes) == 9
    assert not marker.exists()
    if "payload.pkl" in failures:
        result.stdout.fnmatch_lines(["*imports outside the allowlist: builtins.exec (STACK_GLOBAL at offset *"])


def test_polyglots_whose_first_bytes_are_a_pickle_fail(pytester: pytest.Pytester) -> None:
    """A file that is also a valid GIF or tar must not hide the pickle that pickle.load would run."""
    marker = pytester.path / "EXECUTED"
    payload = b"cbuiltins\nexec\n(Vopen('EXECUTED', 'w')\ntR."  # relative: the run's cwd
    (pytester.path / "banner.gif").write_bytes(b"GIF89a\x00\x00\x00" + payload + bytes(64))
    with tarfile.open(pytester.path / "weights.tar", "w", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo(payload.decode())
        info.size = 3
        archive.addfile(info, io.BytesIO(b"abc"))
    pytester.makepyprojecttoml("[tool.aisupply]\nlockfile = ''\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    for kind in ("gif", "tar"):
        result.stdout.fnmatch_lines(
            [f"*the first bytes also form a pickle stream (a {kind} polyglot)", "*builtins.exec"]
        )
    assert not marker.exists()


# -- markers ----------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[1] / "docs"


def documented_markers() -> list[str]:
    return sorted(set(re.findall(r"@pytest\.mark\.(aisupply\w*)", (DOCS / "in-tests.md").read_text())))


def test_the_docs_name_every_marker() -> None:
    assert documented_markers() == [
        "aisupply",
        "aisupply_no_pickle",
        "aisupply_pinned",
        "aisupply_policy",
        "aisupply_verified",
    ]


@pytest.mark.parametrize(
    ("table", "args"),
    [("[tool.aisupply]\nlockfile = ''\n", []), ("", []), ("[tool.aisupply]\nlockfile = ''\n", ["--no-aisupply"])],
    ids=["checks-on", "no-table", "no-aisupply"],
)
def test_every_documented_marker_passes_strict_markers(pytester: pytest.Pytester, table: str, args: list[str]) -> None:
    pytester.makepyprojecttoml(f"[tool.pytest.ini_options]\naddopts = '--strict-markers'\n{table}")
    tests = ["import pytest\n"]
    for name in documented_markers():
        if name == "aisupply":
            continue  # the collected checks' marker; on a user test it is the deprecated policy spelling
        call = "(allowed_licenses=['mit'])" if name == "aisupply_policy" else ""
        tests.append(f"@pytest.mark.{name}{call}\ndef test_{name}():\n    pass\n")
    pytester.makepyfile(test_markers="\n\n".join(tests))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", *args)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(passed=4)
    assert "warning" not in result.stdout.str().lower()
    assert "error" not in result.stdout.str().lower()


@pytest.mark.parametrize("args", [[], ["--no-aisupply"]], ids=["default", "no-aisupply"])
def test_markers_lists_every_marker(pytester: pytest.Pytester, args: list[str]) -> None:
    result = pytester.runpytest_subprocess("--markers", *args)
    assert result.ret == pytest.ExitCode.OK
    for name in documented_markers():
        result.stdout.fnmatch_lines([f"@pytest.mark.{name}*: *"])


POLICY_TESTS = """
import pytest


@pytest.mark.aisupply_policy(allowed_licenses=["apache-2.0"])
def test_new_spelling(aisupply, tmp_path):
    (tmp_path / "README.md").write_text("---\\nlicense: mit\\n---\\n")
    aisupply.assert_license(tmp_path)


@pytest.mark.aisupply(allowed_licenses=["apache-2.0"])
def test_old_spelling(aisupply, tmp_path):
    (tmp_path / "README.md").write_text("---\\nlicense: mit\\n---\\n")
    aisupply.assert_license(tmp_path)
"""


@pytest.mark.usefixtures("two_artifacts")
def test_m_aisupply_selects_only_the_checks_and_the_old_policy_spelling_still_works(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_policy=POLICY_TESTS)
    selected = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "aisupply", "-v")
    selected.assert_outcomes(passed=2, failed=1, deselected=3)
    assert "test_policy.py" not in "\n".join(line for line in selected.outlines if "PASSED" in line or "FAILED" in line)

    users = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "not aisupply")
    users.assert_outcomes(passed=1, failed=2, deselected=3)  # the override applies in both spellings
    users.stdout.fnmatch_lines(["*license mit: not in allowed_licenses (allowed: apache-2.0)*"] * 2)
    users.stdout.fnmatch_lines(
        [
            "*AisupplyDeprecationWarning: @pytest.mark.aisupply(...) with policy overrides is deprecated: "
            "rename it to @pytest.mark.aisupply_policy(...)*"
        ]
    )
    assert users.stdout.str().count("AisupplyDeprecationWarning") == 1


# -- --aisupply-only and check ids as arguments -------------------------------------------------

BROKEN_SUITE = {
    "tests/conftest.py": "import package_the_ci_job_lacks\n",
    "tests/test_model.py": "import package_the_ci_job_lacks\n\ndef test_model():\n    pass\n",
    "tests/unit/conftest.py": "raise SystemExit('a conftest below the rootdir was imported')\n",
    "test_top.py": "import package_the_ci_job_lacks\n",
    "conftest.py": "import os\nos.environ['ROOT_CONFTEST_LOADED'] = '1'\n",
}


@pytest.fixture
def project_with_missing_test_dependencies(pytester: pytest.Pytester) -> Path:
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\ntestpaths = ['tests']\n\n[tool.aisupply]\nlockfile = ''\n")
    for name, text in BROKEN_SUITE.items():
        target = pytester.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (pytester.path / "models").mkdir()
    save_file({"w": np.zeros(2, np.float32)}, str(pytester.path / "models" / "ok.safetensors"))
    return pytester.path


@pytest.mark.parametrize("xdist_args", [[], ["-n", "2"]], ids=["serial", "xdist-2"])
def test_aisupply_only_imports_no_test_module(
    pytester: pytest.Pytester, project_with_missing_test_dependencies: Path, xdist_args: list[str]
) -> None:
    import json

    root = project_with_missing_test_dependencies
    baseline = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert baseline.ret == pytest.ExitCode.USAGE_ERROR  # the suite itself needs the missing package
    assert "No module named 'package_the_ci_job_lacks'" in baseline.stderr.str()

    clean = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--aisupply-only", "--aisupply-sarif=out.sarif", *xdist_args
    )
    assert clean.ret == pytest.ExitCode.OK, clean.stdout.str()
    clean.assert_outcomes(passed=2)
    assert "package_the_ci_job_lacks" not in clean.stdout.str() + clean.stderr.str()

    given_paths = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--aisupply-only", "tests", "test_top.py")
    assert given_paths.ret == pytest.ExitCode.OK, given_paths.stdout.str() + given_paths.stderr.str()
    given_paths.assert_outcomes(passed=2)

    (root / "models" / "evil.pkl").write_bytes(pickle.dumps(os.system))
    failing = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--aisupply-only", "--aisupply-sarif=out.sarif", *xdist_args
    )
    assert failing.ret == pytest.ExitCode.TESTS_FAILED
    failing.assert_outcomes(passed=2, failed=1)
    sarif = json.loads((root / "out.sarif").read_text())
    assert [result["ruleId"] for result in sarif["runs"][0]["results"]] == ["no-pickle"]
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is True


@pytest.mark.usefixtures("model_folders")
def test_aisupply_only_still_loads_the_rootdir_conftest(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\nlockfile = ''\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--aisupply-only", "-v")
    assert outcomes_by_nodeid(result)["aisupply::model-card::gpt"] == "FAILED"


@pytest.mark.usefixtures("two_artifacts")
def test_a_copied_check_id_selects_that_check(pytester: pytest.Pytester) -> None:
    failed = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf")
    failed.stdout.fnmatch_lines(["FAILED aisupply::no-pickle::evil.pkl - *"])

    one = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "aisupply::no-pickle::evil.pkl")
    one.assert_outcomes(failed=1)
    one.stdout.fnmatch_lines(["aisupply::no-pickle::evil.pkl FAILED*"])

    rule = pytester.runpytest_subprocess("-p", "no:cacheprovider", "aisupply::no-pickle")
    rule.assert_outcomes(passed=1, failed=1)

    with_a_test = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "aisupply::no-pickle::evil.pkl", "test_app.py"
    )
    with_a_test.assert_outcomes(passed=1, failed=1)


@pytest.mark.usefixtures("two_artifacts")
def test_the_relative_check_id_pytest_prints_selects_that_check(pytester: pytest.Pytester) -> None:
    sub = pytester.path / "sub"
    sub.mkdir()
    (pytester.path / "pytest.ini").write_text("[pytest]\n")
    os.chdir(sub)
    failed = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf", "--rootdir", str(pytester.path))
    failed.stdout.fnmatch_lines(["FAILED ../aisupply::no-pickle::evil.pkl - *"])
    one = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "../aisupply::no-pickle::evil.pkl")
    one.assert_outcomes(failed=1)


@pytest.mark.parametrize("args", [["--aisupply"], []], ids=["checks-on-at-the-rootdir", "checks-off-at-the-rootdir"])
def test_a_check_id_of_another_project_says_where_to_run_it(pytester: pytest.Pytester, args: list[str]) -> None:
    demo = pytester.path / "examples" / "demo"
    demo.mkdir(parents=True)
    (demo / "pyproject.toml").write_text("[tool.aisupply]\nlockfile = ''\n")
    (demo / "evil.pkl").write_bytes(pickle.dumps(os.system))
    pytester.makeini("[pytest]\n")
    result = pytester.runpytest_subprocess(*args, "examples/demo/aisupply::no-pickle::evil.pkl")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: examples/demo/aisupply::no-pickle::evil.pkl is a check of the project in examples/demo, *"
            "run it from there: cd examples/demo && pytest aisupply::no-pickle::evil.pkl"
        ]
    )


def test_summary_counts_inline_ignores(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\nlockfile = ''\ncode = ['src']\n")
    src = pytester.mkdir("src")
    (src / "app.py").write_text(
        "from transformers import AutoModel\n\n"
        "AutoModel.from_pretrained('org/a')  # aisupply: ignore[pinned-revision] mirrored internally, pinned by hash\n"
        "AutoModel.from_pretrained('org/b')  # aisupply: ignore[pinned-revision] same mirror\n"
        "AutoModel.from_pretrained('org/c', trust_remote_code=True)"
        "  # aisupply: ignore[remote-code, pinned-revision] ours\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "pinned or remote")
    result.stdout.fnmatch_lines(
        [
            "inline ignores: 4 call sites skipped by '# aisupply: ignore[[]...[]]' comments "
            "(pinned-revision 3, remote-code 1)"
        ]
    )
