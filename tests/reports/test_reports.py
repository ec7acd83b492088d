"""SARIF and CycloneDX ML-BOM reports, written by real pytest runs (serial and under xdist) and
validated against the SARIF 2.1.0 schema (vendored under tests/data/schemas) and with
cyclonedx-python-lib's CycloneDX 1.6 validator."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pickle
import shutil
import stat
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from safetensors.numpy import save_file

import pytest_aisupply
from pytest_aisupply.reports.bom import compare_boms, component_index
from pytest_aisupply.reports.sarif import MAX_RESULTS, RuleInfo, build_sarif, hub_table_line, toml_key_line

REPO = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = json.loads((Path(__file__).parent.parent / "data" / "schemas" / "sarif-schema-2.1.0.json").read_text())
BUILTIN_RULES = [
    "integrity",
    "license",
    "no-pickle",
    "pinned-revision",
    "remote-code",
    "safetensors",
    "signature",
    "source",
    "unsafe-format",
    "unsafe-load",
]
ADAPTER = "a" * 40
BASE = "b" * 40
DATASET = "c" * 40


def validate_sarif(document: dict[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def validate_bom(text: str) -> dict[str, Any]:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)
    document: dict[str, Any] = json.loads(text)
    return document


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def _own_hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The integrity rule looks into the Hugging Face cache: never the real one."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


def make_artifacts(root: Path) -> None:
    models = root / "models"
    models.mkdir(exist_ok=True)
    save_file({"w": np.zeros((2, 3), np.float32)}, str(models / "good.safetensors"))
    np.save(models / "features.npy", np.arange(6, dtype=np.float32))
    (models / "model.pkl").write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=4))
    (models / "legacy.pkl").write_bytes(pickle.dumps({"cat": 0}, protocol=2))


NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# explore\n"]},
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": ["from transformers import AutoModel\n", "model = AutoModel.from_pretrained('org/nb-model')\n"],
        },
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture
def sarif_repo(pytester: pytest.Pytester) -> Path:
    pytester.makepyprojecttoml(
        textwrap.dedent(
            """
            [tool.aisupply]
            artifacts = ["models"]
            code = ["src"]
            lockfile = ""

            [[tool.aisupply.waive]]
            rule = "no-pickle"
            path = "models/legacy.pkl"
            reason = "reviewed legacy vocabulary"
            """
        )
    )
    make_artifacts(pytester.path)
    src = pytester.mkdir("src")
    (src / "app.py").write_text(
        "from transformers import AutoModel\n\n\ndef load():\n    return AutoModel.from_pretrained('org/model')\n"
    )
    (src / "explore.ipynb").write_text(json.dumps(NOTEBOOK))
    return pytester.path


def results_by(document: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in document["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        found.setdefault((result["ruleId"], uri), []).append(result)
    return found


def test_sarif_is_valid_and_locates_every_finding(pytester: pytest.Pytester, sarif_repo: Path) -> None:
    result = run(pytester, "--aisupply-sarif=reports/aisupply.sarif")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*aisupply reports*", "SARIF: wrote reports/aisupply.sarif (4 results)"])
    document = json.loads((sarif_repo / "reports" / "aisupply.sarif").read_text())
    validate_sarif(document)
    assert document["version"] == "2.1.0"
    (sarif_run,) = document["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "pytest-aisupply"
    assert driver["version"] == driver["semanticVersion"] == pytest_aisupply.__version__
    assert driver["informationUri"].startswith("https://")
    rules = driver["rules"]
    assert [rule["id"] for rule in rules] == BUILTIN_RULES
    by_id = {rule["id"]: rule for rule in rules}
    assert by_id["no-pickle"]["properties"]["security-severity"] == "8.8"
    assert "external/cwe/cwe-502" in by_id["no-pickle"]["properties"]["tags"]
    assert "external/cwe/cwe-494" in by_id["pinned-revision"]["properties"]["tags"]
    assert "external/cwe/cwe-94" in by_id["remote-code"]["properties"]["tags"]
    assert all("security" in rule["properties"]["tags"] for rule in rules)
    assert by_id["no-pickle"]["shortDescription"]["text"].startswith("artifacts hold no pickle stream")
    assert "[[tool.aisupply.waive]]" in by_id["no-pickle"]["help"]["markdown"]
    assert "# aisupply: ignore[pinned-revision]" in by_id["pinned-revision"]["help"]["text"]
    for sarif_result in sarif_run["results"]:
        assert rules[sarif_result["ruleIndex"]]["id"] == sarif_result["ruleId"]

    found = results_by(document)
    (pickle_result,) = found[("no-pickle", "models/model.pkl")]
    assert pickle_result["level"] == "error"
    assert "region" not in pickle_result["locations"][0]["physicalLocation"]  # binary artifact
    assert pickle_result["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    assert pickle_result["message"]["text"].startswith("pickle stream (protocol 4).")
    assert "Fix: " in pickle_result["message"]["text"]
    assert "suppressions" not in pickle_result

    (waived,) = found[("no-pickle", "models/legacy.pkl")]
    assert waived["suppressions"] == [{"kind": "external", "justification": "reviewed legacy vocabulary"}]

    (unpinned,) = found[("pinned-revision", "src/app.py")]
    assert unpinned["locations"][0]["physicalLocation"]["region"] == {"startLine": 5, "startColumn": 12}
    assert "org/model" in unpinned["message"]["text"]

    (notebook,) = found[("pinned-revision", "src/explore.ipynb")]
    # the region is the .ipynb line holding the cell line (json.dumps wrote the notebook on one line)
    assert notebook["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert "(cell 2, line 2)" in notebook["message"]["text"]

    fingerprints = [r["partialFingerprints"]["aisupply/v1"] for r in sarif_run["results"]]
    assert len(set(fingerprints)) == len(fingerprints)
    assert all(r["partialFingerprints"]["primaryLocationLineHash"] for r in sarif_run["results"])
    assert sarif_run["properties"]["truncated"] is False
    assert sarif_run["properties"]["checks"] == {"failed": 3, "passed": 3, "waived": 1}


def test_sarif_is_identical_under_xdist(pytester: pytest.Pytester, sarif_repo: Path) -> None:
    run(pytester, "--aisupply-sarif=serial.sarif")
    result = run(pytester, "-n", "2", "--aisupply-sarif=xdist.sarif")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["SARIF: wrote xdist.sarif (4 results)"])
    assert (sarif_repo / "xdist.sarif").read_bytes() == (sarif_repo / "serial.sarif").read_bytes()


def finding(message: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "fix": "fix it", "where": None, "line": None, "details": [], **extra}


def record(rule: str, subject: str, *findings: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "rule": rule,
        "subject": subject,
        "kind": "artifact",
        "format": "pickle",
        "status": "failed" if findings else "passed",
        "severity": "error",
        "path": subject,
        "findings": list(findings),
        "waived_findings": [],
        **extra,
    }


def test_sarif_truncates_by_severity_with_a_note() -> None:
    records = [
        record("safetensors", f"models/w{i}.safetensors", finding(f"bad header {i}"), severity="warn", status="warned")
        for i in range(3)
    ]
    records += [record("no-pickle", f"models/p{i}.bin", finding("pickle stream (protocol 4)")) for i in range(3)]
    records.append(
        record(
            "no-pickle",
            "models/waived.bin",
            waived_findings=[finding("pickle stream (protocol 2)", reason="reviewed")],
            status="waived",
        )
    )
    document = build_sarif(records, [RuleInfo("no-pickle", "no pickles")], tool_version="1.0", max_results=4)
    validate_sarif(document)
    sarif_run = document["runs"][0]
    kept = [(r["ruleId"], r["level"]) for r in sarif_run["results"]]
    assert kept == [("no-pickle", "error")] * 3 + [("safetensors", "warning")]
    assert sarif_run["properties"]["truncated"] is True
    assert sarif_run["properties"]["resultsFound"] == 7
    assert sarif_run["properties"]["resultsWritten"] == 4
    assert "exceed the limit" in sarif_run["properties"]["truncation"]
    assert MAX_RESULTS == 25_000
    # a rule seen only in the records still gets a descriptor (project rules: security-severity 5.0)
    ids = [rule["id"] for rule in sarif_run["tool"]["driver"]["rules"]]
    assert ids == ["no-pickle", "safetensors"]
    project = build_sarif([record("model-card", "models", finding("no README.md"))], [], tool_version="1.0")
    validate_sarif(project)
    (descriptor,) = project["runs"][0]["tool"]["driver"]["rules"]
    assert descriptor["properties"]["security-severity"] == "5.0"
    assert "project-rule" in descriptor["properties"]["tags"]


def test_sarif_fingerprints_ignore_line_moves_and_hashes() -> None:
    def code_record(line: int, digest: str) -> dict[str, Any]:
        found = finding(f"unpinned {digest}", where=f"src/a.py:{line}:5", line=line, details=["load('org/m')"])
        return {**record("pinned-revision", "src/a.py", found), "kind": "code"}

    first = build_sarif([code_record(3, "ab" * 32)], [], tool_version="1")["runs"][0]["results"][0]
    moved = build_sarif([code_record(9, "cd" * 32)], [], tool_version="1")["runs"][0]["results"][0]
    assert first["partialFingerprints"] == moved["partialFingerprints"]
    assert first["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 5}


def test_toml_line_lookups() -> None:
    lock = textwrap.dedent(
        f"""\
        version = 1

        [[hub]]
        repo_type = "model"
        repo_id = "org/a"
        revision = "{ADAPTER}"

        [[hub]]
        repo_type = "model"
        repo_id = "org/b"
        revision = "{BASE}"
        files = [{{path = "x", size = 1, sha256 = "{"0" * 64}"}}]
        """
    )
    assert hub_table_line(lock, "model", "org/a", ADAPTER) == 3
    assert hub_table_line(lock, "model", "org/b", BASE) == 8
    assert hub_table_line(lock, "dataset", "org/b", BASE) is None
    pyproject = '[project]\nname = "x"\n\n[tool.aisupply]\nartifacts = ["models"]\nlockfile = "a.lock"\n[other]\n'
    assert toml_key_line(pyproject, "tool.aisupply", "lockfile") == 6
    assert toml_key_line(pyproject, "tool.aisupply") == 4
    assert toml_key_line(pyproject, "tool.aisupply", "pickle") == 4


def test_missing_lockfile_is_reported_at_the_pyproject_table(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[project]\nname = "x"\n\n[tool.aisupply]\nartifacts = ["models"]\n')
    models = pytester.mkdir("models")
    np.save(models / "features.npy", np.arange(4, dtype=np.int64))
    run(pytester, "--aisupply-sarif=out.sarif")
    document = json.loads((pytester.path / "out.sarif").read_text())
    validate_sarif(document)
    (missing,) = results_by(document)[("integrity", "pyproject.toml")]
    assert missing["locations"][0]["physicalLocation"]["region"] == {"startLine": 4}
    assert "no lockfile yet" in missing["message"]["text"]


# -- the BOM ----------------------------------------------------------------------------------


def write_lock(root: Path) -> None:
    models = root / "models"
    artifacts = "".join(
        textwrap.dedent(
            f"""
            [[artifact]]
            path = "models/{path.name}"
            format = "{fmt}"
            size = {path.stat().st_size}
            sha256 = "{sha256(path)}"
            reviewed = 2026-01-15
            """
        )
        for path, fmt in sorted(
            [(models / "good.safetensors", "safetensors"), (models / "features.npy", "numpy")], key=lambda p: p[0]
        )
    )
    weights = hashlib.sha256(b"adapter weights").hexdigest()
    lock = (
        "version = 1\n"
        + artifacts
        + textwrap.dedent(
            f"""
            [[hub]]
            repo_type = "dataset"
            repo_id = "org/data"
            revision = "{DATASET}"
            license = ["cc-by-4.0"]
            gated = "false"
            base_models = []
            reachable_from = ["refs/heads/main"]
            reviewed = 2026-01-15
            files = [{{path = "train.parquet", size = 10, sha256 = "{"d" * 64}"}}]

            [[hub]]
            repo_type = "model"
            repo_id = "org/adapter"
            revision = "{ADAPTER}"
            license = ["apache-2.0"]
            author = "org"
            gated = "false"
            base_models = ["org/base"]
            reachable_from = ["refs/heads/main"]
            reviewed = 2026-01-15
            files = [
                {{path = "adapter_model.safetensors", size = 15, sha256 = "{weights}"}},
                {{path = "config.json", size = 13, git_sha1 = "{"e" * 40}"}},
            ]

            [[hub]]
            repo_type = "model"
            repo_id = "org/base"
            revision = "{BASE}"
            license = ["llama3"]
            gated = "manual"
            base_models = []
            reachable_from = ["refs/tags/v1"]
            reviewed = 2026-01-15
            files = []
            """
        )
    )
    (root / "aisupply.lock").write_text(lock)


@pytest.fixture
def bom_repo(pytester: pytest.Pytester) -> Path:
    pytester.makepyprojecttoml(
        textwrap.dedent(
            """
            [project]
            name = "reports-demo"
            version = "1.2.3"

            [tool.aisupply]
            artifacts = ["models"]
            code = ["src"]
            allowed_licenses = ["apache-2.0", "cc-by-4.0"]
            """
        )
    )
    models = pytester.mkdir("models")
    save_file({"w": np.zeros((2, 3), np.float32)}, str(models / "good.safetensors"))
    np.save(models / "features.npy", np.arange(6, dtype=np.float32))
    write_lock(pytester.path)
    src = pytester.mkdir("src")
    (src / "app.py").write_text(
        textwrap.dedent(
            f"""
            from transformers import AutoModel

            ADAPTER = "{ADAPTER}"


            def load():
                return AutoModel.from_pretrained("org/adapter", revision=ADAPTER)
            """
        )
    )
    return pytester.path


def components(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in document["components"]}


def properties(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def test_bom_lists_models_datasets_artifacts_and_lineage(
    pytester: pytest.Pytester, bom_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run(pytester, "--aisupply-bom=bom.json", "--aisupply-sarif=out.sarif")
    # only the license of the base model (and so the adapter's lineage) fails
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(["BOM: wrote bom.json (8 components)"])
    text = (bom_repo / "bom.json").read_text()
    document = validate_bom(text)
    adapter = components(document)[f"model:org/adapter@{ADAPTER}"]
    assert properties(adapter)["aisupply:locked"] == "true"  # from the lockfile, enriched from the code:
    assert properties(adapter)["aisupply:referenced_at"] == "src/app.py:8:12"
    assert document["specVersion"] == "1.6"
    assert document["serialNumber"].startswith("urn:uuid:")
    assert "timestamp" not in document["metadata"]
    assert document["metadata"]["component"]["name"] == "reports-demo"
    assert document["metadata"]["component"]["version"] == "1.2.3"

    found = components(document)
    adapter = found[f"model:org/adapter@{ADAPTER}"]
    assert adapter["type"] == "machine-learning-model"
    assert adapter["name"] == "org/adapter"
    assert adapter["version"] == ADAPTER
    assert adapter["purl"] == f"pkg:huggingface/org/adapter@{ADAPTER}"
    assert adapter["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    assert adapter["publisher"] == "org"
    files = {c["name"]: c for c in adapter["components"]}
    assert files["adapter_model.safetensors"]["hashes"] == [
        {"alg": "SHA-256", "content": hashlib.sha256(b"adapter weights").hexdigest()}
    ]
    assert properties(files["config.json"])["aisupply:git_blob_sha1"] == "e" * 40
    adapter_properties = properties(adapter)
    assert adapter_properties["aisupply:verdict:integrity"] == "passed"
    assert adapter_properties["aisupply:verdict:license"] == "failed"  # its base model's license
    assert adapter_properties["aisupply:base_model"] == "org/base"

    base = found[f"model:org/base@{BASE}"]
    assert base["licenses"] == [{"license": {"name": "llama3"}}]
    assert properties(base)["aisupply:gated"] == "manual"
    dataset = found[f"dataset:org/data@{DATASET}"]
    assert dataset["type"] == "data"
    assert dataset["purl"] == f"pkg:huggingface/org/data@{DATASET}"
    assert properties(dataset)["aisupply:repo_type"] == "dataset"
    assert dataset["licenses"] == [{"license": {"id": "CC-BY-4.0"}}]

    weights = found["file:models/good.safetensors"]
    assert weights["type"] == "machine-learning-model"
    assert weights["hashes"] == [{"alg": "SHA-256", "content": sha256(bom_repo / "models" / "good.safetensors")}]
    assert properties(weights)["aisupply:format"] == "safetensors"
    assert properties(weights)["aisupply:verdict:no-pickle"] == "passed"
    assert properties(weights)["aisupply:verdict:integrity"] == "passed"
    features = found["file:models/features.npy"]
    assert features["type"] == "data"
    assert features["hashes"][0]["content"] == sha256(bom_repo / "models" / "features.npy")

    dependencies = {d["ref"]: d.get("dependsOn", []) for d in document["dependencies"]}
    assert dependencies[f"model:org/adapter@{ADAPTER}"] == [f"model:org/base@{BASE}"]
    assert set(dependencies["project:reports-demo"]) == {
        "file:models/features.npy",
        "file:models/good.safetensors",
        f"dataset:org/data@{DATASET}",
        f"model:org/adapter@{ADAPTER}",
        f"model:org/base@{BASE}",
    }

    # Hub findings point at their [[hub]] table in the lockfile
    sarif = json.loads((bom_repo / "out.sarif").read_text())
    validate_sarif(sarif)
    lock_text = (bom_repo / "aisupply.lock").read_text()
    license_results = results_by(sarif)[("license", "aisupply.lock")]
    lines = sorted(r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in license_results)
    assert lines == sorted(
        [
            hub_table_line(lock_text, "model", "org/adapter", ADAPTER),
            hub_table_line(lock_text, "model", "org/base", BASE),
        ]
    )

    # deterministic: the same bytes again, under xdist too; a timestamp only with SOURCE_DATE_EPOCH
    run(pytester, "-n", "2", "--aisupply-bom=again.json")
    assert (bom_repo / "again.json").read_text() == text
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    run(pytester, "--aisupply-bom=dated.json")
    dated = validate_bom((bom_repo / "dated.json").read_text())
    assert dated["metadata"]["timestamp"].startswith("2026-01-01T00:00:00")
    assert dated["serialNumber"] != document["serialNumber"]


@pytest.fixture
def clean_repo(pytester: pytest.Pytester) -> Path:
    pytester.makepyprojecttoml('[tool.aisupply]\nartifacts = ["models"]\nlockfile = ""\n')
    models = pytester.mkdir("models")
    save_file({"w": np.ones((2, 2), np.float32)}, str(models / "weights.safetensors"))
    np.save(models / "features.npy", np.arange(4, dtype=np.int64))
    return pytester.path


def test_bom_check_passes_then_reports_drift_then_passes_after_regenerating(
    pytester: pytest.Pytester, clean_repo: Path
) -> None:
    # the check reads the committed file before --aisupply-bom writes it
    first_run = run(pytester, "--aisupply-bom=bom.json", "--aisupply-bom-check=bom.json")
    assert first_run.ret == pytest.ExitCode.TESTS_FAILED
    first_run.stdout.fnmatch_lines(["*aisupply BOM drift*", "  bom.json does not exist", "  added    file:models/*"])
    first = validate_bom((clean_repo / "bom.json").read_text())
    assert first["metadata"]["component"]["name"] == clean_repo.name  # no [project] table: the folder name

    check = run(pytester, "--aisupply-bom-check=bom.json")
    assert check.ret == pytest.ExitCode.OK
    check.stdout.fnmatch_lines(["BOM check: bom.json matches this run (2 components)"])
    check.stdout.no_fnmatch_line("*BOM drift*")

    np.save(clean_repo / "models" / "extra.npy", np.arange(3, dtype=np.int64))
    np.save(clean_repo / "models" / "features.npy", np.arange(5, dtype=np.int64))
    drift = run(pytester, "--aisupply-bom-check=bom.json")
    assert drift.ret == pytest.ExitCode.TESTS_FAILED
    assert "failed" not in drift.parseoutcomes()  # every check passed: only the BOM is out of date
    drift.stdout.fnmatch_lines(
        [
            "*aisupply BOM drift*",
            "  added    file:models/extra.npy",
            "  changed  file:models/features.npy: hash SHA-256 * -> SHA-256 *",
            "the committed BOM is out of date: regenerate it with pytest --aisupply-bom=bom.json*",
        ]
    )
    # a partial run does not call unselected components removed
    partial = run(pytester, "--aisupply-bom-check=bom.json", "-k", "weights")
    assert partial.ret == pytest.ExitCode.OK
    partial.stdout.no_fnmatch_line("*removed  *")
    partial.stdout.fnmatch_lines(["BOM check: bom.json matches this run (1 component) (partial run*"])

    regenerated = run(pytester, "--aisupply-bom=bom.json")
    assert regenerated.ret == pytest.ExitCode.OK
    regenerated.stdout.fnmatch_lines(["BOM: wrote bom.json (3 components)"])
    assert run(pytester, "--aisupply-bom-check=bom.json").ret == pytest.ExitCode.OK


def test_bom_without_cyclonedx_fails_with_usage_error(pytester: pytest.Pytester, clean_repo: Path) -> None:
    shadow = pytester.mkdir("cyclonedx")
    (shadow / "__init__.py").write_text("raise ImportError('No module named cyclonedx (simulated)')\n")
    pytester.makepyfile(test_ran="def test_ran():\n    open('RAN', 'w').close()\n")
    for flag in ("--aisupply-bom=bom.json", "--aisupply-bom-check=bom.json"):
        result = run(pytester, flag)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert result.stderr.lines[0].startswith(
            "ERROR: --aisupply-bom and --aisupply-bom-check need cyclonedx-python-lib: pip install"
        )
        assert "[bom]" in result.stderr.lines[0]
        assert "Traceback" not in result.stderr.str()
        assert not (clean_repo / "bom.json").exists()
        assert not (clean_repo / "RAN").exists(), "the error must come before the suite runs"


def test_compare_boms_reports_hash_license_and_removal() -> None:
    def doc(*items: dict[str, Any]) -> dict[str, Any]:
        return {"components": list(items)}

    old = doc(
        {"bom-ref": "model:org/a@1", "purl": "pkg:huggingface/org/a@1", "licenses": [{"license": {"id": "MIT"}}]},
        {"bom-ref": "file:x", "hashes": [{"alg": "SHA-256", "content": "0" * 64}]},
        {"bom-ref": "file:gone"},
    )
    new = doc(
        {
            "bom-ref": "model:org/a@1",
            "purl": "pkg:huggingface/org/a@1",
            "licenses": [{"license": {"name": "llama3"}}],
            "components": [{"bom-ref": "model:org/a@1#w", "hashes": [{"alg": "SHA-256", "content": "1" * 64}]}],
        },
        {"bom-ref": "file:x", "hashes": [{"alg": "SHA-256", "content": "2" * 64}]},
    )
    assert set(component_index(new)) == {"model:org/a@1", "model:org/a@1#w", "file:x"}
    drift = compare_boms(old, new)
    assert drift.added == ["model:org/a@1#w"]
    assert drift.removed == ["file:gone"]
    assert drift.changed == [
        "file:x: hash SHA-256 000000000000… -> SHA-256 222222222222…",
        "model:org/a@1: license MIT -> llama3",
    ]
    assert not compare_boms(new, new)
    assert compare_boms(old, new, report_removed=False).removed == []


# -- acceptance: the bundled demo ---------------------------------------------------------------


def test_demo_repository_reports_validate(pytester: pytest.Pytester) -> None:
    demo = pytester.path / "demo"
    shutil.copytree(REPO / "examples" / "demo", demo)
    spec = importlib.util.spec_from_file_location("make_demo", REPO / "examples" / "make_demo.py")
    assert spec is not None
    assert spec.loader is not None
    make_demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_demo)
    make_demo.DEMO = demo
    make_demo.main()
    result = run(pytester, "--aisupply-sarif=demo.sarif", "--aisupply-bom=demo.bom.json", str(demo))
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the demo fails on purpose
    sarif = json.loads((pytester.path / "demo.sarif").read_text())
    validate_sarif(sarif)
    found = results_by(sarif)
    assert ("no-pickle", "models/classifier.pkl") in found
    (waived,) = found[("no-pickle", "data/vocab.bin")]
    assert waived["suppressions"][0]["justification"].startswith("legacy vocabulary")
    document = validate_bom((pytester.path / "demo.bom.json").read_text())
    assert document["metadata"]["component"]["name"] == "aisupply-demo"
    refs = set(components(document))
    assert {"file:models/encoder.safetensors", "file:models/classifier.pkl", "file:data/vocab.bin"} <= refs
    assert components(document)["file:models/encoder.safetensors"]["type"] == "machine-learning-model"


# -- start-up errors, unfinished sessions, file modes (issue 16) ---------------------------------


@pytest.mark.parametrize(
    ("flag", "target", "problem"),
    [
        ("--aisupply-sarif", "pyproject.toml/out.sarif", "*pyproject.toml is not a directory"),
        ("--aisupply-sarif", "models", "it is a directory"),
        ("--aisupply-bom", "pyproject.toml/bom.json", "*pyproject.toml is not a directory"),
    ],
)
def test_unwritable_report_path_stops_before_the_run(
    pytester: pytest.Pytester, clean_repo: Path, flag: str, target: str, problem: str
) -> None:
    pytester.makepyfile(test_ran="def test_ran():\n    open('RAN', 'w').close()\n")
    result = run(pytester, f"{flag}={target}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {flag}={target}: cannot write *: {problem}"])
    assert len([line for line in result.stderr.lines if line.strip()]) == 1
    assert not (clean_repo / "RAN").exists()


def test_interrupted_session_says_so_in_sarif_and_writes_no_bom(pytester: pytest.Pytester, clean_repo: Path) -> None:
    (clean_repo / "models" / "evil.pkl").write_bytes(pickle.dumps(print))
    pytester.makepyfile(test_broken="import package_that_is_not_installed\n")
    result = run(pytester, "--aisupply-sarif=out.sarif", "--aisupply-bom=bom.json")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    document = json.loads((clean_repo / "out.sarif").read_text())
    validate_sarif(document)
    [invocation] = document["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    texts = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert texts == ["the session was interrupted: 1 error during collection (pytest exit status 2)"]
    assert not (clean_repo / "bom.json").exists()
    result.stdout.fnmatch_lines(
        [
            "SARIF: wrote out.sarif (0 results; marked as an unsuccessful execution: the session did not run to its*",
            "BOM: not written nor checked: the session did not run to its end (the session was interrupted: 1 error*",
        ]
    )


def test_session_stopped_by_maxfail_is_not_a_successful_execution(pytester: pytest.Pytester, clean_repo: Path) -> None:
    (clean_repo / "models" / "a.pkl").write_bytes(pickle.dumps(print))
    (clean_repo / "models" / "b.pkl").write_bytes(pickle.dumps(print))
    result = run(pytester, "-x", "--aisupply-sarif=out.sarif", "--aisupply-bom=bom.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    [invocation] = json.loads((clean_repo / "out.sarif").read_text())["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["message"]["text"].startswith("stopped early: ")
    assert not (clean_repo / "bom.json").exists()


def test_complete_and_narrowed_sessions_are_successful_executions(pytester: pytest.Pytester, clean_repo: Path) -> None:
    run(pytester, "--aisupply-sarif=out.sarif")
    [invocation] = json.loads((clean_repo / "out.sarif").read_text())["runs"][0]["invocations"]
    assert invocation == {"executionSuccessful": True}
    run(pytester, "--aisupply-sarif=out.sarif", "-k", "weights")
    document = json.loads((clean_repo / "out.sarif").read_text())
    validate_sarif(document)
    [invocation] = document["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is True
    assert [n["level"] for n in invocation["toolExecutionNotifications"]] == ["note"]
    assert "partial run" in invocation["toolExecutionNotifications"][0]["message"]["text"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_reports_and_lockfile_get_the_mode_of_the_users_umask(
    pytester: pytest.Pytester, clean_repo: Path, umask: int, mode: int
) -> None:
    pytester.makepyprojecttoml('[tool.aisupply]\nartifacts = ["models"]\n')
    previous = os.umask(umask)
    try:
        result = run(pytester, "--aisupply-update", "--aisupply-sarif=out.sarif", "--aisupply-bom=bom.json")
    finally:
        os.umask(previous)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    for name in ("aisupply.lock", "out.sarif", "bom.json"):
        assert stat.S_IMODE((clean_repo / name).stat().st_mode) == mode, name


def test_bom_lists_what_the_code_loads_without_a_lockfile(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.aisupply]\ncode = ["src"]\nartifacts = []\nlockfile = ""\n')
    src = pytester.mkdir("src")
    (src / "app.py").write_text(
        textwrap.dedent(
            f"""
            from datasets import load_dataset
            from huggingface_hub import hf_hub_download
            from transformers import AutoModel

            hf_hub_download("org/pinned", "model.safetensors", revision="{ADAPTER}")
            AutoModel.from_pretrained("org/unpinned")
            AutoModel.from_pretrained("org/unpinned")
            load_dataset("org/data", revision="main")
            """
        )
    )
    result = run(pytester, "--aisupply-bom=bom.json")
    result.stdout.fnmatch_lines(["BOM: wrote bom.json (3 components)"])
    found = components(validate_bom((pytester.path / "bom.json").read_text()))
    assert sorted(found) == ["dataset:org/data", f"model:org/pinned@{ADAPTER}", "model:org/unpinned"]

    pinned = found[f"model:org/pinned@{ADAPTER}"]
    assert pinned["purl"] == f"pkg:huggingface/org/pinned@{ADAPTER}"
    assert pinned["version"] == ADAPTER
    assert properties(pinned)["aisupply:pinned"] == "true"
    assert properties(pinned)["aisupply:referenced_at"] == "src/app.py:6:1"

    unpinned = found["model:org/unpinned"]
    assert unpinned["purl"] == "pkg:huggingface/org/unpinned"
    assert "version" not in unpinned
    assert properties(unpinned)["aisupply:pinned"] == "false"
    assert properties(unpinned)["aisupply:locked"] == "false"
    referenced = [p["value"] for p in unpinned["properties"] if p["name"] == "aisupply:referenced_at"]
    assert referenced == ["src/app.py:7:1", "src/app.py:8:1"]

    dataset = found["dataset:org/data"]
    assert dataset["type"] == "data"
    assert properties(dataset)["aisupply:requested_revision"] == "main"
    assert properties(dataset)["aisupply:pinned"] == "false"
