"""What the Hugging Face Hub says about a pinned reference, and where its local cache is.

``huggingface_hub`` is imported only when the Hub is actually asked (``--aisupply-update``).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from .lockfile import HubEntry, HubFile


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


class HubError(Exception):
    """The Hub could not answer; the message says what is missing."""


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(str(item) for item in value)
    return (str(value),)


def fetch_entry(repo_type: str, repo_id: str, revision: str, today: dt.date) -> HubEntry:
    """Ask the Hub (``HF_ENDPOINT``) for everything the lock records about a pinned reference."""
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise HubError(f"huggingface_hub is not installed: {exc}") from exc
    api = HfApi()
    try:
        info = api.repo_info(repo_id, repo_type=repo_type, revision=revision, files_metadata=True)
        security = None
        if repo_type == "model":
            try:
                secured = api.model_info(repo_id, revision=revision, securityStatus=True)
                security = getattr(secured, "security_repo_status", None)
            except (HfHubHTTPError, OSError, ValueError):
                security = None
        reachable = _reachable_from(api, repo_type, repo_id, revision)
    except HfHubHTTPError as exc:
        raise HubError(f"the Hub refused {repo_type} {repo_id}@{revision}: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise HubError(f"the Hub could not be reached for {repo_type} {repo_id}@{revision}: {exc}") from exc
    card_data: Any = getattr(info, "card_data", None)
    card = card_data.to_dict() if card_data is not None else {}
    files = []
    for sibling in getattr(info, "siblings", None) or ():
        lfs = getattr(sibling, "lfs", None)
        size = getattr(sibling, "size", None)
        if lfs is not None:
            files.append(
                HubFile(sibling.rfilename, int(lfs.size if lfs.size is not None else size or 0), sha256=lfs.sha256)
            )
        elif getattr(sibling, "blob_id", None):
            files.append(HubFile(sibling.rfilename, int(size or 0), git_sha1=sibling.blob_id))
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


def _reachable_from(api: Any, repo_type: str, repo_id: str, revision: str) -> tuple[str, ...]:
    """Branches and tags whose history holds the commit; PR refs only when nothing else does."""
    refs = api.list_repo_refs(repo_id, repo_type=repo_type, include_pull_requests=True)
    names = []
    for ref in [*refs.branches, *refs.tags]:
        if ref.target_commit == revision:
            names.append(ref.ref)
            continue
        if ref in refs.branches:
            commits = api.list_repo_commits(repo_id, repo_type=repo_type, revision=ref.name)
            if any(commit.commit_id == revision for commit in commits):
                names.append(ref.ref)
    if names:
        return tuple(sorted(set(names)))
    pulls = []
    for pull in getattr(refs, "pull_requests", None) or ():
        commits = api.list_repo_commits(repo_id, repo_type=repo_type, revision=pull.ref)
        if pull.target_commit == revision or any(commit.commit_id == revision for commit in commits):
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
