"""Rule ``safetensors``: a safetensors file's header must describe its data exactly.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ..findings import Finding, Subject
from ..formats.safetensors import SafetensorsHeader
from .no_pickle import describe_format

if TYPE_CHECKING:
    from ..inventory.core import Inventory

RULE_ID = "safetensors"
_FIX = (
    "the header does not match the data: the file is corrupt, truncated or crafted; "
    "re-export it with safetensors.torch.save_file (or save_model) and compare its sha256 with the source"
)


class SafetensorsRule:
    id = RULE_ID
    summary = "safetensors headers are well-formed and describe the data exactly"

    def subjects(self, inventory: Inventory) -> Iterable[Subject]:
        for artifact in inventory.artifacts:
            if artifact.format == "safetensors" or artifact.relpath.lower().endswith(".safetensors"):
                yield Subject(artifact.relpath, artifact.path, "artifact", artifact.format)

    def check(self, subject: Subject, inventory: Inventory) -> Iterator[Finding]:
        artifact = inventory.by_relpath.get(subject.id)
        if artifact is None:
            return
        if artifact.problem:
            yield Finding(self.id, subject.id, artifact.problem, artifact.fix or "replace it with a regular file")
            return
        facts = inventory.facts(artifact)
        headers = [value for value in facts.detail("safetensors") if isinstance(value, tuple)]
        top = [header for where, header in headers if where == "" and isinstance(header, SafetensorsHeader)]
        if not top:
            yield Finding(
                self.id,
                subject.id,
                f"not a safetensors file: its content is {describe_format(facts.format)}",
                "rename the file to match its content, or convert it to safetensors",
            )
            return
        for problem in top[0].problems:
            yield Finding(self.id, subject.id, f"malformed header: {problem}", _FIX)
