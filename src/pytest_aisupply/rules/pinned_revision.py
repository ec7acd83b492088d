"""Rule ``pinned-revision``: every Hub (and torch.hub) reference is pinned to a commit.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..code.references import PINNED, UNRESOLVED, HubReference
from ..lockfile.digests import GIT_SHA1_HEX
from .code_base import CallSite, CodeRule

if TYPE_CHECKING:
    from ..inventory.code_files import ParsedCode
    from ..inventory.core import Inventory

_HEXISH = re.compile(r"[0-9a-fA-F]{7,64}\Z")
_RECIPE = (
    "download the files with huggingface_hub.hf_hub_download(repo_id, filename, revision='<40-hex commit>') "
    "and load them from the returned local path"
)


def pin_fix(reference: HubReference) -> str:
    if reference.repo_type == "github":
        return "use 'owner/repo:<40-hex commit sha>' so torch.hub downloads that exact commit"
    repo = reference.repo_id if isinstance(reference.repo_id, str) else "<repo>"
    if reference.api == "huggingface.co URL":
        return (
            "put the 40-hex commit sha in the URL instead of the branch "
            f"(https://huggingface.co/{repo}/resolve/<40-hex commit sha>/<file>)"
        )
    if reference.api == "timm.create_model":
        return f"use 'hf-hub:{repo}@<40-hex commit sha>' (timm downloads at the revision after '@')"
    kind = "" if reference.repo_type == "model" else f", repo_type='{reference.repo_type}'"
    return (
        f"pass revision='<40-hex commit sha>' (the current one: "
        f"huggingface_hub.HfApi().repo_info('{repo}'{kind}).sha), and update it deliberately"
    )


def revision_problem(reference: HubReference) -> str | None:
    """Why the reference is not pinned to a commit, or None when it is."""
    revision = reference.revision
    if revision is PINNED:
        return None  # returned by a function the project declares as pinning (pinning_functions)
    if revision is UNRESOLVED:
        return "revision cannot be verified statically (it is not a constant)"
    if revision is None:
        return "no revision: it loads whatever the default branch holds at run time"
    if not isinstance(revision, str):
        return "revision cannot be verified statically"
    if GIT_SHA1_HEX.match(revision):
        return None
    if revision.startswith("refs/pr/"):
        return f"revision {revision!r} is a pull-request ref, which moves with every push"
    if _HEXISH.match(revision):
        return (
            f"revision {revision!r} looks like a commit but is not 40 lowercase hex characters, "
            "so huggingface_hub treats it as a branch or tag name"
        )
    return f"revision {revision!r} is a branch or tag, which can move"


def written_by_project(reference: HubReference, parsed: ParsedCode, inventory: Inventory) -> bool:
    """The name is a folder another code file of the project writes: a local folder, not a repo."""
    return (
        reference.repo_type != "github"
        and isinstance(reference.repo_id, str)
        and inventory.code.written_elsewhere(reference.repo_id, parsed)
    )


def _locked_elsewhere(reference: HubReference, inventory: Inventory) -> bool:
    """A revision that cannot be read statically passes when the lockfile pins the same repo."""
    lock = inventory.lock
    return (
        reference.revision is UNRESOLVED
        and isinstance(reference.repo_id, str)
        and lock is not None
        and lock.hub_entry(reference.repo_type, reference.repo_id) is not None
    )


class PinnedRevisionRule(CodeRule):
    id = "pinned-revision"
    summary = "Hub models, datasets and torch.hub repos are pinned to a 40-hex commit"

    def relevant(self, parsed: ParsedCode) -> bool:
        return bool(parsed.facts.references)

    def call_sites(self, parsed: ParsedCode, inventory: Inventory) -> Iterator[CallSite]:
        for reference in parsed.facts.references:
            if written_by_project(reference, parsed, inventory):
                continue
            if reference.api == "datasets.load_metric" and "/" not in str(reference.repo_id):
                # a canonical metric's script comes from GitHub at the installed datasets release's tag,
                # not from a Hub branch; remote-code reports that it runs
                continue
            repo = reference.repo_id if isinstance(reference.repo_id, str) else "a repo id that is not a constant"
            what = f"{reference.api}({repo!r})" if isinstance(reference.repo_id, str) else f"{reference.api}({repo})"
            if not reference.can_pin:
                yield CallSite(
                    reference.line,
                    reference.col,
                    reference.end_line,
                    f"{what} cannot pin a revision: it always resolves the latest files",
                    _RECIPE,
                )
                continue
            problem = revision_problem(reference)
            if problem is None or _locked_elsewhere(reference, inventory):
                continue
            if reference.repo_id is UNRESOLVED and reference.revision is not UNRESOLVED:
                problem += "; the repo id cannot be verified statically either"
            yield CallSite(reference.line, reference.col, reference.end_line, f"{what}: {problem}", pin_fix(reference))
