"""The test Hub server (helpers/hub_server.py) against the real huggingface_hub client."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from helpers.hub_server import HubFile, HubServer, git_blob_sha1, running_hub

huggingface_hub = pytest.importorskip("huggingface_hub")

from huggingface_hub import HfApi, constants, errors, hf_hub_download, snapshot_download  # noqa: E402

RemoteEntryNotFoundError = getattr(errors, "RemoteEntryNotFoundError", None) or errors.EntryNotFoundError

WEIGHTS = bytes(range(256)) * 8  # 2048 bytes: LFS by size and by suffix
CONFIG = b'{"model_type": "demo"}'
CONFIG2 = b'{"model_type": "demo2"}'
TOKENIZER = b"tok" * 10
REPO = "org/demo"


@pytest.fixture
def hub() -> Iterator[HubServer]:
    yield from running_hub()


@pytest.fixture(autouse=True)
def _online_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process calls must reach the server even if the outer environment says offline."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False, raising=False)


@pytest.fixture
def repo(hub: HubServer) -> dict[str, str]:
    """org/demo: commit 1 on main (tagged v1), commit 2 on main, a PR commit only on refs/pr/1."""
    first = hub.add_repo(
        REPO,
        card={"license": "mit", "base_model": "org/base", "tags": ["demo"]},
        files=[
            HubFile("model.safetensors", WEIGHTS),
            HubFile("config.json", CONFIG),
            HubFile("tokenizer/vocab.txt", TOKENIZER),
        ],
        author="org",
        security={"scansDone": True, "filesWithIssues": []},
    )
    hub.add_tag(REPO, "v1", first)
    second = hub.add_commit(REPO, {"config.json": CONFIG2}, message="Bump config\n\nDetails.")
    pr_number, pr_sha = hub.add_pr(REPO, [HubFile("evil.bin", b"\x80\x04payload")], message="Add weights")
    assert pr_number == 1
    return {"first": first, "second": second, "pr": pr_sha}


def api(hub: HubServer) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=False)


def download(hub: HubServer, filename: str, cache: Path, **kwargs: object) -> Path:
    kwargs.setdefault("token", False)
    return Path(hf_hub_download(REPO, filename, cache_dir=cache, endpoint=hub.endpoint, **kwargs))  # type: ignore[arg-type]


def raw(hub: HubServer, method: str, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    parts = urlsplit(hub.endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


# -- info, refs, commits ---------------------------------------------------------------------------


def test_model_info_with_files_metadata(hub: HubServer, repo: dict[str, str]) -> None:
    info = api(hub).model_info(REPO, revision=repo["first"], files_metadata=True, securityStatus=True)
    assert info.id == REPO
    assert info.sha == repo["first"]
    assert info.author == "org"
    assert info.gated is False
    assert info.private is False
    assert info.card_data.license == "mit"
    assert info.card_data.base_model == "org/base"
    assert {"license:mit", "base_model:org/base", "demo"} <= set(info.tags)
    assert info.security_repo_status == {"scansDone": True, "filesWithIssues": []}
    siblings = {s.rfilename: s for s in info.siblings}
    assert set(siblings) == {"README.md", "model.safetensors", "config.json", "tokenizer/vocab.txt"}
    weights = siblings["model.safetensors"]
    assert weights.size == len(WEIGHTS)
    assert weights.lfs is not None
    assert weights.lfs.sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    assert weights.lfs.size == len(WEIGHTS)
    config = siblings["config.json"]
    assert config.lfs is None
    assert config.size == len(CONFIG)
    assert config.blob_id == git_blob_sha1(CONFIG)


def test_model_info_defaults_to_main_and_matches_hub_shapes(hub: HubServer, repo: dict[str, str]) -> None:
    info = api(hub).model_info(REPO)
    assert info.sha == repo["second"]
    assert info.security_repo_status is None  # only with securityStatus=true
    assert all(s.size is None and s.lfs is None for s in info.siblings)  # only with blobs=true
    expanded = api(hub).model_info(REPO, expand=["sha", "cardData", "gated", "author", "tags"])
    assert expanded.sha == repo["second"]
    assert expanded.card_data.license == "mit"
    query = [path for method, path in hub.requests if method == "GET" and "expand=" in path]
    assert query == [f"/api/models/{REPO}?expand=sha&expand=cardData&expand=gated&expand=author&expand=tags"]


def test_model_info_resolves_ref_spellings(hub: HubServer, repo: dict[str, str], tmp_path: Path) -> None:
    client = api(hub)
    assert client.model_info(REPO, revision="refs/pr/1").sha == repo["pr"]
    assert ("GET", f"/api/models/{REPO}/revision/refs%2Fpr%2F1") in hub.requests
    assert client.model_info(REPO, revision="v1").sha == repo["first"]
    assert client.model_info(REPO, revision="refs/tags/v1").sha == repo["first"]
    assert client.model_info(REPO, revision="refs/heads/main").sha == repo["second"]
    assert client.model_info(REPO, revision=repo["first"][:7]).sha == repo["first"]
    with pytest.raises(errors.RevisionNotFoundError):
        client.model_info(REPO, revision=repo["first"].upper())
    if hasattr(client, "resolve_revision"):  # huggingface_hub >= 1.26
        resolved = client.resolve_revision(REPO, revision="main", cache_dir=tmp_path)
        assert resolved.resolved == repo["second"]


def test_dataset_info_and_download(hub: HubServer, tmp_path: Path) -> None:
    sha = hub.add_repo(
        "org/data",
        repo_type="dataset",
        card={"license": ["cc-by-4.0", "mit"], "pretty_name": "Data"},
        files={"data/train.csv": b"a,b\n1,2\n"},
    )
    info = api(hub).dataset_info("org/data", revision=sha, files_metadata=True)
    assert info.sha == sha
    assert info.card_data.license == ["cc-by-4.0", "mit"]
    assert {"license:cc-by-4.0", "license:mit"} <= set(info.tags)
    assert [s.rfilename for s in info.siblings] == ["README.md", "data/train.csv"]
    path = hf_hub_download(
        "org/data",
        "data/train.csv",
        repo_type="dataset",
        revision=sha,
        cache_dir=tmp_path,
        endpoint=hub.endpoint,
        token=False,
    )
    assert Path(path).read_bytes() == b"a,b\n1,2\n"
    assert Path(path).relative_to(tmp_path).parts[:3] == ("datasets--org--data", "snapshots", sha)
    assert ("HEAD", f"/datasets/org/data/resolve/{sha}/data/train.csv") in hub.requests
    with pytest.raises(errors.RepositoryNotFoundError):  # the same id is not a model repo
        api(hub).model_info("org/data")


def test_refs_show_branches_tags_and_pull_requests(hub: HubServer, repo: dict[str, str]) -> None:
    refs = api(hub).list_repo_refs(REPO, include_pull_requests=True)
    assert [(b.name, b.ref, b.target_commit) for b in refs.branches] == [("main", "refs/heads/main", repo["second"])]
    assert [(t.name, t.ref, t.target_commit) for t in refs.tags] == [("v1", "refs/tags/v1", repo["first"])]
    assert refs.converts == []
    assert [(p.ref, p.target_commit) for p in refs.pull_requests] == [("refs/pr/1", repo["pr"])]
    assert api(hub).list_repo_refs(REPO).pull_requests is None
    assert ("GET", f"/api/models/{REPO}/refs?include_prs=1") in hub.requests


def test_commits_newest_first_and_pr_commit_absent_from_main(hub: HubServer, repo: dict[str, str]) -> None:
    client = api(hub)
    commits = client.list_repo_commits(REPO, revision="main")
    assert [c.commit_id for c in commits] == [repo["second"], repo["first"]]
    assert repo["pr"] not in {c.commit_id for c in commits}
    assert commits[0].title == "Bump config"
    assert commits[0].authors == ["org"]
    assert commits[0].created_at > commits[1].created_at
    on_pr = client.list_repo_commits(REPO, revision="refs/pr/1", formatted=True)
    assert [c.commit_id for c in on_pr] == [repo["pr"], repo["second"], repo["first"]]
    assert [c.commit_id for c in client.list_repo_commits(REPO, revision="v1")] == [repo["first"]]


def test_branches_fork_from_main(hub: HubServer, repo: dict[str, str]) -> None:
    dev = hub.add_commit(REPO, {"extra.txt": b"x"}, branch="dev", message="dev work")
    assert [c.commit_id for c in api(hub).list_repo_commits(REPO, revision="dev")] == [
        dev,
        repo["second"],
        repo["first"],
    ]
    assert set(hub.files(REPO, "dev")) == {
        "README.md",
        "model.safetensors",
        "config.json",
        "tokenizer/vocab.txt",
        "extra.txt",
    }
    replaced = hub.add_commit(REPO, {"only.txt": b"y"}, replace=True)
    assert set(hub.files(REPO, replaced)) == {"only.txt"}
    assert api(hub).model_info(REPO, revision=replaced).card_data is None


# -- tree and paths-info ----------------------------------------------------------------------------


def test_list_repo_tree(hub: HubServer, repo: dict[str, str]) -> None:
    client = api(hub)
    entries = {e.path: e for e in client.list_repo_tree(REPO, revision=repo["first"], recursive=True)}
    assert set(entries) == {"README.md", "model.safetensors", "config.json", "tokenizer", "tokenizer/vocab.txt"}
    weights = entries["model.safetensors"]
    assert weights.size == len(WEIGHTS)
    assert weights.lfs.sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    assert weights.blob_id != weights.lfs.sha256  # the pointer's git OID
    assert entries["config.json"].blob_id == git_blob_sha1(CONFIG)
    assert entries["config.json"].lfs is None
    assert type(entries["tokenizer"]).__name__ == "RepoFolder"
    top = {e.path for e in client.list_repo_tree(REPO, revision=repo["first"])}
    assert top == {"README.md", "model.safetensors", "config.json", "tokenizer"}
    sub = [e.path for e in client.list_repo_tree(REPO, path_in_repo="tokenizer", revision=repo["first"])]
    assert sub == ["tokenizer/vocab.txt"]
    expanded = {e.path: e for e in client.list_repo_tree(REPO, recursive=True, expand=True)}
    assert expanded["config.json"].last_commit.oid == repo["second"]
    assert expanded["model.safetensors"].last_commit.oid == repo["first"]
    assert expanded["tokenizer"].last_commit.oid == repo["first"]


def test_get_paths_info(hub: HubServer, repo: dict[str, str]) -> None:
    infos = api(hub).get_paths_info(REPO, ["config.json", "tokenizer", "missing.txt"], revision=repo["first"])
    assert [i.path for i in infos] == ["config.json", "tokenizer"]
    assert infos[0].blob_id == git_blob_sha1(CONFIG)
    assert ("POST", f"/api/models/{REPO}/paths-info/{repo['first']}") in hub.requests


def test_file_security_status_with_expand(hub: HubServer) -> None:
    scan = {"status": "unsafe", "pickleImportScan": {"status": "unsafe", "pickleImports": []}}
    hub.add_repo("org/scanned", files=[HubFile("x.pt", b"data", security=scan)])
    (entry,) = api(hub).list_repo_tree("org/scanned", expand=True)
    assert entry.security["status"] == "unsafe"
    assert entry.security["av_scan"] is None


# -- downloads and cache -----------------------------------------------------------------------------


def test_hf_hub_download_by_sha_and_cache_layout(hub: HubServer, repo: dict[str, str], tmp_path: Path) -> None:
    sha = repo["first"]
    path = download(hub, "model.safetensors", tmp_path, revision=sha)
    assert path.read_bytes() == WEIGHTS
    storage = tmp_path / "models--org--demo"
    assert path == storage / "snapshots" / sha / "model.safetensors"
    assert path.is_symlink()
    assert os.readlink(path) == os.path.join("..", "..", "blobs", hashlib.sha256(WEIGHTS).hexdigest())
    config = download(hub, "config.json", tmp_path, revision=sha)
    assert config.resolve() == storage / "blobs" / git_blob_sha1(CONFIG)
    nested = download(hub, "tokenizer/vocab.txt", tmp_path, revision=sha)
    assert nested == storage / "snapshots" / sha / "tokenizer" / "vocab.txt"
    assert not (storage / "refs").exists()  # a commit revision records no ref
    assert ("HEAD", f"/{REPO}/resolve/{sha}/model.safetensors") in hub.requests
    assert ("GET", f"/{REPO}/resolve/{sha}/model.safetensors") in hub.requests
    seen = len(hub.requests)
    assert download(hub, "model.safetensors", tmp_path, revision=sha) == path
    assert len(hub.requests) == seen  # cached 40-hex revision: no network

    main = download(hub, "config.json", tmp_path, revision="main")
    assert main.read_bytes() == CONFIG2
    assert (storage / "refs" / "main").read_text() == repo["second"]
    download(hub, "evil.bin", tmp_path, revision="refs/pr/1")
    assert (storage / "refs" / "refs" / "pr" / "1").read_text() == repo["pr"]


def test_snapshot_download(hub: HubServer, repo: dict[str, str], tmp_path: Path) -> None:
    folder = Path(
        snapshot_download(REPO, revision=repo["first"], cache_dir=tmp_path, endpoint=hub.endpoint, token=False)
    )
    assert folder == tmp_path / "models--org--demo" / "snapshots" / repo["first"]
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == ["README.md", "config.json", "model.safetensors", "tokenizer/vocab.txt"]
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS
    assert (folder / "README.md").read_bytes().startswith(b"---\n")


def test_verify_repo_checksums_sees_server_side_changes(hub: HubServer, repo: dict[str, str], tmp_path: Path) -> None:
    client = api(hub)
    if not hasattr(client, "verify_repo_checksums"):  # huggingface_hub >= 1.1
        pytest.skip("HfApi.verify_repo_checksums needs huggingface_hub >= 1.1")
    sha = repo["first"]
    snapshot_download(REPO, revision=sha, cache_dir=tmp_path, endpoint=hub.endpoint, token=False)
    assert client.verify_repo_checksums(REPO, revision=sha, cache_dir=tmp_path).mismatches == []
    hub.set_file(REPO, sha, "config.json", b"{}")
    (mismatch,) = client.verify_repo_checksums(REPO, revision=sha, cache_dir=tmp_path).mismatches
    assert mismatch["path"] == "config.json"
    assert mismatch["expected"] == git_blob_sha1(b"{}")


def test_resolve_headers_and_ranges(hub: HubServer, repo: dict[str, str]) -> None:
    sha = repo["first"]
    head = raw(hub, "HEAD", f"/{REPO}/resolve/{sha}/model.safetensors")
    assert head.status == 200
    assert head.getheader("X-Repo-Commit") == sha
    assert head.getheader("X-Linked-Etag") == f'"{hashlib.sha256(WEIGHTS).hexdigest()}"'
    assert head.getheader("X-Linked-Size") == str(len(WEIGHTS))
    assert head.getheader("Content-Length") == str(len(WEIGHTS))
    assert head.getheader("Accept-Ranges") == "bytes"
    assert head.getheader("X-Xet-Hash") is None
    assert head.body == b""  # type: ignore[attr-defined]
    small = raw(hub, "HEAD", f"/{REPO}/resolve/main/config.json")
    assert small.getheader("ETag") == f'"{git_blob_sha1(CONFIG2)}"'
    assert small.getheader("X-Linked-Etag") is None
    part = raw(hub, "GET", f"/{REPO}/resolve/{sha}/model.safetensors", {"Range": "bytes=10-19"})
    assert part.status == 206
    assert part.body == WEIGHTS[10:20]  # type: ignore[attr-defined]
    assert part.getheader("Content-Range") == f"bytes 10-19/{len(WEIGHTS)}"
    tail = raw(hub, "GET", f"/{REPO}/resolve/{sha}/model.safetensors", {"Range": "bytes=2000-"})
    assert tail.body == WEIGHTS[2000:]  # type: ignore[attr-defined]
    assert raw(hub, "GET", f"/{REPO}/resolve/{sha}/config.json", {"Range": "bytes=999-"}).status == 416
    quoted = raw(hub, "GET", f"/{REPO}/resolve/refs%2Fpr%2F1/evil.bin")
    assert quoted.getheader("X-Repo-Commit") == repo["pr"]


def test_set_file_changes_content_under_the_same_sha(hub: HubServer, repo: dict[str, str], tmp_path: Path) -> None:
    sha = repo["first"]
    hub.set_file(REPO, sha, "model.safetensors", b"tampered" * 300)
    info = api(hub).model_info(REPO, revision=sha, files_metadata=True)
    (weights,) = [s for s in info.siblings if s.rfilename == "model.safetensors"]
    assert weights.lfs.sha256 == hashlib.sha256(b"tampered" * 300).hexdigest()
    assert download(hub, "model.safetensors", tmp_path, revision=sha).read_bytes() == b"tampered" * 300
    hub.set_file(REPO, sha, "config.json", None)
    assert "config.json" not in hub.files(REPO, sha)


def test_card_round_trip(hub: HubServer) -> None:
    card = {"license": "other", "license_name": "my-license", "license_link": "LICENSE", "datasets": ["org/d"]}
    sha = hub.add_repo("org/carded", card=card)
    readme = hub.files("org/carded", sha)["README.md"].content
    assert readme.startswith(b"---\n")
    assert readme.endswith(b"\n---\n# card\n")
    info = api(hub).model_info("org/carded", revision=sha)
    assert info.card_data.to_dict() == card
    assert "dataset:org/d" in info.tags
    later = hub.add_commit("org/carded", {"x.txt": b"x"})
    assert api(hub).model_info("org/carded", revision=later).card_data.license == "other"
    hub.set_file("org/carded", later, "README.md", b"---\nlicense: apache-2.0\n---\n")
    assert api(hub).model_info("org/carded", revision=later).card_data.license == "apache-2.0"


def test_deterministic_shas() -> None:
    def build() -> tuple[str, str]:
        with HubServer() as hub:
            first = hub.add_repo("org/x", files={"a.txt": b"a"})
            return first, hub.add_commit("org/x", {"b.txt": b"b"})

    first, second = build()
    assert build() == (first, second)
    assert first == hashlib.sha1(b"model/org/x/1").hexdigest()
    assert len({first, second}) == 2


# -- errors --------------------------------------------------------------------------------------------


def test_repository_not_found(hub: HubServer, tmp_path: Path) -> None:
    with pytest.raises(errors.RepositoryNotFoundError):
        api(hub).model_info("org/missing")
    with pytest.raises(errors.RepositoryNotFoundError):
        hf_hub_download("org/missing", "x.json", cache_dir=tmp_path, endpoint=hub.endpoint, token=False)
    response = raw(hub, "GET", "/api/models/org/missing")
    assert response.getheader("X-Error-Code") == "RepoNotFound"
    assert "error" in json.loads(response.body)  # type: ignore[attr-defined]


def test_private_repo_needs_a_token(hub: HubServer) -> None:
    hub.add_repo("org/secret", files={"a.txt": b"a"}, private=True)
    with pytest.raises(errors.RepositoryNotFoundError):
        api(hub).model_info("org/secret")
    assert HfApi(endpoint=hub.endpoint, token="hf_test").model_info("org/secret").private is True


def test_revision_not_found(hub: HubServer, repo: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(errors.RevisionNotFoundError):
        api(hub).model_info(REPO, revision="nope")
    with pytest.raises(errors.RevisionNotFoundError):
        api(hub).list_repo_commits(REPO, revision="refs/pr/9")
    with pytest.raises(errors.RevisionNotFoundError):
        download(hub, "config.json", tmp_path, revision="0" * 40)


def test_entry_not_found(hub: HubServer, repo: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(RemoteEntryNotFoundError):
        download(hub, "missing.json", tmp_path, revision=repo["first"])
    marker = tmp_path / "models--org--demo" / ".no_exist" / repo["first"] / "missing.json"
    assert marker.is_file()  # the client caches the miss under the X-Repo-Commit it was sent
    response = raw(hub, "HEAD", f"/{REPO}/resolve/main/missing.json")
    assert (response.status, response.getheader("X-Error-Code")) == (404, "EntryNotFound")
    assert response.getheader("X-Repo-Commit") == repo["second"]


def test_gated_repo(hub: HubServer, tmp_path: Path) -> None:
    sha = hub.add_repo("org/gated", files={"config.json": CONFIG}, gated="manual")
    assert api(hub).model_info("org/gated").gated == "manual"
    with pytest.raises(errors.GatedRepoError):
        hf_hub_download(
            "org/gated", "config.json", revision=sha, cache_dir=tmp_path, endpoint=hub.endpoint, token=False
        )
    path = hf_hub_download(
        "org/gated", "config.json", revision=sha, cache_dir=tmp_path, endpoint=hub.endpoint, token="hf_test"
    )
    assert Path(path).read_bytes() == CONFIG
    assert hub.request_headers[-1]["authorization"] == "Bearer hf_test"


# -- subprocesses: env-configured client and offline mode -----------------------------------------------

CLIENT = textwrap.dedent(
    """
    import json, sys
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    out = {"endpoint": constants.ENDPOINT, "offline": constants.HF_HUB_OFFLINE, "paths": {}}
    for filename, revision in json.loads(sys.argv[1]):
        try:
            out["paths"][f"{revision}:{filename}"] = hf_hub_download("org/demo", filename, revision=revision)
        except LocalEntryNotFoundError as error:
            out["paths"][f"{revision}:{filename}"] = type(error).__name__
    print(json.dumps(out))
    """
)


def run_client(env: dict[str, str], *wanted: tuple[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, json.dumps(wanted)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_env_configured_client_then_offline_cache(hub: HubServer, repo: dict[str, str], tmp_path: Path) -> None:
    sha = repo["first"]
    online = run_client(hub.client_env(tmp_path / "home"), ("model.safetensors", sha), ("config.json", "main"))
    assert online["endpoint"] == hub.endpoint
    assert online["offline"] is False
    cached = Path(online["paths"][f"{sha}:model.safetensors"])  # type: ignore[index]
    cache = tmp_path / "home" / "hub"
    assert cached == cache / "models--org--demo" / "snapshots" / sha / "model.safetensors"
    assert cached.read_bytes() == WEIGHTS

    seen = len(hub.requests)
    offline_env = hub.client_env(tmp_path / "other-home", HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(cache))
    offline = run_client(
        offline_env, ("model.safetensors", sha), ("config.json", "main"), ("config.json", repo["second"][:7])
    )
    assert offline["offline"] is True
    paths = offline["paths"]
    assert paths[f"{sha}:model.safetensors"] == str(cached)  # type: ignore[index]
    assert Path(paths["main:config.json"]).read_bytes() == CONFIG2  # type: ignore[index]
    assert paths[f"{repo['second'][:7]}:config.json"] == "LocalEntryNotFoundError"  # type: ignore[index]
    assert len(hub.requests) == seen  # offline: the server heard nothing
