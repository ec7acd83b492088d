"""Rule ``unsafe-load``: code does not deserialise with pickle semantics.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .code_base import CallSite, CodeRule

if TYPE_CHECKING:
    from ..inventory.code_files import ParsedCode
    from ..inventory.core import Inventory


class UnsafeLoadRule(CodeRule):
    id = "unsafe-load"
    summary = "no pickle-based loading (torch.load without weights_only=True, pickle, joblib, ...)"

    def relevant(self, parsed: ParsedCode) -> bool:
        facts = parsed.facts
        return bool(facts.unsafe_loads) or any(ref.use_safetensors_false for ref in facts.references)

    def call_sites(self, parsed: ParsedCode, inventory: Inventory) -> Iterator[CallSite]:
        sites = [
            CallSite(load.line, load.col, load.end_line, load.problem, load.fix) for load in parsed.facts.unsafe_loads
        ]
        for reference in parsed.facts.references:
            if reference.use_safetensors_false:
                sites.append(
                    CallSite(
                        reference.line,
                        reference.col,
                        reference.end_line,
                        f"{reference.api}(use_safetensors=False) loads pickle-based weights",
                        "drop use_safetensors=False so safetensors weights are used",
                    )
                )
        yield from sorted(sites, key=lambda site: (site.line, site.col))
