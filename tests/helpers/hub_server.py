"""A small Hugging Face Hub-compatible HTTP server for the tests (standard library only).

The real ``huggingface_hub`` client (0.36, 1.x and 2.x; see ``hub-protocol.md`` §6) talks to it through
``HF_ENDPOINT`` or an explicit ``endpoint=``. Repositories, commits, branches, tags and pull-request refs
live in memory; files are served straight from ``/resolve/`` (no redirect, never Xet).

Typical use::

    from helpers.hub_server import HubFile, HubServer, running_hub

    @pytest.fixture
    def hub() -> Iterator[HubServer]:
        yield from running_hub()

    def test_download(hub, tmp_path):
        sha = hub.add_repo("org/model", card={"license": "mit"},
                           files=[HubFile("model.safetensors", b"\\0" * 2048), HubFile("config.json", b"{}")])
        api = HfApi(endpoint=hub.endpoint, token=False)
        info = api.model_info("org/model", revision=sha, files_metadata=True)
        path = hf_hub_download("org/model", "config.json", revision=sha, cache_dir=tmp_path,
                               endpoint=hub.endpoint, token=False)
        assert ("HEAD", f"/org/model/resolve/{sha}/config.json") in hub.requests

Client side:

- ``huggingface_hub.constants`` reads the environment when it is imported. In-process tests should pass
  ``endpoint=hub.endpoint`` (``HfApi(endpoint=...)``, ``hf_hub_download(..., endpoint=...)``,
  ``snapshot_download(..., endpoint=...)``) plus ``token=False`` (so a developer's token is not sent, which
  would open gated repos) and an explicit ``cache_dir``.
- Code that relies on module-level defaults (``HF_ENDPOINT``, ``HF_HUB_OFFLINE``, ``HF_HUB_CACHE``,
  transformers & co.) must run in a subprocess started with ``env=hub.client_env(hf_home)``, which sets
  ``HF_ENDPOINT=hub.endpoint``, ``HF_HOME=<hf_home>``, ``HF_HUB_DISABLE_XET=1``,
  ``HF_HUB_DISABLE_TELEMETRY=1`` and removes ``HF_HUB_OFFLINE``, tokens and cache overrides before the
  client is imported: ``subprocess.run([sys.executable, "-c", code], env=hub.client_env(tmp_path))``.

Server semantics worth knowing:

- Commit SHAs are deterministic: ``sha1("<type>/<repo_id>/<n>")`` for the repo's n-th commit (n from 1).
  Dates start at 2024-01-01T00:00:00Z and advance one minute per commit made on the server.
- Every commit has one parent; history is linear per ref. ``add_commit`` on a new branch forks it from
  the head of ``main``; ``add_pr`` commits on top of ``main`` and only ``refs/pr/N`` points at the result.
- Revisions resolve as: a commit SHA of the repo (40 lowercase hex), ``refs/heads/<b>``, ``refs/tags/<t>``,
  ``refs/pr/<n>``, a branch name, a tag name, then a unique lowercase SHA prefix of 7+ hex digits.
  Anything else (uppercase hex included) is ``RevisionNotFound``.
- ``card`` generates README.md (``---\\n<yaml>---\\n# card\\n``) and replaces any README.md in ``files``;
  ``cardData`` is parsed back from the README.md at the requested revision (so ``set_file`` on README.md
  changes it). Without PyYAML the README is written as ``key: <json>`` lines and ``cardData`` is the
  commit's ``card`` dict.
- Like the real Hub, info ``siblings`` carry only ``rfilename`` unless ``blobs=true`` is in the query.
- Unknown repos answer 404 ``RepoNotFound``. Private repos answer 401 ``RepoNotFound`` without an
  ``Authorization: Bearer`` header; gated repos answer ``/resolve/`` with 401 ``GatedRepo`` likewise (their
  ``/api/`` routes stay open, as on the Hub). Any bearer token is accepted.
- Pull-request refs are listed as ``{"name": "refs/pr/N", "ref": "refs/pr/N", ...}`` (the ``name`` the
  real Hub uses there is unconfirmed). Listings are never paginated (no ``Link`` header).
- ``requests`` / ``request_headers`` log every request; ``errors`` keeps exceptions the server hit while
  answering (sent as 500s); ``running_hub`` fails the test at teardown if there are any.
- ``set_fault(kind)`` makes every answer (or those matching a path regex) fail the way a broken Hub or
  network does: ``slow`` (no answer until ``delay`` or :meth:`stop`), ``401``/``403`` (gated), ``404``,
  ``500``, ``redirect-loop``, ``truncated`` (a body shorter than its ``Content-Length``), ``not-json``,
  ``malformed`` (JSON of the wrong shape); for ranged ``/resolve/`` GETs ``ignore-range`` (HTTP 200 with
  the whole file), ``bad-content-range``, ``short-body``, ``long-body``. ``bytes_sent`` counts the body
  bytes of ``/resolve/`` GETs. ``unused_endpoint()`` refuses connections and
  ``UNRESOLVABLE_ENDPOINT`` never resolves.
- No ``.gitattributes`` is added; repos hold exactly the files given (plus README.md from ``card``).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

try:  # PyYAML comes with huggingface_hub; the server works without it.
    import yaml
except ImportError:  # pragma: no cover - depends on the environment
    yaml = None  # type: ignore[assignment]

__all__ = [
    "FAULTS",
    "LFS_SUFFIXES",
    "RANGE_FAULTS",
    "UNRESOLVABLE_ENDPOINT",
    "HubFile",
    "HubServer",
    "git_blob_sha1",
    "lfs_pointer",
    "running_hub",
    "unused_endpoint",
]

#: Files with these suffixes (or larger than :data:`LFS_THRESHOLD` bytes) are LFS files by default.
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf", ".onnx", ".h5")
LFS_THRESHOLD = 1024

_REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space", "kernels": "kernel"}
_URL_PREFIXES = {"datasets": "dataset", "spaces": "space", "kernels": "kernel"}
_SHA_RE = re.compile(r"[0-9a-f]{40}")
_SHORT_SHA_RE = re.compile(r"[0-9a-f]{7,39}")
_YAML_BLOCK = re.compile(r"^(\s*---[\r\n]+)([\S\s]*?)([\r\n]+---(\r\n|\n|$))")
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
_TRUE = {"1", "true", "True", "yes"}


def git_blob_sha1(content: bytes) -> str:
    """The git blob OID of ``content``: sha1 of ``b"blob <size>\\0" + content``."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def lfs_pointer(content: bytes) -> bytes:
    """The git-lfs pointer file committed in place of ``content``."""
    digest = hashlib.sha256(content).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{digest}\nsize {len(content)}\n".encode()


@dataclass
class HubFile:
    """One file of a commit. ``lfs=None`` picks LFS for big files and weight suffixes.

    ``security`` (optional) is the file's ``securityFileStatus``, sent by tree/paths-info with
    ``expand=true``; ``avScan`` and ``pickleImportScan`` default to null.
    """

    path: str
    #: bytes, or anything bytes-like that slices to bytes (an ``mmap`` of a big sparse file, for benchmarks)
    content: bytes
    lfs: bool | None = None
    security: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.path = self.path.strip("/")
        if not self.path:
            raise ValueError("a HubFile needs a path")
        if isinstance(self.content, str):
            self.content = self.content.encode()
        if self.lfs is None:
            self.lfs = len(self.content) > LFS_THRESHOLD or self.path.lower().endswith(LFS_SUFFIXES)

    @property
    def size(self) -> int:
        return len(self.content)

    @cached_property  # content never changes; big (mmap-backed) files are hashed once
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @cached_property  # content never changes; big (mmap-backed) files are hashed once
    def git_sha1(self) -> str:
        """Git blob sha1 of the content itself (the cache blob name of a non-LFS file)."""
        return git_blob_sha1(self.content)

    @cached_property  # content never changes; big (mmap-backed) files are hashed once
    def pointer(self) -> bytes:
        return lfs_pointer(self.content)

    @property
    def blob_id(self) -> str:
        """The git OID in the repo: of the LFS pointer for LFS files, of the content otherwise."""
        return git_blob_sha1(self.pointer) if self.lfs else self.git_sha1

    @property
    def etag(self) -> str:
        """What the client names the cache blob: sha256 for LFS files, git blob sha1 otherwise."""
        return self.sha256 if self.lfs else self.git_sha1


@dataclass
class _Commit:
    sha: str
    parent: str | None
    files: dict[str, HubFile]
    message: str
    date: datetime
    author: str
    card: dict[str, Any] | None


@dataclass
class _Repo:
    repo_type: str
    repo_id: str
    gated: bool | str
    private: bool
    author: str | None
    security: dict[str, Any] | None
    commits: dict[str, _Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    prs: dict[int, str] = field(default_factory=dict)
    counter: int = 0


class HubError(Exception):
    def __init__(self, status: int, code: str | None, message: str, commit: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.commit = status, code, message, commit


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _render_card(card: Mapping[str, Any]) -> bytes:
    if yaml is not None:
        text = yaml.safe_dump(dict(card), sort_keys=False, allow_unicode=True)
    else:  # YAML is a superset of JSON: one "key: <json>" line per key is valid YAML.
        text = "".join(f"{json.dumps(str(key))}: {json.dumps(value)}\n" for key, value in card.items())
    return f"---\n{text}---\n# card\n".encode()


def _git_tree_oid(entries: Iterable[tuple[str, bool, str]]) -> str:
    """Git tree OID from (name, is_dir, hex oid) entries, git-sorted (directories compare with '/')."""
    body = b""
    for name, is_dir, oid in sorted(entries, key=lambda e: e[0] + ("/" if e[1] else "")):
        body += (b"40000 " if is_dir else b"100644 ") + name.encode() + b"\0" + bytes.fromhex(oid)
    return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()


def _normalize_files(files: Iterable[HubFile] | Mapping[str, bytes] | None) -> list[HubFile]:
    if files is None:
        return []
    if isinstance(files, Mapping):
        return [HubFile(path, content) for path, content in files.items()]
    out = []
    for item in files:
        if not isinstance(item, HubFile):
            raise TypeError(f"expected HubFile, got {type(item).__name__}")
        out.append(item)
    return out


class HubServer:
    """In-memory Hub on ``http://127.0.0.1:<ephemeral port>``; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._clock = itertools.count()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        #: ``(method, path_with_query)`` of every request, in arrival order, path as sent (still quoted).
        self.requests: list[tuple[str, str]] = []
        #: Same order as :attr:`requests`: the request headers (lower-cased names).
        self.request_headers: list[dict[str, str]] = []
        #: Unexpected exceptions raised while answering (each was answered with a 500).
        self.errors: list[BaseException] = []
        #: Body bytes of every ``/resolve/`` GET answer (what a client downloaded).
        self.bytes_sent = 0
        self._fault: str | None = None
        self._fault_match: re.Pattern[str] | None = None
        self._fault_delay = 0.0
        self._released = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> HubServer:
        if self._httpd is not None:
            return self
        handler = type("_BoundHandler", (_Handler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="hub-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()  # slow answers end now
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        if self._httpd is None:
            raise RuntimeError("HubServer is not running: call start() or use it as a context manager")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def client_env(self, hf_home: str | os.PathLike[str], **overrides: str) -> dict[str, str]:
        """Environment for a subprocess running the real client against this server.

        Copies ``os.environ`` minus offline switches, tokens and cache overrides, then sets ``HF_ENDPOINT``,
        ``HF_HOME``, ``HF_HUB_DISABLE_XET``, ``HF_HUB_DISABLE_TELEMETRY`` and ``HF_HUB_DISABLE_PROGRESS_BARS``,
        then ``overrides`` (e.g. ``HF_HUB_OFFLINE="1"``, ``HF_TOKEN="x"``).
        """
        drop = {
            "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
            "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_XET_CACHE", "HF_ASSETS_CACHE", "HF_TOKEN_PATH",
            "TRANSFORMERS_CACHE", "HF_DATASETS_CACHE", "HF_HUB_ENABLE_HF_TRANSFER", "HF_ENDPOINT",
        }  # fmt: skip
        env = {key: value for key, value in os.environ.items() if key not in drop}
        env.update(
            HF_ENDPOINT=self.endpoint,
            HF_HOME=str(hf_home),
            HF_HUB_DISABLE_XET="1",
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_HUB_DISABLE_PROGRESS_BARS="1",
            HF_HUB_DISABLE_IMPLICIT_TOKEN="1",
        )
        for name in ("NO_PROXY", "no_proxy"):
            env[name] = ",".join(filter(None, [env.get(name, ""), "127.0.0.1", "localhost"]))
        env.update(overrides)
        return env

    def set_fault(self, kind: str | None, *, match: str | None = None, delay: float = 60.0) -> None:
        """Answer every request (or those whose path matches the regex ``match``) with a fault.

        ``kind`` is one of :data:`FAULTS`, or None to answer normally again. ``"slow"`` holds each answer
        back ``delay`` seconds (released at :meth:`stop`). A refused connection and an unresolvable host
        need no server: see :func:`unused_endpoint` and :data:`UNRESOLVABLE_ENDPOINT`.
        """
        if kind is not None and kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(FAULTS)}")
        with self._lock:
            self._fault = kind
            self._fault_match = re.compile(match) if match else None
            self._fault_delay = delay

    def _fault_for(self, path: str) -> str | None:
        with self._lock:
            if self._fault is None or (self._fault_match is not None and not self._fault_match.search(path)):
                return None
            return self._fault

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()
            self.request_headers.clear()

    # -- content -----------------------------------------------------------------------------------

    def add_repo(
        self,
        repo_id: str,
        *,
        repo_type: str = "model",
        card: dict[str, Any] | None = None,
        files: Iterable[HubFile] | Mapping[str, bytes] | None = None,
        gated: bool | str = False,
        private: bool = False,
        author: str | None = None,
        security: dict[str, Any] | None = None,
        message: str = "initial commit",
    ) -> str:
        """Create a repo with one commit on ``main``; returns that commit's SHA.

        ``gated``: False, True (= ``"auto"``), ``"auto"`` or ``"manual"``. ``security``: the
        ``securityRepoStatus`` sent when ``securityStatus=true`` is asked for.
        """
        if gated is True:
            gated = "auto"
        if gated not in (False, "auto", "manual"):
            raise ValueError(f"gated must be False, True, 'auto' or 'manual', not {gated!r}")
        key = (repo_type, repo_id)
        with self._lock:
            if key in self._repos:
                raise ValueError(f"{repo_type} repo {repo_id!r} already exists")
            repo = _Repo(repo_type, repo_id, gated, private, author, security)
            self._repos[key] = repo
            sha = self._commit(repo, None, _normalize_files(files), card, message, replace=True)
            repo.branches["main"] = sha
            return sha

    def add_commit(
        self,
        repo_id: str,
        files: Iterable[HubFile] | Mapping[str, bytes] | None = None,
        *,
        repo_type: str = "model",
        branch: str = "main",
        card: dict[str, Any] | None = None,
        message: str = "Update files",
        replace: bool = False,
    ) -> str:
        """Commit ``files`` on ``branch`` (forked from main's head when new); returns the new SHA.

        Files not given are carried over from the parent unless ``replace=True``; ``card=None`` keeps the
        parent's card (and README.md).
        """
        with self._lock:
            repo = self._repo(repo_type, repo_id)
            parent = repo.branches.get(branch) or repo.branches.get("main")
            sha = self._commit(repo, parent, _normalize_files(files), card, message, replace=replace)
            repo.branches[branch] = sha
            return sha

    def add_pr(
        self,
        repo_id: str,
        files: Iterable[HubFile] | Mapping[str, bytes] | None = None,
        *,
        repo_type: str = "model",
        card: dict[str, Any] | None = None,
        message: str = "Pull request",
        replace: bool = False,
    ) -> tuple[int, str]:
        """Commit on top of main's head, reachable only from ``refs/pr/N``; returns ``(N, sha)``."""
        with self._lock:
            repo = self._repo(repo_type, repo_id)
            sha = self._commit(repo, repo.branches.get("main"), _normalize_files(files), card, message, replace)
            number = max(repo.prs, default=0) + 1
            repo.prs[number] = sha
            return number, sha

    def add_tag(self, repo_id: str, tag: str, sha: str, *, repo_type: str = "model") -> str:
        """Point tag ``tag`` at ``sha`` (any revision the repo resolves); returns the commit SHA."""
        with self._lock:
            repo = self._repo(repo_type, repo_id)
            repo.tags[tag] = commit = self._resolve(repo, sha)
            return commit

    def add_branch(self, repo_id: str, branch: str, sha: str, *, repo_type: str = "model") -> str:
        """Point branch ``branch`` at ``sha`` (any revision the repo resolves); returns the commit SHA."""
        with self._lock:
            repo = self._repo(repo_type, repo_id)
            repo.branches[branch] = commit = self._resolve(repo, sha)
            return commit

    def set_file(
        self,
        repo_id: str,
        sha: str,
        path: str,
        content: bytes | None,
        *,
        repo_type: str = "model",
        lfs: bool | None = None,
    ) -> None:
        """Change (or with ``content=None`` delete) a file of an existing commit in place.

        Simulates a server whose answers change under a fixed SHA. ``lfs=None`` keeps the old file's LFS
        flag, or picks the default for a new file.
        """
        with self._lock:
            repo = self._repo(repo_type, repo_id)
            commit = repo.commits[self._resolve(repo, sha)]
            path = path.strip("/")
            if content is None:
                commit.files.pop(path, None)
                return
            old = commit.files.get(path)
            if lfs is None and old is not None:
                lfs = old.lfs
            commit.files[path] = HubFile(path, content, lfs)

    def files(self, repo_id: str, revision: str = "main", *, repo_type: str = "model") -> dict[str, HubFile]:
        """The files of a revision (a copy of the mapping)."""
        with self._lock:
            repo = self._repo(repo_type, repo_id)
            return dict(repo.commits[self._resolve(repo, revision)].files)

    # -- internals ---------------------------------------------------------------------------------

    def _repo(self, repo_type: str, repo_id: str) -> _Repo:
        try:
            return self._repos[(repo_type, repo_id)]
        except KeyError:
            raise KeyError(f"no {repo_type} repo {repo_id!r}") from None

    def _commit(
        self,
        repo: _Repo,
        parent: str | None,
        files: list[HubFile],
        card: dict[str, Any] | None,
        message: str,
        replace: bool,
    ) -> str:
        base = repo.commits[parent] if parent is not None else None
        new_files: dict[str, HubFile] = {} if (replace or base is None) else dict(base.files)
        for item in files:
            new_files[item.path] = item
        if card is not None:
            new_files["README.md"] = HubFile("README.md", _render_card(card), lfs=False)
        elif base is not None:
            card = base.card
        repo.counter += 1
        sha = hashlib.sha1(f"{repo.repo_type}/{repo.repo_id}/{repo.counter}".encode()).hexdigest()
        date = _EPOCH + timedelta(minutes=next(self._clock))
        author = repo.author or (repo.repo_id.split("/")[0] if "/" in repo.repo_id else "user")
        repo.commits[sha] = _Commit(sha, parent, new_files, message, date, author, card)
        return sha

    def _resolve(self, repo: _Repo, revision: str) -> str:
        """Commit SHA for a revision, or :class:`HubError` ``RevisionNotFound``."""
        rev = revision
        if _SHA_RE.fullmatch(rev) and rev in repo.commits:
            return rev
        for prefix, table in (("refs/heads/", repo.branches), ("refs/tags/", repo.tags)):
            if rev.startswith(prefix) and rev[len(prefix) :] in table:
                return table[rev[len(prefix) :]]
        match = re.fullmatch(r"refs/pr/(\d+)", rev)
        if match and int(match.group(1)) in repo.prs:
            return repo.prs[int(match.group(1))]
        if rev in repo.branches:
            return repo.branches[rev]
        if rev in repo.tags:
            return repo.tags[rev]
        if _SHORT_SHA_RE.fullmatch(rev):
            found = [sha for sha in repo.commits if sha.startswith(rev)]
            if len(found) == 1:
                return found[0]
        raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")

    def _history(self, repo: _Repo, sha: str) -> list[_Commit]:
        out = []
        current: str | None = sha
        while current is not None:
            commit = repo.commits[current]
            out.append(commit)
            current = commit.parent
        return out

    def _card_data(self, commit: _Commit) -> dict[str, Any] | None:
        readme = commit.files.get("README.md")
        if readme is None:
            return None
        if yaml is None:
            return commit.card
        match = _YAML_BLOCK.search(readme.content.decode("utf-8", "replace"))
        if match is None:
            return None
        try:
            data = yaml.safe_load(match.group(2))
        except yaml.YAMLError:
            return None
        return data if isinstance(data, dict) else None

    # -- answers -----------------------------------------------------------------------------------

    def _info(self, repo: _Repo, sha: str, query: dict[str, list[str]]) -> dict[str, Any]:
        commit = repo.commits[sha]
        history = self._history(repo, sha)
        card = self._card_data(commit)
        blobs = bool(_TRUE.intersection(query.get("blobs", [])))
        siblings = []
        for item in sorted(commit.files.values(), key=lambda f: f.path):
            sibling: dict[str, Any] = {"rfilename": item.path}
            if blobs:
                sibling.update(size=item.size, blobId=item.blob_id)
                if item.lfs:
                    sibling["lfs"] = {"sha256": item.sha256, "size": item.size, "pointerSize": len(item.pointer)}
            siblings.append(sibling)
        tags: list[str] = []
        if card:
            tags += [str(t) for t in _as_list(card.get("tags"))]
            if repo.repo_type == "model" and card.get("library_name"):
                tags.append(str(card["library_name"]))
            tags += [f"dataset:{d}" for d in _as_list(card.get("datasets"))]
            tags += [f"base_model:{b}" for b in _as_list(card.get("base_model"))]
            tags += [f"license:{lic}" for lic in _as_list(card.get("license"))]
        tags.append("region:us")
        info: dict[str, Any] = {
            "_id": sha[:24],
            "id": repo.repo_id,
            "author": repo.author or (repo.repo_id.split("/")[0] if "/" in repo.repo_id else None),
            "sha": sha,
            "lastModified": _date(commit.date),
            "createdAt": _date(history[-1].date),
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": tags,
            "siblings": siblings,
            "usedStorage": sum(f.size for f in commit.files.values()),
        }
        if repo.repo_type == "model":
            info["modelId"] = repo.repo_id
            if card and card.get("library_name"):
                info["library_name"] = card["library_name"]
            if card and card.get("pipeline_tag"):
                info["pipeline_tag"] = card["pipeline_tag"]
        if card is not None:
            info["cardData"] = card
        if repo.security is not None and _TRUE.intersection(query.get("securityStatus", [])):
            info["securityRepoStatus"] = repo.security
        return info

    def _last_commit(self, repo: _Repo, sha: str, path: str, is_dir: bool) -> dict[str, Any]:
        def state(commit: _Commit) -> Any:
            if not is_dir:
                item = commit.files.get(path)
                return item.blob_id if item else None
            prefix = path + "/" if path else ""
            return sorted((p, f.blob_id) for p, f in commit.files.items() if p.startswith(prefix))

        history = self._history(repo, sha)
        last = history[0]
        current = state(last)
        for commit in history[1:]:
            if state(commit) != current:
                break
            last = commit
        title = last.message.splitlines()[0] if last.message else ""
        return {"id": last.sha, "title": title, "date": _date(last.date)}

    def _tree_entries(self, repo: _Repo, sha: str, *, expand: bool) -> dict[str, dict[str, Any]]:
        """Every entry (files and directories) of a commit by path; the root directory is ``""``."""
        commit = repo.commits[sha]
        directories: set[str] = set()
        entries: dict[str, dict[str, Any]] = {}
        for item in commit.files.values():
            entry: dict[str, Any] = {"type": "file", "oid": item.blob_id, "size": item.size, "path": item.path}
            if item.lfs:
                entry["lfs"] = {"oid": item.sha256, "size": item.size, "pointerSize": len(item.pointer)}
            if expand:
                entry["lastCommit"] = self._last_commit(repo, sha, item.path, is_dir=False)
                if item.security is not None:
                    entry["securityFileStatus"] = {"avScan": None, "pickleImportScan": None, **item.security}
            entries[item.path] = entry
            parts = item.path.split("/")
            for depth in range(1, len(parts)):
                directories.add("/".join(parts[:depth]))
        # Git tree OIDs, bottom-up (deepest first), so each parent sees its subdirectories' OIDs.
        dirs = sorted(directories, key=lambda d: d.count("/"), reverse=True)
        oids: dict[str, str] = {}
        for directory in [*dirs, ""]:
            prefix = directory + "/" if directory else ""
            items = []
            for path, entry in entries.items():
                rest = path[len(prefix) :] if path.startswith(prefix) else None
                if rest is not None and "/" not in rest and entry["type"] == "file":
                    items.append((rest, False, entry["oid"]))
            for sub in dirs:
                rest = sub[len(prefix) :] if sub.startswith(prefix) else None
                if rest is not None and rest and "/" not in rest:
                    items.append((rest, True, oids[sub]))
            oids[directory] = _git_tree_oid(items)
        for directory in dirs:
            entry = {"type": "directory", "oid": oids[directory], "size": 0, "path": directory}
            if expand:
                entry["lastCommit"] = self._last_commit(repo, sha, directory, is_dir=True)
            entries[directory] = entry
        entries[""] = {"type": "directory", "oid": oids[""], "size": 0, "path": ""}
        return entries

    def _tree(self, repo: _Repo, sha: str, path: str, *, recursive: bool, expand: bool) -> list[dict[str, Any]]:
        entries = self._tree_entries(repo, sha, expand=expand)
        path = path.strip("/")
        if path not in entries or entries[path]["type"] != "directory":
            raise HubError(404, "EntryNotFound", f"{path} does not exist on {sha}", commit=sha)
        prefix = path + "/" if path else ""
        out = []
        for entry_path in sorted(entries):
            if not entry_path or not entry_path.startswith(prefix):
                continue
            if recursive or "/" not in entry_path[len(prefix) :]:
                out.append(entries[entry_path])
        return out

    def _refs(self, repo: _Repo, include_prs: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "branches": [
                {"name": name, "ref": f"refs/heads/{name}", "targetCommit": sha} for name, sha in repo.branches.items()
            ],
            "tags": [
                {"name": name, "ref": f"refs/tags/{name}", "targetCommit": sha} for name, sha in repo.tags.items()
            ],
            "converts": [],
        }
        if include_prs:
            data["pullRequests"] = [
                {"name": f"refs/pr/{n}", "ref": f"refs/pr/{n}", "targetCommit": sha}
                for n, sha in sorted(repo.prs.items())
            ]
        return data

    def _commits(self, repo: _Repo, sha: str, formatted: bool) -> list[dict[str, Any]]:
        out = []
        for commit in self._history(repo, sha):
            title = commit.message.splitlines()[0] if commit.message else ""
            item: dict[str, Any] = {
                "id": commit.sha,
                "title": title,
                "message": commit.message,
                "authors": [{"user": commit.author, "avatar": None}],
                "date": _date(commit.date),
            }
            if formatted:
                item["formatted"] = {"title": title, "message": commit.message}
            out.append(item)
        return out


#: The faults :meth:`HubServer.set_fault` can play.
FAULTS = (
    "slow",
    "401",
    "403",
    "404",
    "500",
    "redirect-loop",
    "truncated",
    "not-json",
    "malformed",
    "ignore-range",
    "bad-content-range",
    "short-body",
    "long-body",
)
#: Faults of ranged ``/resolve/`` GETs only: the whole file for a range, a wrong ``Content-Range``, a
#: body shorter or longer than the range.
RANGE_FAULTS = ("ignore-range", "bad-content-range", "short-body", "long-body")

_FAULT_STATUS: dict[str, tuple[int, str | None, str]] = {
    "401": (401, "GatedRepo", "Access to this repository is restricted. You must be authenticated."),
    "403": (403, "GatedRepo", "Access to this repository is restricted and you are not in the authorized list."),
    "404": (404, "RepoNotFound", "Repository not found"),
    "500": (500, None, "Internal Error"),
}

#: An endpoint whose host name never resolves (RFC 6761 reserves ``.invalid``).
UNRESOLVABLE_ENDPOINT = "http://hub.invalid"


def unused_endpoint() -> str:
    """``http://127.0.0.1:<port>`` where nothing listens: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def running_hub() -> Iterator[HubServer]:
    """Fixture body: ``@pytest.fixture\\ndef hub(): yield from running_hub()``."""
    with HubServer() as hub:
        yield hub
    if hub.errors:
        raise AssertionError(f"the test Hub server failed while answering: {hub.errors!r}")


def _take_revision(segments: list[str]) -> tuple[str, list[str]]:
    """Split ``[rev, *rest]`` path segments; accepts quoted (``refs%2Fpr%2F1``) and raw ``refs/pr/1``."""
    if not segments:
        raise HubError(404, "RevisionNotFound", "missing revision")
    first = unquote(segments[0])
    if first == "refs" and len(segments) >= 3:
        return "/".join(unquote(s) for s in segments[:3]), segments[3:]
    return first, segments[1:]


_Response = tuple[int, dict[str, str], bytes]


def _json_response(data: Any, status: int = 200) -> _Response:
    return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(data).encode()


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"
    server_version = "HubServer/1.0"
    timeout = 30
    # headers and body go out in separate writes: with Nagle's algorithm on, the body of an answer on a
    # kept-alive connection waits for the client's delayed ACK (~40 ms), a stall real Hub servers do not have
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # -- plumbing ----------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        hub = self.hub
        with hub._lock:
            hub.requests.append((method, self.path))
            hub.request_headers.append({k.lower(): v for k, v in self.headers.items()})
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = hub._fault_for(self.path)
        if fault is not None and fault not in RANGE_FAULTS:
            with contextlib.suppress(OSError):  # the client may have given up already
                self._send_fault(fault, method)
            return
        raw_path, _, raw_query = self.path.partition("?")
        query = parse_qs(raw_query, keep_blank_values=True)
        segments = [s for s in raw_path.split("/") if s != ""]
        try:
            with hub._lock:  # build the whole answer under the lock, send it without
                if segments[:1] == ["api"]:
                    status, headers, content = self._api(method, segments[1:], query, body)
                else:
                    status, headers, content = self._resolve_route(method, segments)
        except HubError as error:
            status, headers, content = self._error(error)
        except Exception as error:  # a bug in the server: answer 500 and keep it for the test to see
            with hub._lock:
                hub.errors.append(error)
            status, headers, content = self._error(HubError(500, None, f"{type(error).__name__}: {error}"))
        with contextlib.suppress(ConnectionError):  # a client that stops reading (a range check) hangs up
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if method != "HEAD" and content:
                self.wfile.write(content)

    def _send_fault(self, fault: str, method: str) -> None:
        hub = self.hub
        if fault == "slow":
            hub._released.wait(hub._fault_delay)
            self.close_connection = True
            return  # nothing at all: the client must give up on its own
        if fault in _FAULT_STATUS:
            status, code, message = _FAULT_STATUS[fault]
            status, headers, content = self._error(HubError(status, code, message))
        elif fault == "redirect-loop":
            status, headers, content = 302, {"Location": self.path}, b""
        elif fault == "not-json":
            status, headers, content = 200, {"Content-Type": "application/json"}, b"<html>maintenance</html>"
        elif fault == "malformed":  # JSON, but not the shape of any answer
            status, headers, content = _json_response(["not", "an", "object"])
        else:  # truncated: announce more than is sent, then hang up
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "4096")
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(b'{"id": "org/mo')
            self.wfile.flush()
            return
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if method != "HEAD" and content:
            self.wfile.write(content)

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "").lower().startswith("bearer ")

    def _find_repo(self, repo_type: str, segments: list[str]) -> tuple[_Repo, list[str]]:
        for n in (2, 1):
            if len(segments) >= n:
                repo_id = "/".join(unquote(s) for s in segments[:n])
                repo = self.hub._repos.get((repo_type, repo_id))
                if repo is None:
                    continue
                if repo.private and not self._authorized():  # as the Hub: 401 and "not found"
                    raise HubError(401, "RepoNotFound", "Repository not found")
                return repo, segments[n:]
        raise HubError(404, "RepoNotFound", "Repository not found")

    @staticmethod
    def _error(error: HubError) -> _Response:
        status, headers, body = _json_response({"error": error.message}, error.status)
        headers["X-Error-Message"] = error.message
        if error.code:
            headers["X-Error-Code"] = error.code
        if error.commit:
            headers["X-Repo-Commit"] = error.commit
        return status, headers, body

    # -- /api/... ----------------------------------------------------------------------------------

    def _api(self, method: str, segments: list[str], query: dict[str, list[str]], body: bytes) -> _Response:
        if not segments or segments[0] not in _REPO_TYPES:
            raise HubError(404, None, "Not Found")
        repo_type = _REPO_TYPES[segments[0]]
        repo, rest = self._find_repo(repo_type, segments[1:])
        hub = self.hub
        action = rest[0] if rest else ""
        rev, path_segments = _take_revision(rest[1:]) if len(rest) > 1 else ("main", [])
        if method == "GET" and action == "":
            return _json_response(hub._info(repo, repo.branches["main"], query))
        if method == "GET" and action == "revision" and len(rest) > 1:
            return _json_response(hub._info(repo, hub._resolve(repo, rev), query))
        if method == "GET" and action == "refs":
            return _json_response(hub._refs(repo, bool(_TRUE.intersection(query.get("include_prs", [])))))
        if method == "GET" and action == "commits":
            formatted = "formatted" in query.get("expand[]", []) + query.get("expand", [])
            return _json_response(hub._commits(repo, hub._resolve(repo, rev), formatted))
        if method == "GET" and action == "tree":
            sha = hub._resolve(repo, rev)
            path = unquote("/".join(path_segments))
            recursive = bool(_TRUE.intersection(query.get("recursive", [])))
            expand = bool(_TRUE.intersection(query.get("expand", [])))
            return _json_response(hub._tree(repo, sha, path, recursive=recursive, expand=expand))
        if method == "POST" and action == "paths-info":
            sha = hub._resolve(repo, rev)
            form = self._form(body)
            expand = bool(_TRUE.intersection(form.get("expand", [])))
            entries = hub._tree_entries(repo, sha, expand=expand)
            wanted = [p.strip("/") for p in form.get("paths", [])]
            return _json_response([entries[p] for p in dict.fromkeys(wanted) if p and p in entries])
        if method == "GET" and action == "scan":
            return _json_response(repo.security or {"scansDone": False, "filesWithIssues": []})
        raise HubError(404, None, "Not Found")

    def _form(self, body: bytes) -> dict[str, list[str]]:
        if self.headers.get("Content-Type", "").startswith("application/json"):
            data = json.loads(body or b"{}")
            return {key: [str(v) for v in _as_list(value)] for key, value in data.items()}
        return parse_qs(body.decode(), keep_blank_values=True)

    # -- /[<type>s/]<repo>/resolve/<rev>/<path> ----------------------------------------------------

    def _resolve_route(self, method: str, segments: list[str]) -> _Response:
        if method not in ("GET", "HEAD") or "resolve" not in segments:
            raise HubError(404, None, "Not Found")
        repo_type = "model"
        if segments[0] in _URL_PREFIXES:
            repo_type = _URL_PREFIXES[segments[0]]
            segments = segments[1:]
        index = segments.index("resolve")
        repo, _ = self._find_repo(repo_type, segments[:index])
        hub = self.hub
        rev, path_segments = _take_revision(segments[index + 1 :])
        sha = hub._resolve(repo, rev)
        if repo.gated and not self._authorized():
            raise HubError(401, "GatedRepo", f"Access to model {repo.repo_id} is restricted.")
        path = unquote("/".join(path_segments))
        item = repo.commits[sha].files.get(path)
        if item is None:
            raise HubError(404, "EntryNotFound", f"{path} does not exist on {sha}", commit=sha)
        headers = {
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "X-Repo-Commit": sha,
            "ETag": f'"{item.etag}"',
        }
        if item.lfs:
            headers["X-Linked-Etag"] = f'"{item.sha256}"'
            headers["X-Linked-Size"] = str(item.size)
        content = item.content
        status = 200
        range_header = self.headers.get("Range")
        if range_header and method == "GET":
            span = _parse_range(range_header, len(content))
            if span is None:
                headers["Content-Range"] = f"bytes */{len(content)}"
                return 416, headers, b""
            start, end = span
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
            content = content[start : end + 1]
            fault = hub._fault_for(self.path)
            if fault == "ignore-range":
                status, content = 200, item.content
                del headers["Content-Range"]
            elif fault == "bad-content-range":
                headers["Content-Range"] = f"bytes {start + 1}-{end + 1}/{len(item.content)}"
            elif fault == "short-body":
                content = content[: max(len(content) // 2, 1) - 1]
            elif fault == "long-body":
                content += b"\0" * 1024
        with hub._lock:
            hub.bytes_sent += len(content) if method == "GET" else 0
        headers["Content-Length"] = str(len(content))
        return status, headers, content


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` → inclusive ``(start, end)``, None if unsatisfiable."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":
        start, end = max(size - int(last), 0), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return None
    return start, end
