"""Hub content verdicts: the files pinned references load are read at ``--aisupply-update`` (a few
kilobytes over HTTP ranges), their facts recorded in the lockfile, and judged offline by the artifact
rules with today's settings."""

from __future__ import annotations

import pickle
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from helpers.hub_server import HubServer

# protocol 2: NEWOBJ of mypkg.Thing with no arguments; a global no default allowlist holds
MIT = {"license": "mit"}
CUSTOM_GLOBAL = b"\x80\x02cmypkg\nThing\n)\x81."


class Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, ("echo pwned",)


def safetensors_bytes() -> bytes:
    from safetensors.numpy import save

    return save({"weight": np.zeros(4096, dtype=np.float32)})


def project(pytester: pytest.Pytester, call: str, settings: str = "") -> None:
    pytester.makepyprojecttoml(f"[tool.aisupply]\ncode = ['src']\nartifacts = []\n{settings}\n")
    src = pytester.mkdir("src") if not (pytester.path / "src").exists() else pytester.path / "src"
    (src / "serve.py").write_text(
        textwrap.dedent(
            """
            from huggingface_hub import hf_hub_download
            from transformers import AutoModel

            def load():
                return {call}
            """
        ).format(call=call)
    )


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf", *args, timeout=240)


def from_pretrained(sha: str, repo: str = "org/model") -> str:
    return f'AutoModel.from_pretrained("{repo}", revision="{sha}")'


@pytest.mark.usefixtures("hub_env")
def test_pickle_only_repo_fails_no_pickle_offline_and_scan_mode_judges_it(
    pytester: pytest.Pytester, hub: HubServer
) -> None:
    sha = hub.add_repo(
        "org/model",
        card=MIT,
        files={"pytorch_model.bin": pickle.dumps({"w": [1.0, 2.0]}, protocol=2), "config.json": b"{}"},
    )
    project(pytester, from_pretrained(sha))
    updated = run(pytester, "--aisupply-update")
    updated.stdout.fnmatch_lines(["  added    model org/model@*"])
    lock = (pytester.path / "aisupply.lock").read_text()
    assert "version = 2" in lock
    assert 'format = "pickle' in lock

    hub.stop()  # verdicts come from the lockfile alone
    forbid = run(pytester)
    assert forbid.ret == pytest.ExitCode.TESTS_FAILED
    forbid.stdout.fnmatch_lines([f"FAILED aisupply::no-pickle::hf://org/model@{sha}/pytorch_model.bin*"])

    project(pytester, from_pretrained(sha), 'pickle = "scan"')
    scan = run(pytester)
    assert scan.ret == pytest.ExitCode.OK, scan.stdout.str()


@pytest.mark.usefixtures("hub_env")
def test_a_malicious_pickle_fails_in_scan_mode_naming_what_it_runs(pytester: pytest.Pytester, hub: HubServer) -> None:
    sha = hub.add_repo("org/model", card=MIT, files={"pytorch_model.bin": pickle.dumps(Payload(), protocol=2)})
    project(pytester, from_pretrained(sha), 'pickle = "scan"')
    run(pytester, "--aisupply-update")
    hub.stop()
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*no-pickle: hf://org/model@{sha}/pytorch_model.bin*", "*system*"])


@pytest.mark.usefixtures("hub_env")
def test_an_allowlist_change_flips_the_verdict_offline(pytester: pytest.Pytester, hub: HubServer) -> None:
    sha = hub.add_repo("org/model", card=MIT, files={"pytorch_model.bin": CUSTOM_GLOBAL})
    project(pytester, from_pretrained(sha), 'pickle = "scan"')
    run(pytester, "--aisupply-update")
    hub.stop()
    refused = run(pytester)
    assert refused.ret == pytest.ExitCode.TESTS_FAILED
    refused.stdout.fnmatch_lines(["*mypkg.Thing*"])
    project(pytester, from_pretrained(sha), 'pickle = "scan"\npickle_allowed_globals = ["mypkg.Thing"]')
    allowed = run(pytester)
    assert allowed.ret == pytest.ExitCode.OK, allowed.stdout.str()


@pytest.mark.usefixtures("hub_env")
def test_safetensors_beside_a_malicious_bin_pass_for_from_pretrained_and_hf_hub_download_of_the_safetensors(
    pytester: pytest.Pytester, hub: HubServer
) -> None:
    sha = hub.add_repo(
        "org/model",
        card=MIT,
        files={"model.safetensors": safetensors_bytes(), "pytorch_model.bin": pickle.dumps(Payload(), protocol=2)},
    )
    project(pytester, from_pretrained(sha))
    run(pytester, "--aisupply-update")
    passed = run(pytester)
    assert passed.ret == pytest.ExitCode.OK, passed.stdout.str()
    passed.stdout.no_fnmatch_line("*pytorch_model.bin*")

    # hf_hub_download loads exactly the file it names
    project(pytester, f'hf_hub_download("org/model", "pytorch_model.bin", revision="{sha}")')
    run(pytester, "--aisupply-update")
    failed = run(pytester)
    assert failed.ret == pytest.ExitCode.TESTS_FAILED
    failed.stdout.fnmatch_lines([f"FAILED aisupply::no-pickle::hf://org/model@{sha}/pytorch_model.bin*"])
    failed.stdout.no_fnmatch_line("*model.safetensors*")

    project(pytester, f'hf_hub_download("org/model", filename="model.safetensors", revision="{sha}")')
    run(pytester, "--aisupply-update")
    hub.stop()
    safe = run(pytester)
    assert safe.ret == pytest.ExitCode.OK, safe.stdout.str()
    safe.stdout.no_fnmatch_line("*pytorch_model.bin*")


@pytest.mark.usefixtures("hub_env")
def test_a_malicious_second_shard_fails_naming_the_shard(pytester: pytest.Pytester, hub: HubServer) -> None:
    index = b'{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}'
    sha = hub.add_repo(
        "org/model",
        card=MIT,
        files={
            "model.safetensors.index.json": index,
            "model-00001-of-00002.safetensors": safetensors_bytes(),
            "model-00002-of-00002.safetensors": pickle.dumps(Payload(), protocol=2),
        },
    )
    project(pytester, from_pretrained(sha))
    run(pytester, "--aisupply-update")
    hub.stop()
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"FAILED aisupply::no-pickle::hf://org/model@{sha}/model-00002-of-00002.safetensors*"])
    result.stdout.no_fnmatch_line("FAILED aisupply::no-pickle::*model-00001-of-00002*")


@pytest.mark.usefixtures("hub_env")
def test_a_version_1_lockfile_is_not_checked_yet_and_the_update_keeps_its_review_date(
    pytester: pytest.Pytester, hub: HubServer
) -> None:
    sha = hub.add_repo("org/model", card=MIT, files={"model.safetensors": safetensors_bytes()})
    project(pytester, from_pretrained(sha))
    run(pytester, "--aisupply-update")
    lock_path = pytester.path / "aisupply.lock"
    text = lock_path.read_text()
    text = re.sub(r"(?m)^(format|facts) = .*\n", "", text.replace("version = 2", "version = 1"))
    text = re.sub(r"reviewed = \d{4}-\d{2}-\d{2}", "reviewed = 2026-01-15", text)
    lock_path.write_text(text)

    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"  - found: not checked yet: ??hub?? model org/model@{sha} in aisupply.lock records no facts for "
            "model.safetensors",
            "    fix:   run `pytest --aisupply-update` with access to the Hub and review the lockfile diff",
        ],
        consecutive=True,
    )

    updated = run(pytester, "--aisupply-update")
    updated.stdout.fnmatch_lines(["  facts    model org/model@* (1 files read)"])
    migrated = lock_path.read_text()
    assert "version = 2" in migrated
    assert "reviewed = 2026-01-15" in migrated


@pytest.mark.usefixtures("hub_env")
def test_reading_costs_a_fraction_of_the_file(pytester: pytest.Pytester, hub: HubServer, tmp_path: Path) -> None:
    from safetensors.numpy import save

    big = save({"weight": np.zeros(4 * 1024 * 1024, dtype=np.float32)})  # 16 MiB
    sha = hub.add_repo("org/model", card=MIT, files={"model.safetensors": big})
    project(pytester, from_pretrained(sha))
    run(pytester, "--aisupply-update")
    assert 0 < hub.bytes_sent < len(big) // 100


@pytest.mark.usefixtures("hub_env")
def test_a_torch_zip_with_a_big_record_costs_a_fraction_of_it(pytester: pytest.Pytester, hub: HubServer) -> None:
    """A stored record of no known format inside the checkpoint (it fails as unrecognised) is not
    read to its end: zipfile seeks a member by reading forward before Python 3.12."""
    import io
    import zipfile

    torch = pytest.importorskip("torch", reason="the checkpoint's records come from a real torch.save")
    small = io.BytesIO()
    torch.save({"weight": torch.zeros(4)}, small)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(small.getvalue())) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr(zipfile.ZipInfo("archive/data/big"), bytes(32 << 20))
    checkpoint = out.getvalue()
    sha = hub.add_repo("org/model", card=MIT, files={"pytorch_model.bin": checkpoint})
    project(pytester, from_pretrained(sha))
    run(pytester, "--aisupply-update")
    assert 0 < hub.bytes_sent < len(checkpoint) // 100


@pytest.mark.usefixtures("hub_env")
def test_hub_files_are_waived_and_reported_like_local_artifacts(pytester: pytest.Pytester, hub: HubServer) -> None:
    import json

    content = pickle.dumps(Payload(), protocol=2)
    sha = hub.add_repo("org/model", card=MIT, files={"pytorch_model.bin": content})
    project(pytester, from_pretrained(sha))
    run(pytester, "--aisupply-update")
    hub.stop()
    failed = run(pytester, "--aisupply-bom=bom.json", "--aisupply-sarif=out.sarif")
    assert failed.ret == pytest.ExitCode.TESTS_FAILED
    bom = json.loads((pytester.path / "bom.json").read_text())
    (model,) = [c for c in bom["components"] if c["bom-ref"] == f"model:org/model@{sha}"]
    verdicts = {p["name"]: p["value"] for p in model.get("properties", [])}
    assert verdicts["aisupply:verdict:no-pickle:pytorch_model.bin"] == "failed"
    sarif = json.loads((pytester.path / "out.sarif").read_text())
    messages = [r["message"]["text"] for r in sarif["runs"][0]["results"] if r["ruleId"] == "no-pickle"]
    assert any("system" in message for message in messages), messages

    import hashlib

    waiver = (
        f'[[tool.aisupply.waive]]\nrule = "no-pickle"\npath = "hf://org/model@{sha}/pytorch_model.bin"\n'
        f'reason = "reviewed vendor checkpoint"\nsha256 = "{hashlib.sha256(content).hexdigest()}"\n'
    )
    project(pytester, from_pretrained(sha), waiver)
    waived = run(pytester)
    assert waived.ret == pytest.ExitCode.OK, waived.stdout.str()
    waived.stdout.fnmatch_lines(["*waived*"])


@pytest.mark.usefixtures("hub_env")
def test_a_lock_entry_no_code_references_is_judged_on_every_weight_like_file(
    pytester: pytest.Pytester, hub: HubServer
) -> None:
    """A [[hub]] entry the code no longer names (a run without update keeps it) still gets items: what
    it loads cannot be decided, so every weight-like file of its commit, judged from the recorded facts."""
    sha = hub.add_repo(
        "org/model",
        card=MIT,
        files={"model.safetensors": safetensors_bytes(), "pytorch_model.bin": pickle.dumps(Payload(), protocol=2)},
    )
    project(pytester, f'hf_hub_download("org/model", "pytorch_model.bin", revision="{sha}")')
    run(pytester, "--aisupply-update")
    hub.stop()
    project(pytester, "None")  # the reference is gone; the entry stays until the next update
    result = run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"FAILED aisupply::no-pickle::hf://org/model@{sha}/pytorch_model.bin*"])
    # the safetensors file had no reference loading it, so no facts were recorded: not checked yet
    result.stdout.fnmatch_lines(
        [
            f"  - found: not checked yet: ??hub?? model org/model@{sha} in aisupply.lock records no facts for "
            "model.safetensors",
            "    fix:   run `pytest --aisupply-update` with access to the Hub and review the lockfile diff (no code "
            "references this entry: the update removes it; or delete it by hand)",
        ],
        consecutive=True,
    )


@pytest.mark.usefixtures("hub_env")
def test_keras_files_on_the_hub_are_judged_by_unsafe_format_offline(
    pytester: pytest.Pytester, hub: HubServer, tmp_path: Path
) -> None:
    """A legacy Keras H5 file and a Keras v3 archive, each with a Lambda layer: their Keras facts are
    recorded at the update and the unsafe-format rule judges them from the lockfile alone."""
    pytest.importorskip("h5py", reason="h5py is not installed (pip install -e '.[test]')")
    from helpers.formats_extra import (
        dense_model,
        keras_archive_bytes,
        legacy_config,
        legacy_dense,
        legacy_lambda,
        nested_lambda_model,
        write_legacy_h5,
    )

    h5 = write_legacy_h5(tmp_path / "model.h5", legacy_config([legacy_dense("d"), legacy_lambda("scale")]))
    sha = hub.add_repo(
        "org/model",
        card=MIT,
        files={
            "model.h5": h5.read_bytes(),
            "model.keras": keras_archive_bytes(nested_lambda_model()),
            "dense.keras": keras_archive_bytes(dense_model()),
        },
    )
    project(pytester, f'hf_hub_download("org/model", "model.h5", revision="{sha}")')
    (pytester.path / "src" / "more.py").write_text(
        "from huggingface_hub import hf_hub_download\n"
        f"a = hf_hub_download('org/model', 'model.keras', revision='{sha}')\n"
        f"b = hf_hub_download('org/model', 'dense.keras', revision='{sha}')\n"
    )
    updated = run(pytester, "--aisupply-update")
    updated.stdout.fnmatch_lines(["  added    model org/model@*"])
    hub.stop()
    result = run(pytester, "-v")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"FAILED aisupply::unsafe-format::hf://org/model@{sha}/model.h5*",
            f"FAILED aisupply::unsafe-format::hf://org/model@{sha}/model.keras*",
        ],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(["*Keras Lambda layer 'scale'*"])
    result.stdout.no_fnmatch_line("FAILED aisupply::unsafe-format::*dense.keras*")
    result.stdout.fnmatch_lines(["*unsafe-format::hf://org/model@*/dense.keras PASSED*"])
