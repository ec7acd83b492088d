"""The inventory: every artifact under the configured roots, its sniffed format, and (on demand,
once per session) its facts and hash. Rules read it; it knows nothing of rules or pytest.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..code import CODE_SUFFIXES
from .discovery import FoundFile, Walker, collector_paused, identity_of, keep_from_collector

# Readers, code analysis, the lockfile's types, model cards and the two caches are imported where they
# are used, so that a project with nothing of a kind never loads the modules for that kind (issue 18).
if TYPE_CHECKING:
    from ..code.references import HubReference
    from ..findings import Subject
    from ..formats import ArtifactFacts, FormatReader, Limits
    from ..formats.core import Sniffed
    from ..lockfile.hashing import HashCache
    from ..lockfile.lock import ArtifactEntry, HubEntry, Lock
    from ..settings.config import Settings
    from .code_files import CodeIndex
    from .facts_cache import FactsCache
    from .modelcard import CardFacts


class Artifact(NamedTuple):
    """A model or data file found by content. ``problem`` says why it could not be read safely.
    (Immutable records here are named tuples: see discovery.FoundFile.)"""

    relpath: str
    path: Path
    format: str
    problem: str | None = None
    #: how to resolve ``problem`` when the generic advice does not apply (a Hub file not checked yet)
    fix: str | None = None


#: Most bytes of small artifacts kept from the sniff until their facts are read (per process).
CONTENT_BUDGET = 32 << 20

HUB_UPDATE = "run `pytest --aisupply-update` and review the lockfile diff"


def hub_file_id(repo_type: str, repo_id: str, revision: str, path: str) -> str:
    """``hf://org/name@<commit>/file`` (``hf://datasets/...`` for other types): huggingface_hub's own
    HfFileSystem spelling, readable in reports and stable in waivers."""
    prefix = "" if repo_type == "model" else f"{repo_type}s/"
    return f"hf://{prefix}{repo_id}@{revision}/{path}"


def is_hub_file(relpath: str) -> bool:
    return relpath.startswith("hf://")


def parse_hub_file_id(subject_id: str) -> tuple[str, str, str, str] | None:
    """``hf://[<type>s/]<repo>@<commit>/<file>`` -> (repo type, repo id, commit, file); None otherwise."""
    if not subject_id.startswith("hf://"):
        return None
    rest = subject_id[len("hf://") :]
    repo_type = "model"
    for kind in ("dataset", "space", "kernel"):
        if rest.startswith(f"{kind}s/"):
            repo_type, rest = kind, rest[len(kind) + 2 :]
    repo_id, at, tail = rest.partition("@")
    revision, slash, path = tail.partition("/")
    if not (at and slash and repo_id and path):
        return None
    return repo_type, repo_id, revision, path


class HubUse(NamedTuple):
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
        local_files: bool = True,
    ) -> None:
        self.settings = settings
        #: False: the lockfile's Hub entries only (what an update recorded, judged after the run)
        self.local_files = local_files
        self.root = settings.root
        self._reader_source = readers
        if limits is not None:
            self.limits = limits
        self._facts: dict[Path, ArtifactFacts] = {}
        self._hub_facts: dict[str, ArtifactFacts] = {}
        #: Small artifacts' content as the sniff read it (see _keep_content).
        self._contents: dict[str, Sniffed] = {}
        #: Artifacts found as regular files, not through a link (their real path is their folder's).
        self._plain_files: set[str] = set()
        self._content_bytes = 0
        self.walker = Walker(self.root, settings.exclude)
        self.lock = lock
        if hash_cache is not None:
            self.hash_cache = hash_cache
        #: Where the hashes of earlier sessions are kept (read at the first hash; None: not kept).
        self.hash_cache_path: Path | None = None
        #: Where the sniffs and facts of earlier sessions are kept (read at the first sniff; None: off).
        self.facts_cache_folder: Path | None = None
        #: The identity (size, times, inode, device) each local artifact had when it was sniffed.
        self._identities: dict[str, tuple[str, tuple[int, int, int, int, int]]] = {}
        #: ``--aisupply-update``: the integrity rule records what it sees instead of comparing.
        self.update = update
        self.recorded: dict[str, ArtifactEntry | HubEntry] = {}
        #: Rule ``signature``: subject id -> the verified signer, for the reports.
        self.signers: dict[str, str] = {}
        self.today = today or dt.date.today()
        #: Hash all artifacts on every core at the first integrity check (off on xdist workers,
        #: where the items themselves are spread over the cores).
        self.parallel_hashing = False

    @cached_property
    def limits(self) -> Limits:
        return self.settings.limits

    @cached_property
    def hash_cache(self) -> HashCache:
        """Content hashes by path and identity, from earlier sessions too (see ``hash_cache_path``)."""
        from ..lockfile.hashing import HashCache

        return HashCache.load(self.hash_cache_path)

    @property
    def loaded_hash_cache(self) -> HashCache | None:
        """The hash cache if something was hashed or asked of it this session, else None."""
        cache: HashCache | None = self.__dict__.get("hash_cache")
        return cache

    @cached_property
    def facts_cache(self) -> FactsCache:
        """Sniffs and facts of earlier sessions (in ``facts_cache_folder``; the controller saves it,
        see facts_cache); loaded at the first sniff, off without a folder."""
        from .facts_cache import CACHE_NAME, FactsCache

        folder = self.facts_cache_folder
        return FactsCache.load(folder / CACHE_NAME if folder is not None else None)

    @property
    def loaded_facts_cache(self) -> FactsCache | None:
        """The facts cache if a file was sniffed this session, else None."""
        cache: FactsCache | None = self.__dict__.get("facts_cache")
        return cache

    @cached_property
    def readers(self) -> list[FormatReader]:
        """The format readers, asked for at the first file to sniff or read (they may be a lazy
        sequence that imports formats/ only then)."""
        return list(self._reader_source)

    @cached_property
    def artifact_root_files(self) -> list[FoundFile]:
        if not self.local_files:
            return []
        with collector_paused():  # a data folder's walk: records that live to the end (see artifacts)
            return self.walker.files(self.settings.artifacts)

    @cached_property
    def code_root_files(self) -> list[FoundFile]:
        """Every file under ``settings.code`` (the code index keeps the Python files and notebooks)."""
        return self.walker.files(self.settings.code)

    @cached_property
    def has_code_files(self) -> bool:
        """Whether there is any Python file or notebook to analyse (known without loading code/)."""
        return any(found.path.name.endswith(CODE_SUFFIXES) for found in self.code_root_files)

    @cached_property
    def artifacts(self) -> list[Artifact]:
        """Artifacts under ``settings.artifacts``, sorted by path; files that are not model or
        data formats (text, images ...) are left out."""
        found: list[Artifact] = []
        with collector_paused():
            for item in self.artifact_root_files:
                artifact = self._sniff(item)
                if artifact is not None:
                    found.append(artifact)
        keep_from_collector(len(self.artifact_root_files))
        return found + self.hub_artifacts

    # -- Hub files: the files pinned references load, judged from the facts in the lockfile ----------

    @cached_property
    def hub_artifacts(self) -> list[Artifact]:
        """The files each pinned Hub reference of the code loads (:mod:`~pytest_aisupply.hub.loads`), as artifacts with
        ids ``hf://[<type>s/]<repo>@<commit>/<file>``; their facts come from the lockfile, so every
        artifact rule judges them offline with today's settings. A ``[[hub]]`` entry no code references
        loads what cannot be decided: every weight-like file of its commit. A file without recorded
        facts is a problem: "not checked yet", naming the entry and the command that checks it."""
        if self.lock is None:
            return []
        from ..hub.loads import every_weight

        lockfile = self.settings.lockfile
        found: dict[str, Artifact] = {}
        for entry in self.lock.hub.values():
            uses = self.pinned_hub_uses.get(entry.key)
            if uses:
                planned = self.hub_plan(uses, entry)
                where = self.root / uses[0].relpath
                unreferenced = ""
            else:
                planned = list(every_weight([item.path for item in entry.files], "no code references it").files)
                where = self.root / lockfile
                unreferenced = " (no code references this entry: the update removes it; or delete it by hand)"
            label = f"[[hub]] {entry.repo_type} {entry.repo_id}@{entry.revision} in {lockfile}"
            locked = {item.path: item for item in entry.files}
            for path in planned:
                relpath = hub_file_id(entry.repo_type, entry.repo_id, entry.revision, path)
                item = locked.get(path)
                if item is None or item.facts is None:
                    found[relpath] = Artifact(
                        relpath,
                        where,
                        "unknown",
                        f"not checked yet: {label} records no facts for {path}",
                        f"run `pytest --aisupply-update` with access to the Hub and review the lockfile diff"
                        f"{unreferenced}",
                    )
                    continue
                from ..formats.facts_json import FactsError, decode_facts

                try:
                    facts = decode_facts(item.facts)
                except FactsError as exc:
                    found[relpath] = Artifact(
                        relpath,
                        where,
                        item.format or "unknown",
                        f"{exc} ({label})",
                        f"run `pytest --aisupply-update` and review the lockfile diff{unreferenced}",
                    )
                    continue
                self._hub_facts[relpath] = facts
                found[relpath] = Artifact(relpath, where, item.format or facts.format)
        return [found[key] for key in sorted(found)]

    @cached_property
    def pinned_hub_uses(self) -> dict[tuple[str, str, str], list[HubUse]]:
        """Code references pinned to a commit, grouped by (repo type, repo id, commit)."""
        from ..lockfile.digests import GIT_SHA1_HEX

        grouped: dict[tuple[str, str, str], list[HubUse]] = {}
        for use in self.hub_uses:
            reference = use.reference
            if not isinstance(reference.repo_id, str) or not isinstance(reference.revision, str):
                continue
            if reference.repo_type == "github" or not GIT_SHA1_HEX.match(reference.revision):
                continue
            grouped.setdefault((reference.repo_type, reference.repo_id, reference.revision), []).append(use)
        return grouped

    def hub_plan(self, uses: Sequence[HubUse], entry: HubEntry) -> list[str]:
        """Every file of the commit some of ``uses`` loads (decided from file names alone, the same at
        update time and offline)."""
        from ..hub.loads import files_loaded, load_call

        names = [item.path for item in entry.files]
        planned: set[str] = set()
        for use in uses:
            planned.update(files_loaded(load_call(use.reference), names).files)
        return sorted(planned)

    @cached_property
    def model_cards(self) -> list[tuple[str, Path, CardFacts]]:
        """Local model cards (README.md with metadata) under the artifact roots: (folder, path, facts)."""
        cards = []
        for item in self.artifact_root_files:
            if item.path.name == "README.md" and item.problem is None:
                from .modelcard import read_card  # only where there is a card to read

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
        path = item.path
        key = os.fspath(path)
        if not os.path.isabs(key):  # the walker's paths are absolute and normal already
            key = os.path.abspath(key)
        cache = self.facts_cache  # loaded before the first stat: its start time bounds the racy window
        try:
            # stat before the read: a file changed during the read gets a new identity, so its
            # entry is never used again
            identity = identity_of(os.stat(path))
        except OSError as exc:
            return Artifact(item.relpath, path, "unreadable", f"cannot be read: {exc.strerror or exc}")
        if cache.enabled:
            cache.bind(self.readers, self.limits)
            entry = cache.entry(key, identity)
            if entry is not None:
                cache.cached.add(key)
                if not item.link:
                    self._plain_files.add(item.relpath)
                if entry.format is None:
                    return None
                self._identities[item.relpath] = (key, identity)
                return Artifact(item.relpath, path, entry.format)
        from ..formats.core import sniff_file

        try:
            sniffed = sniff_file(path, self.readers)
        except OSError as exc:
            return Artifact(item.relpath, path, "unreadable", f"cannot be read: {exc.strerror or exc}")
        name = sniffed.name
        if not item.link:
            self._plain_files.add(item.relpath)
        if not sniffed.artifact and not path.name.lower().endswith(".safetensors"):
            cache.sniffed(key, identity, None)
            return None
        # a .safetensors file of no artifact format is checked all the same (the rule says why)
        artifact = Artifact(item.relpath, path, name or ("unknown" if sniffed.artifact else "empty"))
        cache.sniffed(key, identity, artifact.format)
        self._identities[item.relpath] = (key, identity)
        self._keep_content(artifact, sniffed)
        return artifact

    def _keep_content(self, artifact: Artifact, sniffed: Sniffed) -> None:
        """Keep a small artifact's content, read whole by the sniff, and the reader picked for it,
        for its facts (one read and one sniff of each small file per session), within a budget."""
        content = sniffed.content
        if content is not None and self._content_bytes + len(content) <= CONTENT_BUDGET:
            self._contents[artifact.relpath] = sniffed
            self._content_bytes += len(content)

    def facts(self, artifact: Artifact) -> ArtifactFacts:
        """Read the artifact once per session (or take its facts from the facts cache while the
        file is unchanged); later calls return the same facts."""
        recorded = self._hub_facts.get(artifact.relpath)
        if recorded is not None:
            return recorded
        cached = self._facts.get(artifact.path)
        if cached is None:
            known = self._identities.get(artifact.relpath)
            if known is not None and self.facts_cache.enabled:
                cached = self.facts_cache.cached_facts(*known)
            if cached is None:
                cached = self._read_facts(artifact)
                if known is not None:
                    self.facts_cache.facts_read(*known, cached)
            self._facts[artifact.path] = cached
        return cached

    def _read_facts(self, artifact: Artifact) -> ArtifactFacts:
        sniffed = self._contents.pop(artifact.relpath, None)
        if sniffed is None or sniffed.content is None:
            from ..formats import analyze_path

            return analyze_path(artifact.path, self.readers, self.limits)
        from ..formats.core import analyze_content

        self._content_bytes -= len(sniffed.content)
        return analyze_content(sniffed.content, self.readers, self.limits, sniffed.reader)

    @cached_property
    def code(self) -> CodeIndex:
        """Python files and notebooks under ``settings.code``, parsed on demand, once."""
        from ..code.references import CodeOptions
        from .code_files import CodeIndex

        options = CodeOptions(
            local_parameters=frozenset(self.settings.local_path_names),
            pinning_functions=frozenset(self.settings.pinning_functions),
            argparse_defaults=self.settings.argparse_defaults,
            project_root=self.root,
        )
        return CodeIndex(self.root, self.walker, self.settings.code, self.limits, options, found=self.code_root_files)

    def format_of(self, subject: Subject) -> str | None:
        """The artifact's format as read (more precise than sniffed), or as sniffed."""
        if subject.kind != "artifact":
            return None
        facts = self._hub_facts.get(subject.id) or self._facts.get(subject.path)
        return facts.format if facts is not None else subject.format

    def is_plain_file(self, subject: Subject) -> bool:
        """Whether the subject is an artifact the walk found as a regular file (not a link)."""
        return subject.kind == "artifact" and subject.id in self._plain_files

    def sha256(self, path: Path) -> str:
        return self.hash_cache.sha256(path)

    def subject_sha256(self, subject: Subject) -> str:
        """The content hash a waiver pins: a Hub file's locked sha256 (git blob sha1 for small files),
        else the file's sha256."""
        parsed = parse_hub_file_id(subject.id)
        if parsed is not None and self.lock is not None:
            repo_type, repo_id, revision, path = parsed
            entry = self.lock.hub_entry(repo_type, repo_id, revision)
            for item in entry.files if entry is not None else ():
                if item.path == path:
                    return item.sha256 or item.git_sha1 or ""
            return ""
        return self.sha256(subject.path)


def file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
