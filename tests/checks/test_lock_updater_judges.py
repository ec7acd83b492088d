"""An update judges what it records: a Hub reference recorded for the first time has no check in
that run (checks of Hub entries judge the lockfile as the run found it), so the update itself
reports the recorded entries that fail, and exits 1, instead of passing and leaving the failure to
the next run."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from helpers.artifacts import global_reference_pickle
from helpers.hub_server import HubServer


def safetensors_bytes() -> bytes:
    from safetensors.numpy import save

    return save({"weight": np.zeros(64, dtype=np.float32)})


def project(pytester: pytest.Pytester, sha: str, settings: str = "") -> None:
    pytester.makepyprojecttoml(f"[tool.aisupply]\ncode = ['src']\nartifacts = []\n{settings}\n")
    src = pytester.path / "src"
    src.mkdir(exist_ok=True)
    (src / "serve.py").write_text(
        textwrap.dedent(
            f"""
            from transformers import AutoModel

            def load():
                return AutoModel.from_pretrained("org/model", revision="{sha}")
            """
        )
    )


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=240)


@pytest.mark.usefixtures("hub_env")
@pytest.mark.parametrize("xdist_args", [[], ["-n", "2"]], ids=["serial", "xdist-2"])
def test_first_update_fails_on_a_license_outside_the_allowed_ones(
    pytester: pytest.Pytester, hub: HubServer, xdist_args: list[str]
) -> None:
    sha = hub.add_repo("org/model", card={"license": "cc-by-nc-4.0"}, files={"model.safetensors": safetensors_bytes()})
    project(pytester, sha, "allowed_licenses = ['mit']")
    update = run(pytester, "--aisupply-update", *xdist_args)
    assert update.ret == pytest.ExitCode.TESTS_FAILED, update.stdout.str()
    update.stdout.fnmatch_lines(
        [
            "  added    model org/model@*",
            "1 check(s) of what this update recorded fail *",
            f"  aisupply::license::model:org/model@{sha}",
            "    - found: license cc-by-nc-4.0: *",
        ]
    )
    assert "org/model" in (pytester.path / "aisupply.lock").read_text()  # recorded all the same

    hub.stop()
    offline = run(pytester)
    assert offline.ret == pytest.ExitCode.TESTS_FAILED
    offline.stdout.fnmatch_lines([f"FAILED aisupply::license::model:org/model@{sha}*"])
    # the next update judges the entry as a check of its own; nothing is judged twice
    hub.start()
    again = run(pytester, "--aisupply-update")
    assert again.ret == pytest.ExitCode.TESTS_FAILED
    assert "of what this update recorded fail" not in again.stdout.str()


@pytest.mark.usefixtures("hub_env")
def test_first_update_passes_when_what_it_records_passes(pytester: pytest.Pytester, hub: HubServer) -> None:
    sha = hub.add_repo("org/model", card={"license": "mit"}, files={"model.safetensors": safetensors_bytes()})
    project(pytester, sha, "allowed_licenses = ['mit']")
    update = run(pytester, "--aisupply-update")
    assert update.ret == pytest.ExitCode.OK, update.stdout.str()
    assert "of what this update recorded fail" not in update.stdout.str()


@pytest.mark.usefixtures("hub_env")
def test_first_update_fails_on_a_malicious_pickle_it_records(pytester: pytest.Pytester, hub: HubServer) -> None:
    sha = hub.add_repo(
        "org/model", card={"license": "mit"}, files={"pytorch_model.bin": global_reference_pickle(protocol=2)}
    )
    project(pytester, sha, 'pickle = "scan"\nallowed_licenses = ["mit"]')
    update = run(pytester, "--aisupply-update")
    assert update.ret == pytest.ExitCode.TESTS_FAILED, update.stdout.str()
    update.stdout.fnmatch_lines(
        [f"  aisupply::no-pickle::hf://org/model@{sha}/pytorch_model.bin", "    - found: *", "*system*"]
    )


@pytest.mark.usefixtures("hub_env")
def test_a_narrowed_update_judges_only_what_it_selected(pytester: pytest.Pytester, hub: HubServer) -> None:
    sha = hub.add_repo("org/model", card={"license": "cc-by-nc-4.0"}, files={"model.safetensors": safetensors_bytes()})
    project(pytester, sha, "allowed_licenses = ['mit']")
    update = run(pytester, "--aisupply-update", "-k", "integrity")
    assert "of what this update recorded fail" not in update.stdout.str()
