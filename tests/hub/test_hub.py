"""Hub faults at ``--aisupply-update``: each is a finding, the update ends, the lockfile keeps its bytes.

Runs under every supported huggingface_hub major (0.x requests, 1.x httpx, 2.x httpx2): ``.ci/run`` runs
this module in throw-away virtualenvs with 0.36 and 1.x besides the main one.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from safetensors.numpy import save

from helpers.hub_server import UNRESOLVABLE_ENDPOINT, HubServer, unused_endpoint

# A hang guard only (10x what the slowest fault needs with a 1 s timeout); never a speed assertion.
HANG_GUARD_SECONDS = 240


def safetensors_bytes() -> bytes:
    return save({"weight": np.zeros(1024, dtype=np.float32)})


def make_project(pytester: pytest.Pytester, sha: str) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\ncode = ['src']\nartifacts = []\n")
    src = pytester.mkdir("src")
    (src / "serve.py").write_text(
        textwrap.dedent(
            f"""
            from huggingface_hub import hf_hub_download

            def weights():
                return hf_hub_download("org/model", "model.safetensors", revision="{sha}")
            """
        )
    )


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=HANG_GUARD_SECONDS)


def reviewed_project(pytester: pytest.Pytester, hub: HubServer) -> bytes:
    """A project whose lockfile holds the reviewed entry of ``org/model``; returns the lockfile's bytes."""
    sha = hub.add_repo(
        "org/model",
        card={"license": "mit"},
        files={"model.safetensors": safetensors_bytes(), "config.json": b'{"hidden": 4}'},
    )
    make_project(pytester, sha)
    first = run(pytester, "--aisupply-update")
    assert first.ret == pytest.ExitCode.OK, first.stdout.str()
    first.stdout.fnmatch_lines(["  added    model org/model@*"])
    return (pytester.path / "aisupply.lock").read_bytes()


@pytest.mark.usefixtures("hub_env")
@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("refused", "could not connect (check HF_ENDPOINT, proxies and the network)"),
        ("unresolvable", "the Hub's host name could not be resolved (DNS*"),
        ("slow", "no answer within 1 s (timeout; HF_HUB_DOWNLOAD_TIMEOUT sets it)*"),
        ("401", "access denied (HTTP 401): the repository is gated or private; set HF_TOKEN*"),
        ("403", "access denied (HTTP 403): the repository is gated or private; set HF_TOKEN*"),
        ("404", "not found (HTTP 404)*"),
        ("500", "the Hub failed (HTTP 500)*"),
        ("redirect-loop", "too many redirects (a redirect loop)*"),
        ("truncated", "the answer was cut off or broken*"),
        ("not-json", "the Hub's answer could not be read*"),
        ("malformed", "the Hub's answer could not be read*"),
    ],
)
def test_a_hub_fault_is_a_finding_and_the_lockfile_keeps_its_bytes(
    pytester: pytest.Pytester, hub: HubServer, monkeypatch: pytest.MonkeyPatch, fault: str, message: str
) -> None:
    reviewed = reviewed_project(pytester, hub)
    monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "1")
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "1")
    if fault == "refused":
        monkeypatch.setenv("HF_ENDPOINT", unused_endpoint())
    elif fault == "unresolvable":
        monkeypatch.setenv("HF_ENDPOINT", UNRESOLVABLE_ENDPOINT)
    else:
        hub.set_fault(fault)

    result = run(pytester, "--aisupply-update")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*found: could not be recorded: model org/model@*: {message}*"])
    result.stdout.no_fnmatch_line("*internal error*")
    result.stdout.fnmatch_lines(["*aisupply.lock: unchanged*"])
    assert (pytester.path / "aisupply.lock").read_bytes() == reviewed


@pytest.mark.usefixtures("hub_env")
@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("ignore-range", "the server ignored the Range request for model.safetensors (HTTP 200*"),
        ("bad-content-range", "wrong Content-Range for model.safetensors*"),
        ("short-body", "short answer for model.safetensors*"),
        ("long-body", "oversized answer for model.safetensors*"),
        ("500", "the Hub failed (HTTP 500)*"),
    ],
)
def test_a_fault_while_reading_a_file_is_a_finding_and_the_lockfile_keeps_its_bytes(
    pytester: pytest.Pytester, hub: HubServer, monkeypatch: pytest.MonkeyPatch, fault: str, message: str
) -> None:
    """The file list answers, the ranged read of a file the reference loads does not."""
    reviewed = reviewed_project(pytester, hub)
    monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "1")
    hub.set_fault(fault, match="/resolve/")
    result = run(pytester, "--aisupply-update")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*found: could not be checked: model org/model@*: model.safetensors: *{message}"])
    result.stdout.no_fnmatch_line("*internal error*")
    assert (pytester.path / "aisupply.lock").read_bytes() == reviewed


@pytest.mark.usefixtures("hub_env")
def test_a_fault_in_one_later_call_still_keeps_the_entry(pytester: pytest.Pytester, hub: HubServer) -> None:
    """The file list answers, the branch history does not: the entry is not rebuilt from half an answer."""
    reviewed = reviewed_project(pytester, hub)
    hub.set_fault("500", match=r"/api/models/org/model/refs")
    result = run(pytester, "--aisupply-update")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*could not be recorded: model org/model@*: branches and tags: the Hub failed (HTTP 500)*"]
    )
    assert (pytester.path / "aisupply.lock").read_bytes() == reviewed


@pytest.mark.usefixtures("hub_env")
def test_an_internal_error_in_the_check_keeps_the_entry(pytester: pytest.Pytester, hub: HubServer) -> None:
    """Layer two: whatever breaks inside the item, the lock writer keeps what was reviewed."""
    reviewed = reviewed_project(pytester, hub)
    # stands for a bug in the plugin: the check of the Hub reference raises
    pytester.makeconftest(
        """
        import pytest_aisupply.hub.api as api

        def broken(*args, **kwargs):
            raise RuntimeError("injected bug")

        api.fetch_entry = broken  # the integrity check imports it when it asks the Hub
        """
    )
    result = run(pytester, "--aisupply-update")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*internal error*RuntimeError: injected bug*"])
    assert (pytester.path / "aisupply.lock").read_bytes() == reviewed


@pytest.mark.usefixtures("hub_env")
def test_a_reference_gone_from_the_code_is_pruned(pytester: pytest.Pytester, hub: HubServer) -> None:
    reviewed_project(pytester, hub)
    other = hub.add_repo("org/other", card={"license": "mit"}, files={"config.json": b"{}"})
    (pytester.path / "src" / "serve.py").write_text(
        "from huggingface_hub import hf_hub_download\n\n"
        f"hf_hub_download('org/other', 'config.json', revision='{other}')\n"
    )
    result = run(pytester, "--aisupply-update")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["  added    model org/other@*", "  removed  model org/model@*"])
    assert "org/model" not in (pytester.path / "aisupply.lock").read_text()


def hub_block(lock_text: str, repo_id: str) -> str:
    """The text of the ``[[hub]]`` entry of ``repo_id`` (up to the next top-level entry)."""
    blocks = lock_text.split("\n[[hub]]\n")
    (block,) = [b for b in blocks[1:] if f'repo_id = "{repo_id}"' in b]
    return block


@pytest.mark.usefixtures("hub_env")
@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"from huggingface_hub import hf_hub_download\n\ndef broken(:\n", "does not parse as Python (line 3)*"),
        (b"x = '\xff\xfe not utf-8'\n", "not UTF-8 (byte 5)*"),
    ],
    ids=["syntax-error", "undecodable"],
)
def test_a_code_file_that_cannot_be_read_keeps_every_hub_entry(
    pytester: pytest.Pytester, hub: HubServer, content: bytes, why: str
) -> None:
    """The update cannot see which references a broken file holds: no [[hub]] entry is pruned, the
    entry of the broken file's reference keeps its bytes (facts and review date), and a finding names
    the file; the other references are still recorded."""
    reviewed = reviewed_project(pytester, hub).decode()
    other = hub.add_repo("org/other", card={"license": "mit"}, files={"config.json": b"{}"})
    (pytester.path / "src" / "other.py").write_text(
        "from huggingface_hub import hf_hub_download\n\n"
        f"hf_hub_download('org/other', 'config.json', revision='{other}')\n"
    )
    (pytester.path / "src" / "serve.py").write_bytes(content)

    result = run(pytester, "--aisupply-update")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "?aisupply? integrity: src/serve.py: 1 finding",
            f"  - found: its Hub references could not be read ({why}); every ??hub?? entry of the lockfile is kept "
            "as it is, none pruned",
        ],
        consecutive=True,
    )
    result.stdout.fnmatch_lines(["*no ??hub?? entry pruned: the Hub references of src/serve.py could not be read*"])
    result.stdout.no_fnmatch_line("*removed*")
    result.stdout.no_fnmatch_line("*internal error*")
    written = (pytester.path / "aisupply.lock").read_text()
    assert hub_block(written, "org/model") == hub_block(reviewed, "org/model")
    assert 'repo_id = "org/other"' in written
