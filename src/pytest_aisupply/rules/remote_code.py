"""Rule ``remote-code``: code from the Hub runs only for allow-listed, pinned repositories.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..code.references import UNRESOLVED, HubReference
from ..lockfile.digests import GIT_SHA1_HEX
from .code_base import CallSite, CodeRule
from .pinned_revision import revision_problem, written_by_project

if TYPE_CHECKING:
    from ..inventory.code_files import ParsedCode
    from ..inventory.core import Inventory


#: Loaders that fetch a Python script from the Hub and import it, with no ``trust_remote_code``
#: gate: ``evaluate.load("accuracy")`` runs ``accuracy.py`` of the ``evaluate-metric/accuracy``
#: Space, ``datasets.load_metric`` the metric's script.
SCRIPT_LOADERS = frozenset({"evaluate.load", "datasets.load_metric"})


def _runs_remote_code(reference: HubReference) -> bool:
    return (
        reference.api in SCRIPT_LOADERS
        or reference.trust_remote_code is not False
        or reference.code_revision is not None
        or reference.custom_pipeline is not None
    )


class RemoteCodeRule(CodeRule):
    id = "remote-code"
    summary = "trust_remote_code and custom pipelines only for allow-listed repos pinned to a commit"

    def relevant(self, parsed: ParsedCode) -> bool:
        return any(_runs_remote_code(reference) for reference in parsed.facts.references)

    def call_sites(self, parsed: ParsedCode, inventory: Inventory) -> Iterator[CallSite]:
        allowed = set(inventory.settings.trust_remote_code)
        for reference in parsed.facts.references:
            if written_by_project(reference, parsed, inventory):
                continue  # a folder the project writes: its code is the project's own
            site = (reference.line, reference.col, reference.end_line)
            repo = reference.repo_id
            if reference.api in SCRIPT_LOADERS:
                yield from _script_loader(reference, site, allowed)
            elif reference.trust_remote_code is UNRESOLVED:
                yield CallSite(
                    *site,
                    f"{reference.api}: trust_remote_code cannot be verified statically (it is not a constant)",
                    "pass trust_remote_code=False, or a literal True for a repo listed in trust_remote_code",
                )
            elif reference.trust_remote_code:
                if not isinstance(repo, str):
                    yield CallSite(
                        *site,
                        f"{reference.api}: trust_remote_code=True for a repo id that is not a constant",
                        "name the repo literally and list it in [tool.aisupply] trust_remote_code",
                    )
                elif repo not in allowed:
                    yield CallSite(
                        *site,
                        f"{reference.api}({repo!r}): trust_remote_code=True runs the repo's Python code, "
                        "and the repo is not in trust_remote_code",
                        f"review the repo's code, then add {repo!r} to [tool.aisupply] trust_remote_code "
                        "(and pin it), or load a model that needs no remote code",
                    )
                else:
                    problem = revision_problem(reference)
                    if problem is not None:
                        yield CallSite(
                            *site,
                            f"{reference.api}({repo!r}): trust_remote_code=True with an unpinned revision: {problem}",
                            "pin revision= (and code_revision=) to the 40-hex commit whose code you reviewed",
                        )
            if reference.code_revision is not None and not (
                isinstance(reference.code_revision, str) and GIT_SHA1_HEX.match(reference.code_revision)
            ):
                shown = reference.code_revision if isinstance(reference.code_revision, str) else "not a constant"
                yield CallSite(
                    *site,
                    f"{reference.api}: code_revision {shown!r} is not a 40-hex commit",
                    "pin code_revision to the commit whose code you reviewed",
                )
            if reference.custom_pipeline is not None:
                pipeline = reference.custom_pipeline
                pinned = isinstance(reference.custom_revision, str) and GIT_SHA1_HEX.match(reference.custom_revision)
                if isinstance(pipeline, str) and "/" not in pipeline:
                    yield CallSite(
                        *site,
                        f"{reference.api}: community pipeline {pipeline!r} runs Python fetched from the "
                        "community-pipelines mirror at main, with no trust_remote_code check",
                        "copy the reviewed pipeline code into your project and import it, or use a built-in pipeline",
                    )
                elif not isinstance(pipeline, str) or pipeline not in allowed or not pinned:
                    shown = pipeline if isinstance(pipeline, str) else "not a constant"
                    yield CallSite(
                        *site,
                        f"{reference.api}: custom_pipeline {shown!r} runs pipeline code from the Hub",
                        "list the pipeline repo in [tool.aisupply] trust_remote_code and pin custom_revision to a "
                        "40-hex commit, or use a built-in pipeline",
                    )


def _script_loader(reference: HubReference, site: tuple[int, int, int], allowed: set[str]) -> Iterator[CallSite]:
    """``evaluate.load``/``load_metric`` always run the script they fetch: the same bar as
    ``trust_remote_code=True`` (an allow-listed repo, pinned to a commit)."""
    repo = reference.repo_id
    if not isinstance(repo, str):
        yield CallSite(
            *site,
            f"{reference.api}: runs a Python script fetched from the Hub, for a repo id that is not a constant",
            "name the repo literally and list it in [tool.aisupply] trust_remote_code, or load a local script",
        )
    elif repo not in allowed:
        yield CallSite(
            *site,
            f"{reference.api}({repo!r}): runs the repo's Python script, and the repo is not in trust_remote_code",
            f"review the script, then add {repo!r} to [tool.aisupply] trust_remote_code and pin revision=, "
            "or copy the reviewed script into the project and load it by path",
        )
    else:
        problem = revision_problem(reference)
        if problem is not None:
            yield CallSite(
                *site,
                f"{reference.api}({repo!r}): runs the repo's Python script with an unpinned revision: {problem}",
                "pin revision= to the 40-hex commit whose script you reviewed",
            )
