"""The pre-commit hook (.pre-commit-hooks.yaml) and the GitHub Action (action.yml), tested by
running what they run in a project whose test suite cannot even be imported here."""

from __future__ import annotations

import json
import os
import pickle
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from safetensors.numpy import save_file

REPO = Path(__file__).resolve().parent.parent
HOOKS = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
ACTION = yaml.safe_load((REPO / "action.yml").read_text())
CI_DOC = (REPO / "docs" / "ci.md").read_text()


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    """Checks configured; a test suite (under testpaths) that needs a package CI does not have."""
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\ntestpaths = ['tests']\n\n[tool.aisupply]\nlockfile = ''\n")
    tests = pytester.mkdir("tests")
    (tests / "conftest.py").write_text("import torch_that_ci_lacks\n")
    (tests / "test_model.py").write_text("import torch_that_ci_lacks\n")
    models = pytester.mkdir("models")
    save_file({"w": np.zeros(2, np.float32)}, str(models / "ok.safetensors"))
    return pytester.path


def environment() -> dict[str, str]:
    """This interpreter's scripts first on PATH (where pre-commit's venv would put them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GITHUB_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


# -- pre-commit ---------------------------------------------------------------------------------


def test_pre_commit_hook_declaration() -> None:
    [hook] = HOOKS
    assert hook["id"] == "aisupply"
    assert hook["language"] == "python"  # pre-commit installs this package, so pytest and the plugin
    assert hook["pass_filenames"] is False
    assert hook["always_run"] is True
    assert shlex.split(hook["entry"])[:2] == ["pytest", "--aisupply-only"]


def run_hook(root: Path) -> subprocess.CompletedProcess[str]:
    [hook] = HOOKS
    return subprocess.run(
        shlex.split(hook["entry"]), cwd=root, env=environment(), capture_output=True, text=True, check=False
    )


def test_pre_commit_hook_entry_passes_then_fails_on_a_pickle(project: Path) -> None:
    clean = run_hook(project)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "torch_that_ci_lacks" not in clean.stdout + clean.stderr
    (project / "models" / "evil.pkl").write_bytes(pickle.dumps(os.system))
    failing = run_hook(project)
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "FAILED aisupply::no-pickle::models/evil.pkl" in failing.stdout


# -- GitHub Action ------------------------------------------------------------------------------


def expand(text: str, inputs: dict[str, str], outputs: dict[str, dict[str, str]]) -> str:
    """The ``${{ ... }}`` expressions the action uses: inputs and step outputs."""

    def value(match: re.Match[str]) -> str:
        expression = match[1].strip()
        if expression.startswith("inputs."):
            return inputs[expression.removeprefix("inputs.")]
        step, _, name = expression.removeprefix("steps.").partition(".outputs.")
        return outputs.get(step, {}).get(name, "")

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def run_action(root: Path, tmp_path: Path, **overrides: str) -> tuple[int, dict[str, dict[str, str]]]:
    """Run the action's shell steps as the runner would (bash, env, working-directory,
    GITHUB_OUTPUT); the install step is checked, not run: this package is installed already."""
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()} | overrides
    outputs: dict[str, dict[str, str]] = {}
    status = 0
    for number, step in enumerate(ACTION["runs"]["steps"]):
        if "run" not in step:
            continue
        env = environment() | {k: expand(str(v), inputs, outputs) for k, v in (step.get("env") or {}).items()}
        if step["name"] == "Install pytest-aisupply":
            assert step["run"] == 'python -m pip install "$AISUPPLY_PACKAGE"'
            assert env["AISUPPLY_PACKAGE"] == inputs["package"]
            continue
        output_file = tmp_path / f"github-output-{number}"
        output_file.write_text("")
        env["GITHUB_OUTPUT"] = str(output_file)
        cwd = root / expand(step.get("working-directory", "."), inputs, outputs)
        result = subprocess.run(
            ["bash", "-e", "-c", step["run"]], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
        status = result.returncode
        lines = [line for line in output_file.read_text().splitlines() if "=" in line]
        outputs[step.get("id", str(number))] = dict(line.split("=", 1) for line in lines)
    return status, outputs


def upload_step(inputs: dict[str, str], outputs: dict[str, dict[str, str]]) -> dict[str, Any] | None:
    """The upload step's ``with:`` when its condition holds (the job itself was not cancelled)."""
    [step] = [s for s in ACTION["runs"]["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    # the condition, evaluated here for a job that was not cancelled
    assert step["if"] == "${{ !cancelled() && inputs.upload-sarif == 'true' && steps.checks.outputs.sarif-file != '' }}"
    wanted = inputs["upload-sarif"] == "true" and outputs.get("checks", {}).get("sarif-file", "") != ""
    return {k: expand(str(v), inputs, outputs) for k, v in step["with"].items()} if wanted else None


def test_action_checks_write_sarif_and_upload_it(project: Path, tmp_path: Path) -> None:
    status, outputs = run_action(project, tmp_path)
    assert status == 0
    (project / "models" / "evil.pkl").write_bytes(pickle.dumps(os.system))
    status, outputs = run_action(project, tmp_path, args="--aisupply-offline")
    assert status == 1  # the job fails on a finding
    sarif_file = Path(outputs["checks"]["sarif-file"])
    assert sarif_file == project / "aisupply.sarif"
    document = json.loads(sarif_file.read_text())
    assert [r["ruleId"] for r in document["runs"][0]["results"]] == ["no-pickle"]
    assert document["runs"][0]["invocations"][0]["executionSuccessful"] is True
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    assert upload_step(inputs, outputs) == {"sarif_file": str(sarif_file), "category": "aisupply"}


def test_action_uploads_nothing_when_pytest_stops_before_writing(project: Path, tmp_path: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.aisupply]\npickle = 'maybe'\n")
    status, outputs = run_action(project, tmp_path)
    assert status == pytest.ExitCode.USAGE_ERROR
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    assert upload_step(inputs, outputs) is None


def test_action_inputs_never_spliced_into_scripts() -> None:
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]


def test_ci_doc_shows_the_hook_and_the_action_as_they_are() -> None:
    assert "id: aisupply" in CI_DOC
    assert "uses: pytest-aisupply/pytest-aisupply@" in CI_DOC
    shown = re.findall(r"^\s+(\S+): .*# action input", CI_DOC, re.M)
    assert shown
    assert set(shown) <= set(ACTION["inputs"]), set(shown) - set(ACTION["inputs"])
