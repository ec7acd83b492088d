"""Rule ``license``: locked Hub references and local model cards carry an allowed license, and
their base models are locked and allowed too.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..findings import Finding, Subject
from .integrity import hub_subject_id

if TYPE_CHECKING:
    from ..inventory.core import Inventory
    from ..lockfile.lock import HubEntry

RULE_ID = "license"


class LicenseRule:
    id = RULE_ID
    summary = "models and datasets carry a license in allowed_licenses; base models too"

    def subjects(self, inventory: Inventory) -> Iterator[Subject]:
        if inventory.lock is not None:
            for entry in sorted(inventory.lock.hub.values(), key=lambda e: e.key):
                yield Subject(
                    hub_subject_id(entry.repo_type, entry.repo_id, entry.revision),
                    inventory.root / inventory.settings.lockfile,
                    "hub",
                )
        for folder, path, _card in inventory.model_cards:
            yield Subject(folder, path, "model-card")

    def check(self, subject: Subject, inventory: Inventory) -> Iterator[Finding]:
        # the policy (and the SPDX parser it may load) only for a project with something licensed
        from .license_policy import check_license

        allowed = inventory.settings.allowed_licenses
        if subject.kind == "hub":
            entry = _entry(inventory, subject.id)
            if entry is None:
                return
            verdict = check_license(entry.license, allowed, license_name=entry.license_name)
            bases = entry.base_models
            where = f"{inventory.settings.lockfile} ({entry.repo_id})"
        else:
            card = next((c for folder, _, c in inventory.model_cards if folder == subject.id), None)
            if card is None:
                return
            if card.error:
                yield Finding(self.id, subject.id, card.error, "fix the README.md front matter")
                return
            verdict = check_license(card.licenses(), allowed, license_name=card.metadata.get("license_name"))
            bases = card.base_models()
            where = f"{subject.id}/README.md"
        if not verdict.allowed:
            allowed_text = ", ".join(allowed) if allowed else "(none configured)"
            yield Finding(
                self.id,
                subject.id,
                f"license {verdict.shown}: {verdict.reason}",
                f"use a model under an allowed license ({allowed_text}), or, after legal review, add it to "
                "allowed_licenses",
                where=where,
            )
        yield from self._lineage(subject, bases, inventory)

    def _lineage(self, subject: Subject, bases: tuple[str, ...], inventory: Inventory) -> Iterator[Finding]:
        from .license_policy import check_license

        lock = inventory.lock
        for base in bases:
            if base.startswith(("./", "/", "../")):
                continue
            entry = lock.hub_entry("model", base) if lock is not None else None
            if entry is None:
                yield Finding(
                    self.id,
                    subject.id,
                    f"base model {base} is not in the lockfile, so its license and revision are unreviewed",
                    f"reference {base} with a pinned revision in code and run pytest --aisupply-update",
                )
                continue
            verdict = check_license(entry.license, inventory.settings.allowed_licenses, license_name=entry.license_name)
            if not verdict.allowed:
                yield Finding(
                    self.id,
                    subject.id,
                    f"base model {base} has license {verdict.shown}: {verdict.reason}",
                    "a derived model inherits its base model's terms: use another base or allow its license",
                )


def _entry(inventory: Inventory, subject_id: str) -> HubEntry | None:
    if inventory.lock is None:
        return None
    repo_type, _, rest = subject_id.partition(":")
    repo_id, _, revision = rest.rpartition("@")
    return inventory.lock.hub_entry(repo_type, repo_id, revision)
