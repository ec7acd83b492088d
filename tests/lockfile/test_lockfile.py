"""The lockfile workflow against a local Hub server: update, review, drift, tamper, licenses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from helpers.hub_server import HubServer
from pytest_aisupply.lockfile.lock import LockError, read_lock


def _safetensors() -> bytes:
    from safetensors.numpy import save

    return save({"weight": np.zeros(1024, dtype=np.float32)})


SAFETENSORS = _safetensors()


def make_project(pytester: pytest.Pytester, sha: str, extra: str = "", repo: str = "org/model") -> None:
    pytester.makepyprojecttoml(f"[tool.aisupply]\nartifacts = ['models']\ncode = ['src']\n{extra}\n")
    models = pytester.mkdir("models")
    np.save(models / "features.npy", np.arange(6, dtype=np.float32))
    src = pytester.mkdir("src")
    (src / "serve.py").write_text(
        textwrap.dedent(
            f"""
            from huggingface_hub import hf_hub_download

            def weights():
                return hf_hub_download("{repo}", "model.safetensors", revision="{sha}")
            """
        )
    )


def add_model(hub: HubServer, repo: str = "org/model", license: str = "mit", **card: object) -> str:
    return hub.add_repo(
        repo,
        card={"license": license, **card},
        files={"model.safetensors": SAFETENSORS, "config.json": b'{"hidden": 4}'},
    )


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


@pytest.mark.usefixtures("hub_env")
@pytest.mark.parametrize("xdist_args", [[], ["-n", "2"]], ids=["serial", "xdist-2"])
def test_update_records_the_hub_and_rewrites_nothing_the_second_time(
    pytester: pytest.Pytester, hub: HubServer, xdist_args: list[str]
) -> None:
    sha = add_model(hub)
    make_project(pytester, sha)
    first = run(pytester)
    first.stdout.fnmatch_lines(["*no lockfile yet*"])
    assert first.ret == pytest.ExitCode.TESTS_FAILED

    updated = run(pytester, "--aisupply-update", *xdist_args)
    updated.assert_outcomes(passed=updated.parseoutcomes()["passed"])
    updated.stdout.fnmatch_lines(
        [
            "*aisupply.lock: written; review the diff before committing it",
            "  added    models/features.npy",
            "  added    model org/model@*",
        ]
    )
    lock_path = pytester.path / "aisupply.lock"
    lock = read_lock(lock_path)
    (entry,) = lock.hub.values()
    assert entry.revision == sha
    assert entry.license == ("mit",)
    assert entry.reachable_from == ("refs/heads/main",)
    files = {item.path: item for item in entry.files}
    assert files["model.safetensors"].sha256 == hub.files("org/model", sha)["model.safetensors"].sha256
    assert files["config.json"].git_sha1 == hub.files("org/model", sha)["config.json"].git_sha1
    written = lock_path.read_bytes()

    again = run(pytester, "--aisupply-update", *xdist_args)
    again.stdout.fnmatch_lines(["*aisupply.lock: unchanged*"])
    assert lock_path.read_bytes() == written

    hub.stop()  # normal runs are offline: they only read the lockfile
    run(pytester).assert_outcomes(passed=again.parseoutcomes()["passed"])


@pytest.mark.usefixtures("hub_env")
def test_changed_artifact_fails_naming_both_hashes(pytester: pytest.Pytester, hub: HubServer) -> None:
    make_project(pytester, add_model(hub))
    run(pytester, "--aisupply-update")
    features = pytester.path / "models" / "features.npy"
    data = bytearray(features.read_bytes())
    data[-1] ^= 0xFF
    features.write_bytes(bytes(data))
    result = run(pytester, "-k", "integrity")
    result.assert_outcomes(failed=1, passed=1, deselected=result.parseoutcomes().get("deselected", 0))
    result.stdout.fnmatch_lines(
        ["*found: content differs from the lockfile: sha256 * (size 152), reviewed * (size 152)*"]
    )


@pytest.mark.usefixtures("hub_env")
def test_tampered_hf_cache_fails_offline(pytester: pytest.Pytester, hub: HubServer, hub_env: dict[str, str]) -> None:
    sha = add_model(hub)
    make_project(pytester, sha)
    run(pytester, "--aisupply-update")
    download = (
        "from huggingface_hub import hf_hub_download; "
        f"print(hf_hub_download('org/model', 'model.safetensors', revision='{sha}'))"
    )
    path = subprocess.run([sys.executable, "-c", download], env=hub_env, capture_output=True, text=True, check=True)
    cached = Path(path.stdout.strip().splitlines()[-1])
    assert cached.is_file()
    run(pytester).assert_outcomes(passed=run(pytester).parseoutcomes()["passed"])

    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        blob = cached.resolve()
        blob.chmod(0o644)
        blob.write_bytes(b"\x01" * 4096)
        result = run(pytester, "-k", "integrity and org")
    finally:
        del os.environ["HF_HUB_OFFLINE"]
    result.assert_outcomes(failed=1, deselected=result.parseoutcomes().get("deselected", 0))
    result.stdout.fnmatch_lines(["*found: cached file model.safetensors was modified: sha256 *, reviewed *"])


@pytest.mark.usefixtures("hub_env")
def test_commit_only_on_a_pull_request_is_flagged_at_update(pytester: pytest.Pytester, hub: HubServer) -> None:
    add_model(hub)
    _number, pr_sha = hub.add_pr("org/model", {"model.safetensors": b"\x02" * 4096})
    make_project(pytester, pr_sha)
    result = run(pytester, "--aisupply-update", "-k", "integrity and org")
    result.assert_outcomes(failed=1, deselected=result.parseoutcomes().get("deselected", 0))
    result.stdout.fnmatch_lines(["*the pinned commit is not on any branch or tag (reachable from: refs/pr/1)*"])


@pytest.mark.usefixtures("hub_env")
def test_update_keeps_entries_of_deselected_subjects(pytester: pytest.Pytester, hub: HubServer) -> None:
    make_project(pytester, add_model(hub))
    run(pytester, "--aisupply-update")
    (pytester.path / "models" / "features.npy").unlink()
    np.save(pytester.path / "models" / "other.npy", np.zeros(2))
    partial = run(pytester, "--aisupply-update", "-k", "other")
    partial.stdout.fnmatch_lines(["  added    models/other.npy"])
    lock = read_lock(pytester.path / "aisupply.lock")
    assert "models/features.npy" in lock.artifacts  # not collected this run: kept
    full = run(pytester, "--aisupply-update")
    full.stdout.fnmatch_lines(["  removed  models/features.npy"])


@pytest.mark.usefixtures("hub_env")
@pytest.mark.parametrize(
    ("license", "allowed", "passes"),
    [
        ("cc-by-nc-4.0", "['apache-2.0', 'mit']", False),
        ("MIT", "['mit']", True),
        ("mit", "['MIT']", True),
        ("Apache-2.0 OR MIT", "['mit']", True),
        ("Apache-2.0 AND MIT", "['mit']", False),
        ("unknown", "['mit']", False),
        ("gpl-3.0", "['GPL-3.0-only']", True),
    ],
)
def test_license_policy(pytester: pytest.Pytester, hub: HubServer, license: str, allowed: str, passes: bool) -> None:
    make_project(pytester, add_model(hub, license=license), extra=f"allowed_licenses = {allowed}")
    run(pytester, "--aisupply-update")
    result = run(pytester, "-k", "license")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == (0 if passes else 1), result.stdout.str()
    if not passes:
        result.stdout.fnmatch_lines([f"*found: license {license}: *"])


@pytest.mark.usefixtures("hub_env")
def test_adapter_whose_base_model_is_not_locked_fails(pytester: pytest.Pytester, hub: HubServer) -> None:
    add_model(hub, repo="org/base", license="mit")
    sha = add_model(hub, repo="org/adapter", license="mit", base_model="org/base")
    make_project(pytester, sha, repo="org/adapter", extra="allowed_licenses = ['mit']")
    run(pytester, "--aisupply-update")
    result = run(pytester, "-k", "license")
    result.assert_outcomes(failed=1, deselected=result.parseoutcomes().get("deselected", 0))
    result.stdout.fnmatch_lines(["*found: base model org/base is not in the lockfile*"])


def test_source_rule(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        "[tool.aisupply]\nlockfile = ''\nallowed_sources = ['google/*']\ndenied_sources = ['google/bad-*']\n"
    )
    (pytester.path / "app.py").write_text(
        "from transformers import AutoModel\n"
        "SHA = '" + "a" * 40 + "'\n"
        "AutoModel.from_pretrained('google/bert', revision=SHA)\n"
        "AutoModel.from_pretrained('google/bad-model', revision=SHA)\n"
        "AutoModel.from_pretrained('random/model', revision=SHA)\n"
    )
    result = run(pytester, "-v", "-k", "source")
    result.stdout.fnmatch_lines(["*aisupply::source::model:google/bad-model FAILED*"])
    result.stdout.fnmatch_lines(["*aisupply::source::model:random/model FAILED*"])
    result.stdout.fnmatch_lines(["*aisupply::source::model:google/bert PASSED*"])
    result.stdout.fnmatch_lines(["*found: google/bad-model matches denied_sources pattern 'google/bad-*'*"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = 1\n[[artifact]\n", "aisupply.lock: invalid TOML"),
        (
            "version = 1\n\n[[artifact]]\npath = 'a.npy'\nformat = 'numpy'\nsize = 1\nreviewed = 2026-01-01\n",
            "aisupply.lock:3: [[artifact]] entry 1: missing field 'sha256'",
        ),
        ("version = 7\n", "unsupported lockfile version 7"),
    ],
)
def test_bad_lockfile_is_a_usage_error(pytester: pytest.Pytester, text: str, message: str) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\n")
    (pytester.path / "aisupply.lock").write_text(text)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "Traceback" not in result.stderr.str()
    with pytest.raises(LockError):
        read_lock(pytester.path / "aisupply.lock")


def test_stale_review_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\nmax_review_age_days = 30\n")
    np.save(pytester.path / "a.npy", np.arange(3))
    run(pytester, "--aisupply-update")
    lock_path = pytester.path / "aisupply.lock"
    lock_path.write_text(
        lock_path.read_text().replace(f"reviewed = {__import__('datetime').date.today()}", "reviewed = 2020-01-01")
    )
    result = run(pytester, "-k", "integrity")
    result.assert_outcomes(failed=1, deselected=result.parseoutcomes().get("deselected", 0))
    result.stdout.fnmatch_lines(["*stale review: reviewed on 2020-01-01, more than 30 days ago*"])


def test_unresolvable_revision_passes_when_the_lock_pins_the_repo(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\ncode = ['src']\nartifacts = ['src']\n")
    src = pytester.mkdir("src")
    (src / "load.py").write_text(
        "import os\nfrom transformers import AutoModel\n"
        "AutoModel.from_pretrained('org/locked', revision=os.environ['REV'])\n"
        "AutoModel.from_pretrained('org/other', revision=os.environ['REV'])\n"
    )
    sha = "a" * 40
    (pytester.path / "aisupply.lock").write_text(
        f"version = 1\n\n[[hub]]\nrepo_type = 'model'\nrepo_id = 'org/locked'\nrevision = '{sha}'\n"
        "license = ['mit']\ngated = 'false'\nbase_models = []\nreachable_from = ['refs/heads/main']\n"
        "reviewed = 2026-01-01\nfiles = []\n"
    )
    result = run(pytester, "-k", "pinned")
    result.assert_outcomes(failed=1, deselected=result.parseoutcomes().get("deselected", 0))
    result.stdout.fnmatch_lines(
        ["*[[]aisupply[]] pinned-revision: src/load.py: 1 finding", "*org/other*cannot be verified*"]
    )
