"""What the Hugging Face Hub says about a pinned reference, and where its local cache is.

``huggingface_hub`` is imported only when the Hub is actually asked (``--aisupply-update``).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from ..lockfile.digests import GIT_SHA1_HEX, SHA256_HEX
from ..lockfile.lock import HubEntry, HubFile


def hub_cache_dir() -> Path:
    """The cache huggingface_hub uses: HF_HUB_CACHE, then HF_HOME/hub, then the default."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(variable)
        if value:
            return Path(value).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(home).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def cached_snapshot(repo_type: str, repo_id: str, revision: str) -> Path | None:
    folder = hub_cache_dir() / f"{repo_type}s--{repo_id.replace('/', '--')}" / "snapshots" / revision
    return folder if folder.is_dir() else None


def cached_files(entry: HubEntry) -> Iterator[tuple[str, Path, HubFile | None]]:
    """Each file of the entry's snapshot in the local HF cache, in path order: its path in the
    commit, where it lies, and its locked record (None: not a file of the reviewed commit)."""
    snapshot = cached_snapshot(entry.repo_type, entry.repo_id, entry.revision)
    if snapshot is None:
        return
    locked = {item.path: item for item in entry.files}
    for path in sorted(p for p in snapshot.rglob("*") if p.is_file()):
        rel = path.relative_to(snapshot).as_posix()
        yield rel, path, locked.get(rel)


def cached_digest(path: Path, item: HubFile, sha256: Callable[[Path], str]) -> str:
    """The digest of a cached file in the form the lock records it (sha256 for LFS files, git blob
    sha1 for small ones), or ``unreadable (...)``, which never equals a digest."""
    from ..lockfile.hashing import git_blob_sha1

    try:
        return sha256(path) if item.sha256 else git_blob_sha1(path)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"


class HubError(Exception):
    """The Hub could not answer; the message says what is missing."""


# -- every call to the Hub goes through here ------------------------------------------------------
#
# huggingface_hub speaks HTTP through requests (0.x), httpx (1.x) or httpx2 (2.x, re-exported as
# huggingface_hub.utils.httpx), each with its own exception tree, and parses the answers itself
# (KeyError / TypeError / ValueError on a malformed one). The lock writer must see one thing: the
# Hub did not answer usefully. So a Hub call never lets anything but HubError out, and the message
# is classified by the exception's class names, which works the same in every major without
# importing three HTTP stacks.

DEFAULT_TIMEOUT = 10.0


def hub_timeout() -> float:
    """Seconds to wait for each answer: huggingface_hub's own HF_HUB_DOWNLOAD_TIMEOUT (default 10)."""
    try:
        from huggingface_hub import constants

        value = float(getattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", DEFAULT_TIMEOUT))
    except (ImportError, TypeError, ValueError):
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


@contextlib.contextmanager
def bounded_session(timeout: float) -> Iterator[None]:
    """Give every request huggingface_hub sends in this block a timeout.

    Its API calls send ``timeout=None`` (requests and httpx: wait forever) and its 1.x/2.x client is
    built with ``timeout=None``; an unreachable or silent Hub would hang the update. The patch is
    on the session instance and undone on exit, so code under test never sees it.
    """
    from huggingface_hub import get_session

    session: Any = get_session()
    patched: dict[str, Any] = {}
    for name in ("request", "stream"):
        method = getattr(session, name, None)
        if not callable(method) or name in vars(session):  # requests.Session.stream is a flag
            continue
        patched[name] = _with_timeout(method, timeout)
    had_timeout = hasattr(type(session), "timeout")  # httpx / httpx2 clients; requests has none
    old_timeout = session.timeout if had_timeout else None
    try:
        for name, wrapper in patched.items():
            setattr(session, name, wrapper)
        if had_timeout:
            session.timeout = timeout
        yield
    finally:
        for name in patched:
            with contextlib.suppress(AttributeError):
                delattr(session, name)
        if had_timeout:
            session.timeout = old_timeout


def _with_timeout(method: Callable[..., Any], timeout: float) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = timeout
        return method(*args, **kwargs)

    return call


T = TypeVar("T")


def call_hub(what: str, function: Callable[[], T], timeout: float) -> T:
    """Run one huggingface_hub call; whatever goes wrong becomes a HubError saying why."""
    try:
        return function()
    except HubError:
        raise
    except Exception as exc:  # every transport, status and parsing error of every major: see above
        raise HubError(f"{what}: {describe_hub_error(exc, timeout)}") from exc


def describe_hub_error(exc: BaseException, timeout: float) -> str:
    """One line for a user: what failed, and the hint that fixes the common cases."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    status = _status_code(exc)
    detail = _first_line(exc)
    if "OfflineModeIsEnabled" in names:
        return "offline mode is on (HF_HUB_OFFLINE): the Hub is not asked; unset it for the update"
    if "TooManyRedirects" in names:  # before the status: requests attaches the last 302 to it
        return f"too many redirects (a redirect loop): {detail}"
    if status in (401, 403):
        return (
            f"access denied (HTTP {status}): the repository is gated or private; set HF_TOKEN to a token "
            f"that has access ({detail})"
        )
    if status == 404:
        return f"not found (HTTP 404): {detail}"
    if status is not None and status >= 500:
        return f"the Hub failed (HTTP {status}): {detail}"
    if status is not None:
        return f"HTTP {status}: {detail}"
    if names & {"TimeoutException", "Timeout", "TimeoutError", "ReadTimeout", "ConnectTimeout"}:
        return f"no answer within {timeout:g} s (timeout; HF_HUB_DOWNLOAD_TIMEOUT sets it): {detail}"
    if _caused_by(exc, socket.gaierror):
        return f"the Hub's host name could not be resolved (DNS; check HF_ENDPOINT and the network): {detail}"
    if names & {"ConnectError", "ConnectionError", "ProxyError", "NetworkError"}:
        return f"could not connect (check HF_ENDPOINT, proxies and the network): {detail}"
    if names & {"RemoteProtocolError", "ProtocolError", "ChunkedEncodingError", "IncompleteRead", "DecodingError"}:
        return f"the answer was cut off or broken: {detail}"
    if names & {"ValueError", "KeyError", "TypeError", "AttributeError", "IndexError", "UnicodeError"}:
        return f"the Hub's answer could not be read ({type(exc).__name__}): {detail}"
    return f"{type(exc).__name__}: {detail}"


def _status_code(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return "Name or service not known" in str(exc) or "nodename nor servname" in str(exc)


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(str(item) for item in value)
    return (str(value),)


def fetch_entry(repo_type: str, repo_id: str, revision: str, today: dt.date) -> HubEntry:
    """Ask the Hub (``HF_ENDPOINT``) for everything the lock records about a pinned reference.

    Raises HubError, and nothing else, when the Hub cannot answer; ends in bounded time.
    """
    try:
        from huggingface_hub import HfApi
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise HubError(f"huggingface_hub is not installed: {exc}") from exc
    timeout = hub_timeout()
    where = f"{repo_type} {repo_id}@{revision}"
    api = HfApi()
    with bounded_session(timeout):
        info = call_hub(
            f"{where}: file list",
            lambda: api.repo_info(repo_id, repo_type=repo_type, revision=revision, files_metadata=True),
            timeout,
        )
        security = None
        if repo_type == "model":
            secured = call_hub(
                f"{where}: security scan status",
                lambda: api.model_info(repo_id, revision=revision, securityStatus=True),
                timeout,
            )
            security = getattr(secured, "security_repo_status", None)
        reachable = _reachable_from(api, repo_type, repo_id, revision, timeout)
    # the client accepts answers with missing or odd fields; reading them is still reading the Hub
    return call_hub(
        f"{where}: file list",
        lambda: _entry_from_info(info, security, reachable, repo_type, repo_id, revision, today),
        timeout,
    )


def _entry_from_info(
    info: Any,
    security: Any,
    reachable: tuple[str, ...],
    repo_type: str,
    repo_id: str,
    revision: str,
    today: dt.date,
) -> HubEntry:
    answered = getattr(info, "sha", None)
    if answered is not None and answered != revision:
        raise ValueError(f"asked for commit {revision}, the Hub answered for {answered}")
    card_data: Any = getattr(info, "card_data", None)
    card = card_data.to_dict() if card_data is not None else {}
    files = []
    for sibling in getattr(info, "siblings", None) or ():
        lfs = getattr(sibling, "lfs", None)
        size = getattr(sibling, "size", None)
        if lfs is not None:
            sha256 = str(lfs.sha256)
            if not SHA256_HEX.match(sha256):
                raise ValueError(f"{sibling.rfilename}: sha256 {sha256!r} is not 64 hex digits")
            lfs_size = lfs.size if lfs.size is not None else size
            files.append(HubFile(sibling.rfilename, int(lfs_size or 0), sha256=sha256))
        elif getattr(sibling, "blob_id", None):
            blob_id = str(sibling.blob_id)
            if not GIT_SHA1_HEX.match(blob_id):
                raise ValueError(f"{sibling.rfilename}: git blob id {blob_id!r} is not 40 hex digits")
            files.append(HubFile(sibling.rfilename, int(size or 0), git_sha1=blob_id))
    gated = getattr(info, "gated", False)
    return HubEntry(
        repo_type=repo_type,
        repo_id=repo_id,
        revision=revision,
        reviewed=today,
        license=_as_list(card.get("license")),
        license_name=card.get("license_name"),
        license_link=card.get("license_link"),
        gated=str(gated).lower() if isinstance(gated, bool) else str(gated),
        author=getattr(info, "author", None),
        base_models=_as_list(card.get("base_model")),
        reachable_from=reachable,
        scan=_scan_summary(security),
        files=tuple(sorted(files, key=lambda f: f.path)),
    )


def _reachable_from(api: Any, repo_type: str, repo_id: str, revision: str, timeout: float) -> tuple[str, ...]:
    """Branches and tags whose history holds the commit; PR refs only when nothing else does."""
    where = f"{repo_type} {repo_id}@{revision}"
    refs = call_hub(
        f"{where}: branches and tags",
        lambda: api.list_repo_refs(repo_id, repo_type=repo_type, include_pull_requests=True),
        timeout,
    )

    def history(ref: str) -> set[str]:
        commits = call_hub(
            f"{where}: history of {ref}",
            lambda: [commit.commit_id for commit in api.list_repo_commits(repo_id, repo_type=repo_type, revision=ref)],
            timeout,
        )
        return set(commits)

    names = []
    for ref in [*refs.branches, *refs.tags]:
        if ref.target_commit == revision:
            names.append(ref.ref)
            continue
        if ref in refs.branches and revision in history(ref.name):
            names.append(ref.ref)
    if names:
        return tuple(sorted(set(names)))
    pulls = []
    for pull in getattr(refs, "pull_requests", None) or ():
        if pull.target_commit == revision or revision in history(pull.ref):
            pulls.append(pull.ref)
    return tuple(sorted(pulls))


def _scan_summary(security: Any) -> str | None:
    if security is None:
        return None
    data = security if isinstance(security, dict) else getattr(security, "__dict__", {})
    issues = data.get("filesWithIssues") or data.get("files_with_issues") or []
    if not data.get("scansDone", data.get("scans_done", False)):
        return "not scanned"
    if not issues:
        return "no issues"
    listed = ", ".join(f"{item.get('path')} ({item.get('level')})" for item in issues if isinstance(item, dict))
    return f"issues: {listed}"
