"""Run-time guards: what a test's code actually does, caught while it does it.

- no-pickle: an audit hook on ``pickle.find_class`` (raised by the C and Python unpicklers, and so
  by ``torch.load(weights_only=False)``, joblib, pandas) refuses every global import.
- pinned: a request hook on huggingface_hub's HTTP client refuses Hub requests for a revision that
  is not a 40-hex commit (including the revision-resolution request that transformers and
  sentence-transformers send first) and downloads of repos missing from the lockfile.
- verified: an audit hook on ``open`` hashes every file opened for reading from the Hugging Face
  cache or the artifact roots and refuses it, before its content reaches the caller, when the
  sha256 does not match the lockfile.

Audit hooks cannot be removed, so each is installed once per process and does nothing unless a
guard is active. Guards record what they refused; the test then fails with that record even if
the code under test swallowed the exception.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..hub.api import hub_cache_dir
from ..lockfile.digests import GIT_SHA1_HEX
from ..lockfile.hashing import git_blob_sha1, sha256_file
from ..lockfile.lock import Lock

_API_REVISION = re.compile(
    r"^/api/(models|datasets|spaces)/([^/]+/[^/]+|[^/]+)(?:/(revision|tree|paths-info)/([^/]+))?"
)
_RESOLVE = re.compile(r"^/(?:(datasets|spaces)/)?([^/]+/[^/]+|[^/]+)/resolve/([^/]+)/")


class GuardViolation(pickle.UnpicklingError):
    """Raised inside the code under test when a guard refuses an operation."""


@dataclass
class GuardState:
    no_pickle: bool = False
    pinned: bool = False
    verified: bool = False
    lock: Lock | None = None
    artifact_roots: tuple[Path, ...] = ()
    project_root: Path | None = None
    #: files whose frames name the caller first (the test's module), before any other project file
    caller_files: tuple[Path, ...] = ()
    violations: list[str] = field(default_factory=list)


_state: GuardState | None = None
_installed_audit = False
_installed_http = False
_local = threading.local()


def _caller(state: GuardState) -> str:
    """The line that asked for the refused operation: in the test's own file if it is on the
    stack, else in the project (not a library: an httpx or torch frame helps nobody)."""
    frames = [
        frame
        for frame in reversed(traceback.extract_stack()[:-3])
        if "pytest_aisupply" not in frame.filename and "/pickle.py" not in frame.filename
    ]

    def where(frame: traceback.FrameSummary) -> str:
        return f"{frame.filename}:{frame.lineno} in {frame.name}"

    wanted = {str(path) for path in state.caller_files}
    for frame in frames:
        if os.path.abspath(frame.filename) in wanted:
            return where(frame)
    root = str(state.project_root) if state.project_root is not None else None
    for frame in frames:
        filename = os.path.abspath(frame.filename)
        if root and filename.startswith(root + os.sep) and not _is_library(filename):
            return where(frame)
    return where(frames[0]) if frames else "unknown caller"


def _is_library(filename: str) -> bool:
    parts = Path(filename).parts
    return "site-packages" in parts or "dist-packages" in parts or any(part.startswith(".venv") for part in parts)


def _refuse(message: str) -> None:
    state = _state
    if state is not None:
        state.violations.append(f"{message} (called from {_caller(state)})")
    raise GuardViolation(f"[aisupply] {message}")


# -- audit hook -----------------------------------------------------------------------------


def _audit(event: str, args: tuple[Any, ...]) -> None:
    state = _state
    if state is None:
        return
    if event == "pickle.find_class" and state.no_pickle:
        _refuse(f"unpickling imported {args[0]}.{args[1]}")
    elif event == "open" and state.verified and not getattr(_local, "busy", False):
        _check_open(state, args)


def _check_open(state: GuardState, args: tuple[Any, ...]) -> None:
    path, mode = args[0], args[1]
    if not isinstance(path, (str, bytes, os.PathLike)) or isinstance(path, int):
        return
    if mode is not None and isinstance(mode, str) and any(flag in mode for flag in "wax+"):
        return
    _local.busy = True
    try:
        problem = _verify(state, Path(os.fsdecode(path)))
    finally:
        _local.busy = False
    if problem:
        _refuse(problem)


def _verify(state: GuardState, path: Path) -> str | None:
    try:
        absolute = Path(os.path.abspath(path))
    except (OSError, ValueError):
        return None
    cache = Path(os.path.abspath(hub_cache_dir()))
    lock = state.lock
    if absolute.is_relative_to(cache):
        parts = absolute.relative_to(cache).parts
        if len(parts) < 4 or parts[1] != "snapshots":
            return None  # blobs are reached through snapshots; refs and locks are not content
        kind, _, name = parts[0].partition("s--")
        repo_id = name.replace("--", "/")
        revision, relpath = parts[2], "/".join(parts[3:])
        entry = lock.hub_entry(kind, repo_id, revision) if lock else None
        if entry is None:
            return f"opened {relpath} of {kind} {repo_id}@{revision[:12]}, which is not in the lockfile"
        expected = next((f for f in entry.files if f.path == relpath), None)
        if expected is None:
            return f"opened {relpath} of {repo_id}@{revision[:12]}, which is not a reviewed file of that commit"
        actual = sha256_file(absolute) if expected.sha256 else git_blob_sha1(absolute)
        if actual != (expected.sha256 or expected.git_sha1):
            return f"opened {relpath} of {repo_id}@{revision[:12]} whose content differs from the lockfile"
        return None
    for root in state.artifact_roots:
        if absolute.is_relative_to(root) and state.project_root is not None and absolute.is_file():
            relpath = absolute.relative_to(state.project_root).as_posix()
            entry_local = lock.artifacts.get(relpath) if lock else None
            if entry_local is None:
                return f"opened {relpath}, which is not in the lockfile (unreviewed)"
            if sha256_file(absolute) != entry_local.sha256:
                return f"opened {relpath}, whose sha256 differs from the lockfile"
            return None
    return None


def install_audit_hook() -> None:
    global _installed_audit
    if not _installed_audit:
        sys.addaudithook(_audit)
        _installed_audit = True


# -- HTTP hook ------------------------------------------------------------------------------


def check_hub_url(url: str, lock: Lock | None) -> str | None:
    """Why a Hub request is not pinned (or not reviewed), or None."""
    path = unquote(urlsplit(url).path)
    resolve = _RESOLVE.match(path)
    if resolve:
        kind = {"datasets": "dataset", "spaces": "space"}.get(resolve[1] or "", "model")
        repo_id, revision = resolve[2], resolve[3]
        if not GIT_SHA1_HEX.match(revision):
            return f"downloads from {kind} {repo_id} at {revision!r}, which is not a 40-hex commit"
        if lock is not None and lock.hub_entry(kind, repo_id, revision) is None:
            return f"downloads {kind} {repo_id}@{revision[:12]}, which is not in the lockfile"
        return None
    api = _API_REVISION.match(path)
    if api:
        kind = api[1][:-1]
        repo_id, action, revision = api[2], api[3], api[4]
        if action is None:
            if path.rstrip("/") == f"/api/{api[1]}/{repo_id}":
                return f"asks the Hub for the default branch of {kind} {repo_id} (no revision)"
            return None  # refs, commits and other listings load nothing
        if not GIT_SHA1_HEX.match(revision):
            return f"asks the Hub to resolve {kind} {repo_id} at {revision!r}, which is not a 40-hex commit"
    return None


def _on_request(request: Any) -> None:
    state = _state
    if state is None or not state.pinned:
        return
    problem = check_hub_url(str(request.url), state.lock)
    if problem:
        _refuse(problem)


def install_http_hook() -> str:
    """Hook huggingface_hub's HTTP client; returns which mechanism was used."""
    global _installed_http
    if _installed_http:
        return "installed"
    import huggingface_hub

    if hasattr(huggingface_hub, "set_client_factory"):  # 1.x (httpx) and 2.x (httpx2)
        from huggingface_hub.utils import _http

        base_factory = _http.default_client_factory

        def factory() -> Any:
            client = base_factory()
            hooks = dict(client.event_hooks)
            hooks["request"] = [*hooks.get("request", []), _on_request]
            client.event_hooks = hooks
            return client

        huggingface_hub.set_client_factory(factory)
        _installed_http = True
        return "set_client_factory"
    if hasattr(huggingface_hub, "configure_http_backend"):  # 0.x (requests)
        import requests

        def backend() -> Any:
            session = requests.Session()
            session.hooks["response"].append(lambda response, *a, **k: _on_request(response.request))
            return session

        huggingface_hub.configure_http_backend(backend_factory=backend)
        _installed_http = True
        return "configure_http_backend"
    raise RuntimeError("this huggingface_hub version offers no HTTP hook")


# -- activation -----------------------------------------------------------------------------


def activate(state: GuardState) -> None:
    global _state
    if state.no_pickle or state.verified:
        install_audit_hook()
    if state.pinned:
        # without huggingface_hub the code under test cannot reach the Hub through it
        with contextlib.suppress(ImportError):
            install_http_hook()
    _state = state


def deactivate() -> GuardState | None:
    global _state
    state, _state = _state, None
    return state
