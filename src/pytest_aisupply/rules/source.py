"""Rule ``source``: every repo id comes from an allowed publisher and none from a denied one.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..findings import Finding, Subject

if TYPE_CHECKING:
    from ..inventory.core import Inventory

RULE_ID = "source"


def _matches(repo_id: str, patterns: tuple[str, ...]) -> str | None:
    for pattern in patterns:
        if fnmatch.fnmatchcase(repo_id.lower(), pattern.lower()):
            return pattern
    return None


class SourceRule:
    id = RULE_ID
    summary = "repo ids match allowed_sources and not denied_sources"

    #: The origins of the last inventory asked about (each check needs them: computing them per
    #: check took quadratic time on a lockfile of many Hub entries).
    _cached: tuple[Inventory, dict[str, list[str]]] | None = None

    def _origins(self, inventory: Inventory) -> dict[str, list[str]]:
        """Subject id ('model:org/name') -> where the repo is referenced."""
        cached = self._cached
        if cached is not None and cached[0] is inventory:
            return cached[1]
        origins: dict[str, list[str]] = {}
        for use in inventory.hub_uses:
            reference = use.reference
            if isinstance(reference.repo_id, str) and reference.repo_type != "github":
                key = f"{reference.repo_type}:{reference.repo_id}"
                origins.setdefault(key, []).append(f"{use.relpath}:{use.place}")
        lock = inventory.lock
        if lock is not None:
            for entry in lock.hub.values():
                origins.setdefault(f"{entry.repo_type}:{entry.repo_id}", []).append(inventory.settings.lockfile)
                for base in entry.base_models:
                    origins.setdefault(f"model:{base}", []).append(f"base model of {entry.repo_id}")
        for folder, _, card in inventory.model_cards:
            for base in card.base_models():
                if not base.startswith(("./", "/", "../")):
                    origins.setdefault(f"model:{base}", []).append(f"base model in {folder}/README.md")
        self._cached = (inventory, origins)
        return origins

    def subjects(self, inventory: Inventory) -> Iterator[Subject]:
        settings = inventory.settings
        if not settings.allowed_sources and not settings.denied_sources:
            return
        for key in sorted(self._origins(inventory)):
            yield Subject(key, inventory.root, "repo")

    def check(self, subject: Subject, inventory: Inventory) -> Iterator[Finding]:
        settings = inventory.settings
        repo_id = subject.id.partition(":")[2]
        places = self._origins(inventory).get(subject.id, [])
        where = ", ".join(sorted(set(places))[:5]) or None
        denied = _matches(repo_id, settings.denied_sources)
        if denied:
            yield Finding(
                self.id,
                subject.id,
                f"{repo_id} matches denied_sources pattern {denied!r}",
                "use a model from an approved publisher",
                where=where,
            )
        elif settings.allowed_sources and not _matches(repo_id, settings.allowed_sources):
            yield Finding(
                self.id,
                subject.id,
                f"{repo_id} is not from an allowed publisher ({', '.join(settings.allowed_sources)})",
                "use a model from an approved publisher, or add its publisher to allowed_sources after review",
                where=where,
            )
