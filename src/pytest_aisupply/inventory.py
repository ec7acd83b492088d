"""The inventory: every artifact under the configured roots, its sniffed format, and (on demand,
once per session) its facts and hash. Rules read it; it knows nothing of rules or pytest."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .code.references import HubReference
from .config import Settings
from .hashing import HashCache
from .lockfile import ArtifactEntry, HubEntry, Lock
from .modelcard import CardFacts, read_card

if TYPE_CHECKING:
    from .code.index import CodeIndex
from .discovery import FoundFile, Walker
from .findings import Subject
from .formats import ArtifactFacts, FormatReader, Limits, analyze_path, sniff_path


@dataclass(frozen=True)
class Artifact:
    """A model or data file found by content. ``problem`` says why it could not be read safely."""

    relpath: str
    path: Path
    format: str
    problem: str | None = None


@dataclass(frozen=True)
class HubUse:
    """A Hub reference found in code, with where it was found."""

    reference: HubReference
    relpath: str
    place: str


class Inventory:
    def __init__(
        self,
        settings: Settings,
        readers: Sequence[FormatReader],
        limits: Limits | None = None,
        *,
        lock: Lock | None = None,
        hash_cache: HashCache | None = None,
        update: bool = False,
        today: dt.date | None = None,
    ) -> None:
        self.settings = settings
        self.root = settings.root
        self.readers = list(readers)
        self.limits = limits or settings.limits
        self._facts: dict[Path, ArtifactFacts] = {}
        self.walker = Walker(self.root, settings.exclude)
        self.lock = lock
        self.hash_cache = hash_cache or HashCache()
        #: ``--aisupply-update``: the integrity rule records what it sees instead of comparing.
        self.update = update
        self.recorded: dict[str, ArtifactEntry | HubEntry] = {}
        self.today = today or dt.date.today()
        #: Hash all artifacts on every core at the first integrity check (off on xdist workers,
        #: where the items themselves are spread over the cores).
        self.parallel_hashing = False

    @cached_property
    def artifact_root_files(self) -> list[FoundFile]:
        return self.walker.files(self.settings.artifacts)

    @cached_property
    def artifacts(self) -> list[Artifact]:
        """Artifacts under ``settings.artifacts``, sorted by path; files that are not model or
        data formats (text, images ...) are left out."""
        found: list[Artifact] = []
        for item in self.artifact_root_files:
            artifact = self._sniff(item)
            if artifact is not None:
                found.append(artifact)
        return found

    @cached_property
    def model_cards(self) -> list[tuple[str, Path, CardFacts]]:
        """Local model cards (README.md with metadata) under the artifact roots: (folder, path, facts)."""
        cards = []
        for item in self.artifact_root_files:
            if item.path.name == "README.md" and item.problem is None:
                card = read_card(item.path)
                if card is not None:
                    folder = item.relpath.rpartition("/")[0] or "."
                    cards.append((folder, item.path, card))
        return cards

    @cached_property
    def hub_uses(self) -> list[HubUse]:
        """Every Hub reference in the code files, in file order."""
        uses = []
        for code_file in self.code.files:
            parsed = self.code.parsed(code_file)
            for reference in parsed.facts.references:
                uses.append(HubUse(reference, code_file.relpath, parsed.source.place(reference.line, reference.col)))
        return uses

    @cached_property
    def by_relpath(self) -> dict[str, Artifact]:
        return {artifact.relpath: artifact for artifact in self.artifacts}

    def _sniff(self, item: FoundFile) -> Artifact | None:
        if item.problem:
            return Artifact(item.relpath, item.path, "unreadable", item.problem)
        try:
            name, is_artifact = sniff_path(item.path, self.readers)
        except OSError as exc:
            return Artifact(item.relpath, item.path, "unreadable", f"cannot be read: {exc.strerror or exc}")
        if not is_artifact:
            if item.path.name.lower().endswith(".safetensors"):
                return Artifact(item.relpath, item.path, name or "empty")
            return None
        return Artifact(item.relpath, item.path, name or "unknown")

    def facts(self, artifact: Artifact) -> ArtifactFacts:
        """Read the artifact once per session; later calls return the same facts."""
        cached = self._facts.get(artifact.path)
        if cached is None:
            cached = analyze_path(artifact.path, self.readers, self.limits)
            self._facts[artifact.path] = cached
        return cached

    @cached_property
    def code(self) -> CodeIndex:
        """Python files and notebooks under ``settings.code``, parsed on demand, once."""
        from .code.index import CodeIndex
        from .code.references import CodeOptions

        options = CodeOptions(
            local_parameters=frozenset(self.settings.local_path_names),
            pinning_functions=frozenset(self.settings.pinning_functions),
            argparse_defaults=self.settings.argparse_defaults,
            project_root=self.root,
        )
        return CodeIndex(self.root, self.walker, self.settings.code, self.limits, options)

    def format_of(self, subject: Subject) -> str | None:
        """The artifact's format as read (more precise than sniffed), or as sniffed."""
        if subject.kind != "artifact":
            return None
        facts = self._facts.get(subject.path)
        return facts.format if facts is not None else subject.format

    def sha256(self, path: Path) -> str:
        return self.hash_cache.sha256(path)


def file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
