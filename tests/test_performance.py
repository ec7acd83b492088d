"""Start-up and scale as a user sees them: what a configured run imports, and the same verdicts per
file whatever the granularity of the collected checks and with or without pytest-xdist.

Times are measured by benchmarks/bench_scale.py, never asserted here.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

#: Third-party libraries a configured run must not import before a check needs them.
HEAVY_MODULES = (
    "huggingface_hub",
    "numpy",
    "yaml",
    "license_expression",
    "fickling",
    "safetensors",
    "cryptography",
    "model_signing",
    "torch",
    "google",
)

#: This package's own readers and analysers: a project with nothing of their kind must not load them.
OWN_READERS = (
    "pytest_aisupply.formats",
    "pytest_aisupply.code",
    "pytest_aisupply.inventory.code_files",
    "pytest_aisupply.hub.api",
    "pytest_aisupply.rules.signature_verification",
    "pytest_aisupply.reports",
    "pytest_aisupply.lockfile.lock",
    "pytest_aisupply.inventory.modelcard",
    "pytest_aisupply.rules.license_policy",
)

REPORT_MODULES = """
import sys

HEAVY = {heavy!r}
OWN = {own!r}


def pytest_unconfigure(config):
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in HEAVY)
    print("HEAVY-LOADED:", ",".join(loaded) or "-")
    # the code package itself holds only the code files' suffixes: its modules are what count
    own = sorted(name for name in sys.modules if name.startswith(OWN) and name != "pytest_aisupply.code")
    print("OWN-LOADED:", ",".join(own) or "-")
    rules = sorted(
        name
        for name in sys.modules
        if name.startswith("pytest_aisupply.rules.") and name != "pytest_aisupply.rules.base"
    )
    print("RULES-LOADED:", ",".join(rules) or "-")
    print("CHECKS-REGISTERED:", config.pluginmanager.has_plugin("aisupply-checks"))
    print("ALL-OURS:", ",".join(sorted(name for name in sys.modules if name.split(".")[0] == "pytest_aisupply")))
    # loaded before the plugin module could say how: the package and what its __init__ imports
    first = {{"pytest_aisupply", "pytest_aisupply.plugin"}}
    loaders = sorted({{
        type(module.__spec__.loader).__name__
        for name, module in list(sys.modules.items())
        if name.startswith("pytest_aisupply.") and name not in first and module.__spec__ is not None
    }})
    print("LOADERS:", ",".join(loaders))
"""


def _report_modules() -> str:
    return REPORT_MODULES.format(heavy=set(HEAVY_MODULES), own=OWN_READERS)


def _reporting_project(pytester: pytest.Pytester, extra_toml: str = "") -> None:
    """A configured project with empty ``models/`` and ``src/`` (``extra_toml`` appended to its
    table) and the conftest that reports which modules the run loaded."""
    pytester.makepyprojecttoml(f'[tool.aisupply]\nartifacts = ["models"]\ncode = ["src"]\nlockfile = ""\n{extra_toml}')
    (pytester.path / "models").mkdir()
    (pytester.path / "src").mkdir()
    pytester.makeconftest(_report_modules())


def _loaded(result: pytest.RunResult, label: str) -> list[str]:
    found = re.search(rf"^{label}: (\S+)$", result.stdout.str(), re.M)
    assert found, result.stdout.str() + result.stderr.str()
    return [] if found[1] == "-" else found[1].split(",")


def _heavy_report(result: pytest.RunResult) -> tuple[str, str]:
    text = result.stdout.str()
    loaded = re.search(r"^HEAVY-LOADED: (\S+)$", text, re.M)
    registered = re.search(r"^CHECKS-REGISTERED: (\S+)$", text, re.M)
    assert loaded, text
    assert registered, text
    return loaded[1], registered[1]


def test_configured_run_with_nothing_to_check_imports_no_heavy_library(pytester: pytest.Pytester) -> None:
    _reporting_project(pytester)
    (pytester.path / "src" / "app.py").write_text("def add(a, b):\n    return a + b\n")
    pytester.makepyfile(test_app="def test_app():\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-s")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["aisupply: pyproject.toml [[]tool.aisupply[]]*"])
    loaded, registered = _heavy_report(result)
    assert registered == "True"  # the checks were configured and collected: nothing was left to check
    assert loaded == "-"
    # the engine's modules are loaded as plain Python, not compiled again by pytest's assertion rewriter
    loaders = re.search(r"^LOADERS: (\S+)$", result.stdout.str(), re.M)
    assert loaders, result.stdout.str()
    # Python's own loaders (an installed, compiled walker is an extension module), never pytest's rewriter
    assert set(loaders[1].split(",")) <= {"SourceFileLoader", "SourcelessFileLoader", "ExtensionFileLoader"}


def test_the_module_report_sees_a_heavy_import(pytester: pytest.Pytester) -> None:
    """The control for the test above: the same report names a heavy module once one is imported."""
    _reporting_project(pytester)
    pytester.makepyfile(test_app="import yaml\n\ndef test_app():\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-s")
    loaded, _ = _heavy_report(result)
    assert "yaml" in loaded.split(",")


def test_nothing_to_check_loads_none_of_our_readers_or_rules(pytester: pytest.Pytester) -> None:
    """Empty artifact and code roots: the checks are configured and collected, and neither the format
    readers, the code analysis, the Hub client, signatures, reports nor any rule module is loaded."""
    _reporting_project(pytester)
    pytester.makepyfile(test_app="def test_app():\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-s")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)
    assert _heavy_report(result) == ("-", "True")
    assert _loaded(result, "OWN-LOADED") == []
    assert _loaded(result, "RULES-LOADED") == []


#: Every module of ours a configured run with nothing to check loads: the wiring, the configuration
#: parser, and what collection needs to find out that there is nothing (the engine, the walk, the rule
#: list). Without a bytecode cache each is compiled from source on every run, so a module joining this
#: list is start-up paid by every project: load it where it is needed instead, or add it here knowingly.
NOTHING_TO_CHECK_MODULES = {
    "pytest_aisupply",
    "pytest_aisupply.builtin",
    "pytest_aisupply.checks",
    "pytest_aisupply.checks.collection",
    "pytest_aisupply.checks.facts_cache_saver",
    "pytest_aisupply.checks.keys",
    "pytest_aisupply.checks.summary",
    "pytest_aisupply.code",
    "pytest_aisupply.fixture",
    "pytest_aisupply.fixture.guard_markers",
    "pytest_aisupply.hookspecs",
    "pytest_aisupply.inventory",
    "pytest_aisupply.inventory.core",
    "pytest_aisupply.inventory.discovery",
    "pytest_aisupply.plugin",
    "pytest_aisupply.plugin_hooks",
    "pytest_aisupply.rules",
    "pytest_aisupply.rules.base",
    "pytest_aisupply.settings",
    "pytest_aisupply.settings.config",
    "pytest_aisupply.settings.values",
    "pytest_aisupply.verdicts",
    "pytest_aisupply.verdicts.engine",
}

#: A project without ``[tool.aisupply]``: the entry point, its hooks and the run-time guards' ini check.
NO_TABLE_MODULES = {
    "pytest_aisupply",
    "pytest_aisupply.builtin",
    "pytest_aisupply.fixture",
    "pytest_aisupply.fixture.guard_markers",
    "pytest_aisupply.hookspecs",
    "pytest_aisupply.plugin",
    "pytest_aisupply.plugin_hooks",
}


def test_a_plain_configuration_with_nothing_to_check_loads_only_the_listed_modules(pytester: pytest.Pytester) -> None:
    """Keys validated without the rarely used tables' parser (``settings.tables``), the schema's docs
    (``settings.schema``), the lockfile or any reader; the checks still collected and the run passes."""
    _reporting_project(
        pytester,
        'pickle = "scan"\npickle_allowed_globals = ["collections.OrderedDict"]\n'
        'exclude = ["models/tmp/**"]\nmax_review_age_days = 30\ntrust_remote_code = ["org/name"]\n'
        '[tool.aisupply.rules]\nlicense = "warn"\n',
    )
    pytester.makepyfile(test_app="def test_app():\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-s")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)
    assert _heavy_report(result) == ("-", "True")
    # the [tool.aisupply.rules] table's severities are checked against the findings' value types
    assert set(_loaded(result, "ALL-OURS")) == NOTHING_TO_CHECK_MODULES | {"pytest_aisupply.findings"}


def test_the_rarely_used_tables_load_their_parser_when_present(pytester: pytest.Pytester) -> None:
    """The control for the test above: a waiver and a limit load ``settings.tables`` (and a bad one is
    still reported by file, line and key)."""
    _reporting_project(
        pytester,
        "[tool.aisupply.limits]\nmax_depth = 3\n"
        '[[tool.aisupply.waive]]\nrule = "no-pickle"\npath = "models/a.pkl"\nreason = "vetted"\n',
    )
    pytester.makepyfile(test_app="def test_app():\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-s")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    assert set(_loaded(result, "ALL-OURS")) == NOTHING_TO_CHECK_MODULES | {
        "pytest_aisupply.settings.tables",
        "pytest_aisupply.settings.limits",
        "pytest_aisupply.lockfile",
        "pytest_aisupply.lockfile.digests",
    }

    pytester.makepyprojecttoml(
        '[tool.aisupply]\nartifacts = ["models"]\nlockfile = ""\n\n'
        '[[tool.aisupply.waive]]\nrule = "no-pickle"\npath = "/abs"\nreason = "vetted"\n'
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    message = "pyproject.toml:7: [[tool.aisupply.waive]] path: bad glob '/abs': must be relative to the project root"
    assert message in result.stderr.str()


def test_a_project_without_the_table_loads_only_the_plugins_wiring(pytester: pytest.Pytester) -> None:
    """Issue 17: without ``[tool.aisupply]`` the plugin stays out of the way, and costs only its wiring
    (not the configuration parser, nor the public types of the package)."""
    pytester.makepyprojecttoml("[tool.black]\nline-length = 100\n")
    pytester.makeconftest(_report_modules())
    pytester.makepyfile(test_app="def test_app():\n    pass\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-s")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)
    assert _heavy_report(result) == ("-", "False")
    assert set(_loaded(result, "ALL-OURS")) == NO_TABLE_MODULES


def test_code_without_artifacts_loads_the_code_analysis_but_no_format_reader(pytester: pytest.Pytester) -> None:
    """A code file and no artifact: the code rules read it (code/ is loaded), formats/ is not."""
    _reporting_project(pytester)
    (pytester.path / "src" / "app.py").write_text("def add(a, b):\n    return a + b\n")

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-s", "--aisupply-only"
    )
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED, result.stdout.str() + result.stderr.str()
    own = _loaded(result, "OWN-LOADED")
    assert "pytest_aisupply.inventory.code_files" in own
    assert not [name for name in own if name.startswith(("pytest_aisupply.formats", "pytest_aisupply.hub.api"))], own


def test_our_module_report_sees_the_readers_once_there_is_an_artifact(pytester: pytest.Pytester) -> None:
    """The control for the two tests above: one pickle file, and the readers and the rules that check
    artifacts are loaded, and the check fails as it should."""
    _reporting_project(pytester)
    (pytester.path / "models" / "clf.pkl").write_bytes(pickle.dumps(os.system))

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-s", "--aisupply-only"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no-pickle*models/clf.pkl*"])
    own = _loaded(result, "OWN-LOADED")
    assert "pytest_aisupply.formats.pickle" in own
    assert not [name for name in own if name.startswith("pytest_aisupply.code.")], own
    rules = _loaded(result, "RULES-LOADED")
    assert "pytest_aisupply.rules.no_pickle" in rules
    assert not [name for name in rules if name.endswith(("pinned_revision", "signature", "source"))], rules


# -- the same verdicts per file, whatever the granularity and with xdist ----------------------------

WAIVER_REASON = "vendor baseline, replaced in Q3"


def build_mixed_tree(root: Path) -> None:
    """Artifacts that pass, fail, warn and are waived, in several folders, a code file with an
    unpinned Hub reference, and (written by the caller's update) a lockfile."""
    (root / "pyproject.toml").write_text(
        "[tool.aisupply]\n"
        'artifacts = ["models", "data"]\n'
        'code = ["src"]\n'
        "[tool.aisupply.rules]\n"
        'safetensors = "warn"\n'
        "[[tool.aisupply.waive]]\n"
        'rule = "no-pickle"\n'
        'path = "models/legacy/*.pkl"\n'
        f'reason = "{WAIVER_REASON}"\n'
    )
    good, legacy, data = root / "models" / "good", root / "models" / "legacy", root / "data" / "shard-0"
    for folder in (good, legacy, data, root / "data" / "shard-1", root / "src"):
        folder.mkdir(parents=True)
    save_file({"w": np.zeros((2, 3), np.float32)}, str(good / "weights.safetensors"))
    header = (good / "weights.safetensors").read_bytes()
    (good / "broken.safetensors").write_bytes(b"\xff\xff\x00\x00\x00\x00\x00\x00" + header[8:])
    np.save(good / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    (legacy / "old.pkl").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    (legacy / "clf.pkl").write_bytes(pickle.dumps(os.system))
    for shard in ("shard-0", "shard-1"):
        for index in range(12):
            np.save(root / "data" / shard / f"x{index:02}.npy", np.arange(index + 1, dtype=np.int64))
    (root / "data" / "shard-1" / "labels.pkl").write_bytes(pickle.dumps(os.system))
    (root / "src" / "train.py").write_text(
        "from transformers import AutoModel\n\nmodel = AutoModel.from_pretrained('org/model')\n"
    )


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--aisupply-only", "-rA", *args
    )


def _verdicts(pytester: pytest.Pytester, result: pytest.RunResult) -> dict[str, Any]:
    """What a user reads per file: the SARIF results, the summary's counts and waived list."""
    sarif = json.loads((pytester.path / "out.sarif").read_text())
    results = sorted(
        (
            item["ruleId"],
            item["level"],
            item["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            item["message"]["text"],
        )
        for item in sarif["runs"][0]["results"]
    )
    text = result.stdout.str()
    counts = re.search(r"^\d+ checks?: .*$", text, re.M)
    return {
        "results": results,
        "counts": counts[0] if counts else None,
        "formats": re.findall(r"^artifacts by format: .*$", text, re.M),
        "waived": sorted(re.findall(r"^waived: .*$", text, re.M)),
    }


@pytest.fixture
def mixed_tree(pytester: pytest.Pytester) -> Path:
    build_mixed_tree(pytester.path)
    update = _run(pytester, "--aisupply-update")
    assert (pytester.path / "aisupply.lock").is_file(), update.stdout.str()
    # a reviewed file changed after the review: integrity fails for it
    np.save(pytester.path / "data" / "shard-0" / "x03.npy", np.arange(99, dtype=np.int64))
    return pytester.path


SHAPES = {
    "file-xdist-2": ["-n", "2"],
    "folder": ["--aisupply-granularity=folder"],
    "folder-xdist-2": ["--aisupply-granularity=folder", "-n", "2"],
    "rule": ["--aisupply-granularity=rule"],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_verdicts_per_file_are_the_same_for_every_granularity_and_with_xdist(
    pytester: pytest.Pytester, mixed_tree: Path, shape: str
) -> None:
    baseline = _run(pytester, "-n", "0", "--aisupply-sarif=out.sarif")
    expected = _verdicts(pytester, baseline)
    assert baseline.ret == pytest.ExitCode.TESTS_FAILED
    # the tree has every kind of verdict, so the comparison below compares something
    rules = {rule for rule, *_ in expected["results"]}
    assert {"no-pickle", "safetensors", "integrity", "pinned-revision"} <= rules, expected
    assert expected["waived"]
    assert WAIVER_REASON in expected["waived"][0]
    assert expected["counts"]
    assert "failed" in expected["counts"]
    assert "warned" in expected["counts"]

    other = _run(pytester, *SHAPES[shape], "--aisupply-sarif=out.sarif")
    assert other.ret == pytest.ExitCode.TESTS_FAILED
    assert _verdicts(pytester, other) == expected
    # a grouped failure still names every file that failed in it, with its findings
    failing_files = re.findall(r"^FAILED aisupply::([\w-]+)::(\S+) - ", baseline.stdout.str(), re.M)
    assert len(failing_files) >= 4, baseline.stdout.str()
    text = other.stdout.str()
    for rule, path in failing_files:
        assert re.search(rf"^\[aisupply\] {rule}: {re.escape(path)}[ :]", text, re.M), (rule, path)


def test_folder_granularity_collects_one_check_per_rule_and_folder(pytester: pytest.Pytester, mixed_tree: Path) -> None:
    result = _run(pytester, "--aisupply-granularity=folder", "--collect-only", "-q")
    ids = {line for line in result.stdout.lines if line.startswith("aisupply::")}
    assert "aisupply::no-pickle::data/shard-0/" in ids
    assert "aisupply::no-pickle::models/legacy/" in ids
    assert "aisupply::pinned-revision::src/" in ids
    assert not any(line.endswith(".npy") for line in ids), ids

    per_rule = _run(pytester, "--aisupply-granularity=rule", "--collect-only", "-q")
    assert "aisupply::no-pickle::all" in per_rule.stdout.lines


def test_granularity_from_pyproject_and_the_lockfile_stays_per_file(pytester: pytest.Pytester) -> None:
    build_mixed_tree(pytester.path)
    per_file = _run(pytester, "--aisupply-update")
    assert (pytester.path / "aisupply.lock").is_file(), per_file.stdout.str()
    written_per_file = (pytester.path / "aisupply.lock").read_bytes()
    (pytester.path / "aisupply.lock").unlink()

    text = (pytester.path / "pyproject.toml").read_text()
    grouped = text.replace("[tool.aisupply]\n", '[tool.aisupply]\ngranularity = "folder"\n', 1)
    (pytester.path / "pyproject.toml").write_text(grouped)
    per_folder = _run(pytester, "--aisupply-update")
    per_folder.stdout.fnmatch_lines(["*aisupply::no-pickle::models/legacy/*"])
    assert (pytester.path / "aisupply.lock").read_bytes() == written_per_file


def test_unknown_granularity_names_the_key(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.aisupply]\ngranularity = "directory"\n')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(['*pyproject.toml:2:*granularity*expected "file", "folder" or "rule"*'])


def test_a_file_check_id_selects_the_folder_check_that_covers_it(pytester: pytest.Pytester, mixed_tree: Path) -> None:
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-rA",
        "--aisupply-granularity=folder", "aisupply::no-pickle::data/shard-1/labels.pkl",
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAILED aisupply::no-pickle::data/shard-1/ - *"])
    assert "[aisupply] no-pickle: data/shard-1/labels.pkl (raw pickle)" in result.stdout.str()


def test_report_paths_resolve_as_pathlib_does(tmp_path: Path) -> None:
    """Differential: the report path of a subject (checks._relative, which resolves each folder once)
    against pathlib's resolve().relative_to() on links to files and folders, inside and outside."""
    from pytest_aisupply.checks.records import _relative

    root, outside = tmp_path / "project", tmp_path / "elsewhere"
    (root / "data" / "real").mkdir(parents=True)
    outside.mkdir()
    (root / "data" / "real" / "a.npy").write_bytes(b"x")
    (outside / "b.npy").write_bytes(b"x")
    (root / "data" / "linked").symlink_to(root / "data" / "real")
    (root / "data" / "away").symlink_to(outside)
    (root / "data" / "file-link.npy").symlink_to(root / "data" / "real" / "a.npy")
    (root / "data" / "escape.npy").symlink_to(outside / "b.npy")
    (tmp_path / "root-link").symlink_to(root)
    paths = [
        root / "data" / "real" / "a.npy",
        root / "data" / "linked" / "a.npy",
        root / "data" / "away" / "b.npy",
        root / "data" / "file-link.npy",
        root / "data" / "escape.npy",
        root / "data" / "missing.npy",
        root / "data" / ".." / "data" / "real" / "a.npy",
        root,
        outside / "b.npy",
    ]
    for shown_root in (root, tmp_path / "root-link"):
        for path in paths:
            try:
                expected = path.resolve().relative_to(shown_root.resolve()).as_posix()
            except ValueError:
                expected = path.as_posix()
            assert _relative(path, shown_root) == expected, path
            if not path.is_symlink():  # what the walk found as a regular file: no link check
                assert _relative(path, shown_root, plain=True) == expected, path


# -- the fast paths give what the paths they replace give (differential) -------------------------


def _small_artifacts(root: Path) -> list[Path]:
    """Small files of every kind the readers tell apart: each is read whole by the sniff."""
    from helpers.artifacts import (
        PNG_MAGIC,
        global_reference_pickle,
        gzip_bytes,
        safetensors_bytes,
        tar_bytes,
        torch_like_zip_bytes,
        write_npy,
        write_npz,
        zip_bytes,
    )

    plain = pickle.dumps({"labels": [1, 2, 3]}, protocol=4)
    hostile = global_reference_pickle()
    files = {
        "plain.pkl": plain,
        "hostile.pkl": hostile,
        "protocol0.pkl": pickle.dumps([1, "a"], protocol=0),
        "truncated.pkl": hostile[:-3],
        "model.zip": zip_bytes({"data.pkl": hostile, "notes.txt": b"hello"}),
        "torch.pt": torch_like_zip_bytes(plain),
        "torch-hostile.pt": torch_like_zip_bytes(hostile),
        "bundle.tar": tar_bytes({"inner/model.pkl": hostile}),
        "state.pkl.gz": gzip_bytes(hostile),
        "weights.safetensors": safetensors_bytes(
            {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(8)
        ),
        "bad.safetensors": b"\xff" * 8 + b"{}",
        "image.png": PNG_MAGIC + bytes(64),
        "readme.txt": b"just text\n",
        "polyglot.txt": b"just text\n" + zip_bytes({"x.pkl": hostile}),
        "noise.bin": bytes(range(256)) * 4,
        "bad-header.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': <f8}  \n",
        "bad-header-again.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': <f8}  \n",
        "strange-dtype.npy": b"\x93NUMPY\x01\x00\x20\x00{'descr': 'i4,O', 'shape': ()}\n",
    }
    paths = []
    for name, data in files.items():
        (root / name).write_bytes(data)
        paths.append(root / name)
    paths.append(write_npy(root / "numeric.npy"))
    paths.append(write_npy(root / "numeric-again.npy"))
    paths.append(write_npy(root / "objects.npy", objects=True))
    paths.append(write_npz(root / "arrays.npz", objects=True))
    return paths


def test_facts_from_the_sniffed_content_are_the_facts_from_the_file(tmp_path: Path) -> None:
    """A small file's facts are read from the bytes its sniff took in (one read per file): the same
    facts, field by field, as reading the file again, for every kind of small file; a file larger
    than the first read is read from disk."""
    from pytest_aisupply.formats import HEAD_SIZE, analyze_path, builtin_readers
    from pytest_aisupply.formats.core import analyze_content, sniff_file, sniff_path

    readers = builtin_readers()
    paths = _small_artifacts(tmp_path)
    compared = 0
    for path in paths:
        sniffed = sniff_file(path, readers)
        assert (sniffed.name, sniffed.artifact) == sniff_path(path, readers), path
        if path.stat().st_size > HEAD_SIZE:  # a tar archive is 10 KiB at least
            assert sniffed.content is None, path
            continue
        assert sniffed.content == path.read_bytes(), path
        from_file = analyze_path(path, readers)
        assert analyze_content(sniffed.content, readers) == from_file, path
        assert analyze_content(sniffed.content, readers, None, sniffed.reader) == from_file, path
        compared += 1
    assert compared >= len(paths) - 2

    large = tmp_path / "large.pkl"
    large.write_bytes(pickle.dumps(list(range(HEAD_SIZE)), protocol=4))
    assert sniff_file(large, readers).content is None


def test_facts_of_a_repeated_npy_header_are_the_same_each_time(tmp_path: Path) -> None:
    """.npy headers are parsed once per distinct text: a header seen before (valid or not) gives
    the same facts as the first time."""
    from pytest_aisupply.formats import analyze_path, builtin_readers

    readers = builtin_readers()
    paths = _small_artifacts(tmp_path)
    by_name = {path.name: path for path in paths}
    for first, again in (("bad-header.npy", "bad-header-again.npy"), ("numeric.npy", "numeric-again.npy")):
        facts = analyze_path(by_name[first], readers)
        assert analyze_path(by_name[again], readers) == facts
        assert analyze_path(by_name[first], readers) == facts
    assert any(
        "not a valid Python literal" in p.message for p in analyze_path(by_name["bad-header.npy"], readers).problems
    )
    assert analyze_path(by_name["strange-dtype.npy"], readers).problems  # fails closed


@pytest.mark.skipif(os.name == "nt", reason="POSIX names and links")
def test_walked_relpaths_are_display_relpath_of_each_path(tmp_path: Path) -> None:
    """The walk builds each file's project-relative text from its folder's; it equals
    display_relpath of the file's path, for odd names, links, nested folders and a sub-root."""
    from pytest_aisupply.inventory.discovery import Walker, display_relpath

    root = tmp_path / "project"
    for folder in ("data/a b", "data/back\\slash", "data/deep/er/still", "models"):
        (root / folder).mkdir(parents=True)
    for relpath in (
        "data/a b/x.npy",
        "data/back\\slash/y\\z.pkl",
        "data/deep/er/still/w.pt",
        "models/m.bin",
        "top.pkl",
    ):
        (root / relpath).write_bytes(b"x")
    (root / "models" / "link.bin").symlink_to(root / "models" / "m.bin")
    (root / "models" / "broken.bin").symlink_to(root / "models" / "gone.bin")
    (root / "models" / "out.bin").symlink_to(tmp_path)
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "data" / "pipe")
    if os.uname().sysname == "Linux":
        with open(os.path.join(os.fsencode(root / "data"), b"caf\xe9.npy"), "wb") as handle:
            handle.write(b"x")

    for entries in (["."], ["data", "models"], ["data/deep"], ["data/**/*.npy"]):
        found = Walker(root, []).files(entries)
        assert found, entries
        for item in found:
            assert item.relpath == display_relpath(item.path, root), item
    everything = Walker(root, []).files(["."])
    problems = {item.relpath: item.problem for item in everything if item.problem}
    assert set(problems) >= {"models/broken.bin", "models/out.bin"}
    assert "models/link.bin" in {item.relpath for item in everything if item.problem is None}


def test_check_locations_are_pytests_own(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Differential: a check's location (items._location_path, which asks pytest once per folder)
    against pytest's bestrelpath of the absolute path, for paths inside, beside and above the
    rootdir."""
    from _pytest.pathlib import bestrelpath

    from pytest_aisupply.checks.items import _location_path

    session = request.session
    root = session.config.rootpath
    paths = [
        root / "pyproject.toml",
        root / "data" / "x.npy",
        root / "data" / "x.npy",
        root / "data" / "deep" / "y.npy",
        root,
        root.parent,
        root.parent / "sibling" / "z.npy",
        tmp_path / "elsewhere.npy",
        Path("relative/inside.npy"),
        root / "data" / ".." / "data" / "x.npy",
        Path(root.anchor),
    ]
    for path in paths:
        assert _location_path(session, path) == bestrelpath(root, Path(os.path.abspath(path))), path


def test_pickle_policy_is_built_once_and_allows_what_a_new_one_allows() -> None:
    from pytest_aisupply.rules.pickle_policy import PicklePolicy, policy_for

    extra = ["sklearn.*", "mypkg.Model"]
    assert policy_for(extra) is policy_for(tuple(extra))
    fresh = PicklePolicy.from_settings(extra)
    for dotted in ("sklearn.tree.DecisionTree", "mypkg.Model", "mypkg.Other", "os.system", "sklearn.__globals__"):
        assert policy_for(extra).allows(dotted) == fresh.allows(dotted), dotted
