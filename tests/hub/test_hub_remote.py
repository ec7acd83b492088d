"""Reading Hub files over Range requests against the local Hub: verdict facts from a few kilobytes,
every bad answer a HubError, a matching local cache read from disk."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from helpers.hub_server import HubServer
from pytest_aisupply.hub.api import HubError, hub_cache_dir
from pytest_aisupply.hub.remote import BLOCK_SIZE, RemoteFacts, check_answer, read_hub_files
from pytest_aisupply.lockfile.lock import HubFile


def safetensors_bytes(megabytes: int = 4) -> bytes:
    from safetensors.numpy import save

    return save({"weight": np.zeros((megabytes * 1024 * 1024) // 4, dtype=np.float32)})


def locked(hub: HubServer, repo: str, sha: str, path: str) -> HubFile:
    served = hub.files(repo, sha)[path]
    if served.lfs:
        return HubFile(path, served.size, sha256=served.sha256)
    return HubFile(path, served.size, git_sha1=served.git_sha1)


def read(hub: HubServer, repo: str, sha: str, *paths: str, **kwargs: object) -> list[RemoteFacts]:
    items = [locked(hub, repo, sha, path) for path in paths]
    return list(read_hub_files("model", repo, sha, items, endpoint=hub.endpoint, token=False, **kwargs))  # type: ignore[arg-type]


@pytest.mark.usefixtures("hub_env")
def test_a_safetensors_verdict_costs_a_block(hub: HubServer) -> None:
    content = safetensors_bytes()
    sha = hub.add_repo("org/st", files={"model.safetensors": content})
    (result,) = read(hub, "org/st", sha, "model.safetensors")
    assert result.facts.format == "safetensors"
    assert result.facts.problems == []
    assert result.log.source == "hub"
    assert result.log.requests <= 2
    assert hub.bytes_sent == result.log.bytes <= 2 * BLOCK_SIZE < len(content) // 30


@pytest.mark.usefixtures("hub_env")
def test_a_torch_checkpoint_shows_its_pickle_imports_without_downloading_the_weights(
    hub: HubServer, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch", reason="needs torch to write a real checkpoint")
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return os.system, (f"touch {marker}",)

    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(1024 * 1024), "hook": Payload()}, buffer)
    sha = hub.add_repo("org/pt", files={"pytorch_model.bin": buffer.getvalue()})
    (result,) = read(hub, "org/pt", sha, "pytorch_model.bin")
    names = {name for fact in result.facts.pickles for name in fact.stream.import_names()}
    assert any(name.endswith(".system") for name in names), names
    assert result.log.bytes < len(buffer.getvalue()) // 10
    assert not marker.exists()


@pytest.mark.usefixtures("hub_env")
@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("ignore-range", "the server ignored the Range request for model.safetensors (HTTP 200"),
        ("bad-content-range", "wrong Content-Range for model.safetensors"),
        ("short-body", "short answer for model.safetensors"),
        ("long-body", "oversized answer for model.safetensors"),
        ("500", "the Hub failed (HTTP 500)"),
        ("403", "access denied (HTTP 403)"),
        ("redirect-loop", "too many redirects"),
    ],
)
def test_a_bad_ranged_answer_is_a_hub_error(hub: HubServer, fault: str, message: str) -> None:
    sha = hub.add_repo("org/st", files={"model.safetensors": safetensors_bytes()})
    hub.set_fault(fault, match="/resolve/")
    with pytest.raises(HubError, match=None) as raised:
        read(hub, "org/st", sha, "model.safetensors")
    assert message in str(raised.value)


@pytest.mark.parametrize(("status", "content_range"), [(200, None), (206, "bytes 0-9/100")])
def test_an_answer_that_is_not_the_range_asked_for_is_never_read_on(status: int, content_range: str | None) -> None:
    """A server sending a whole (endless) file for a range: the body is left unread, or read one chunk past."""
    consumed = 0

    def endless() -> Iterator[bytes]:
        nonlocal consumed
        while True:
            consumed += 1
            yield b"\0" * BLOCK_SIZE

    headers = {"Content-Range": content_range} if content_range else {}
    item = HubFile("model.safetensors", 100, sha256="a" * 64)
    with pytest.raises(ValueError, match=r"ignored the Range request|oversized answer"):
        check_answer(status, headers, {}, endless(), start=0, end=9, size=100, expected=item, revision="c" * 40)
    assert consumed <= 1


@pytest.mark.usefixtures("hub_env")
def test_an_etag_that_differs_from_the_locked_hash_is_a_hub_error(hub: HubServer) -> None:
    sha = hub.add_repo("org/st", files={"model.safetensors": safetensors_bytes(1)})
    served = hub.files("org/st", sha)["model.safetensors"]
    stale = HubFile("model.safetensors", served.size, sha256="0" * 64)
    with pytest.raises(HubError, match=r"the Hub's ETag .* differs from the locked sha256 0000"):
        list(read_hub_files("model", "org/st", sha, [stale], endpoint=hub.endpoint, token=False))


@pytest.mark.usefixtures("hub_env")
def test_the_byte_budget_bounds_a_read_and_is_a_problem(hub: HubServer) -> None:
    sha = hub.add_repo("org/st", files={"model.safetensors": safetensors_bytes()})
    (result,) = read(hub, "org/st", sha, "model.safetensors", budget=1024)
    assert result.log.bytes == 0
    assert any("budget" in problem.message for problem in result.facts.problems)


@pytest.mark.usefixtures("hub_env")
def test_a_matching_cached_snapshot_is_read_from_disk_and_a_tampered_one_from_the_hub(hub: HubServer) -> None:
    from huggingface_hub import hf_hub_download

    sha = hub.add_repo("org/st", files={"model.safetensors": safetensors_bytes(1)})
    cached = hf_hub_download(
        "org/st", "model.safetensors", revision=sha, cache_dir=hub_cache_dir(), endpoint=hub.endpoint, token=False
    )
    before = hub.bytes_sent
    (result,) = read(hub, "org/st", sha, "model.safetensors")
    assert (result.log.source, result.log.requests, hub.bytes_sent) == ("cache", 0, before)
    assert result.facts.format == "safetensors"

    real = Path(cached).resolve()
    real.write_bytes(real.read_bytes()[:-1] + b"\x01")
    (again,) = read(hub, "org/st", sha, "model.safetensors")
    assert again.log.source == "hub"
    assert again.log.requests >= 1


def test_recorded_facts_decode_reader_records_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lockfile's facts come back as the readers' records, even of a reader module this run has not
    imported yet; a record naming any other module is refused, never imported."""
    import sys

    from pytest_aisupply.formats import ArtifactFacts
    from pytest_aisupply.formats.facts_json import FactsError, decode_facts, encode_facts
    from pytest_aisupply.formats.keras import KerasConfig

    text = encode_facts(ArtifactFacts("hdf5", True, 10, details={"keras_config": [KerasConfig("", "model_config")]}))
    monkeypatch.delitem(sys.modules, "pytest_aisupply.formats.keras")
    (config,) = decode_facts(text).details["keras_config"]
    assert type(config).__name__ == "KerasConfig"
    assert config.source == "model_config"
    for module in ("os", "pytest_aisupply.formats.os", "pytest_aisupply.hub.api"):
        with pytest.raises(FactsError, match="unknown record type"):
            decode_facts(text.replace("pytest_aisupply.formats.keras", module))
