"""What the readers found in each local file, remembered between runs while the file is unchanged.

A warm run on a large data folder then opens none of its files: the sniff's verdict (format, artifact
or not) and the readers' facts come from the cache, and the rules judge them with today's policy, as
they judge a Hub file's facts recorded in the lockfile. An entry is used only while everything that
could change the facts is as it was when they were read:

- the file: absolute path, size, mtime_ns, ctime_ns, inode, device. A user can restore a file's
  mtime after editing it, not its ctime: such a file is read again;
- the reading: the plugin's version and the source files of every reader in use (module, qualname,
  and the size and mtime of the module's file, so an edited reader in a development checkout counts),
  and the limits.

Like git's "racy" index entries, a file modified within :data:`RACY_NS` of the run's start is not
cached (a write in the same timestamp tick as the read would go unseen). Facts are stored as JSON
with the lockfile's codec (:mod:`hub_facts`), bytes included; never pickled. An entry is stored only
when its encoding decodes back to equal facts, so a warm run sees exactly what a cold one saw.

A missing, corrupt, hand-edited, foreign-version or unwritable cache file is never an error: the
files are read. Writes are atomic (a temporary file, then ``os.replace``). Under pytest-xdist each
worker writes what it read to a shard file next to the cache, and the controller merges the shards at
the end of the session (no facts travel in test reports).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .formats import ArtifactFacts, FormatReader, Limits

#: The cache file's own layout; another value is a foreign cache (ignored, then replaced).
FORMAT_VERSION = 1
#: Files modified this close to the run's start are not cached (two seconds: coarse file systems).
RACY_NS = 2_000_000_000
CACHE_NAME = "facts.json"
SHARD_PREFIX = "facts-shard-"

#: One entry: the file's identity (size, mtime_ns, ctime_ns, inode, device), its sniffed format
#: (None: not an artifact), and its facts as JSON (None: not read yet).
Identity = tuple[int, int, int, int, int]


@dataclasses.dataclass
class Entry:
    identity: Identity
    format: str | None
    #: the facts as :func:`hub_facts.encode_facts_value` gives them (a JSON value), bytes kept
    facts: Any = None

    def to_json(self) -> list[Any]:
        return [*self.identity, self.format, self.facts]

    @classmethod
    def from_json(cls, value: Any) -> Entry | None:
        if not (isinstance(value, list) and len(value) == 7):
            return None
        *identity, name, facts = value
        if not all(isinstance(item, int) and not isinstance(item, bool) for item in identity):
            return None
        if not (name is None or isinstance(name, str)) or not (facts is None or isinstance(facts, dict)):
            return None
        return cls((identity[0], identity[1], identity[2], identity[3], identity[4]), name, facts)


def identity_of(info: os.stat_result) -> Identity:
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)


def fingerprint(readers: Sequence[FormatReader], limits: Limits) -> str:
    """What the facts of an unchanged file depend on besides the file."""
    from . import __version__

    parts = [f"pytest-aisupply {__version__}", f"limits {sorted(dataclasses.asdict(limits).items())!r}"]
    modules = {"pytest_aisupply.formats.core", "pytest_aisupply.formats.pickle", "pytest_aisupply.hub_facts"}
    for reader in readers:
        kind = type(reader)
        parts.append(f"reader {reader.name} {getattr(reader, 'artifact', None)} {kind.__module__}:{kind.__qualname__}")
        modules.add(kind.__module__)
    for name in sorted(modules):
        module = sys.modules.get(name)
        source = getattr(module, "__file__", None)
        try:
            info = os.stat(source) if source else None
        except OSError:
            info = None
        parts.append(f"module {name} {info.st_size if info else '-'} {info.st_mtime_ns if info else '-'}")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


class FactsCache:
    """The entries of earlier sessions (``known``) and of this one (``fresh``), by absolute path.

    The fingerprint is computed at the first lookup (the readers are known only then); entries of
    another fingerprint are never used.
    """

    def __init__(self, known: dict[str, Any] | None = None, stored_fingerprint: str | None = None) -> None:
        #: Raw JSON values from the file, parsed into entries on first use (most runs touch each once).
        self._known_raw: dict[str, Any] = dict(known or {})
        self._stored_fingerprint = stored_fingerprint
        self._parsed: dict[str, Entry] = {}
        self.fingerprint: str | None = None
        self.fresh: dict[str, Entry] = {}
        self.started_ns = time.time_ns()
        #: Paths whose sniff or facts this session took from the cache / had to read.
        self.cached: set[str] = set()
        self.read: set[str] = set()
        self.enabled = True

    # -- loading and saving -----------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | None) -> FactsCache:
        if path is None:
            cache = cls()
            cache.enabled = False
            return cache
        data = _read_json(path)
        if data is None or data.get("version") != FORMAT_VERSION or not isinstance(data.get("entries"), dict):
            return cls()
        stored = data.get("fingerprint")
        return cls(data["entries"], stored if isinstance(stored, str) else None)

    def bind(self, readers: Sequence[FormatReader], limits: Limits) -> None:
        if self.fingerprint is None:
            self.adopt(fingerprint(readers, limits))

    def adopt(self, value: str | None) -> None:
        """Use entries of this fingerprint only (the earlier ones of another are dropped)."""
        self.fingerprint = value
        if self._stored_fingerprint != value:
            self._known_raw.clear()

    def save(self, path: Path, shards: Iterable[Path] = ()) -> None:
        """Write the cache: this session's entries and the workers' shards, and the earlier entries
        of the files walked (a session that walked nothing keeps them all; a deleted file leaves)."""
        if self.fingerprint is None:
            return
        walked = self.cached | self.read
        merged: dict[str, Any] = {}
        for shard in shards:
            data = _read_json(shard)
            if data is None or data.get("version") != FORMAT_VERSION or data.get("fingerprint") != self.fingerprint:
                continue
            entries = data.get("entries")
            if isinstance(entries, dict):
                merged.update(entries)
            for name in ("cached", "read"):
                keys = data.get(name)
                if isinstance(keys, list):
                    walked.update(key for key in keys if isinstance(key, str))
        if walked:
            kept = {key: self._known_raw[key] for key in walked if key in self._known_raw}
        else:
            kept = dict(self._known_raw)
        kept.update(merged)
        kept.update({key: entry.to_json() for key, entry in self.fresh.items()})
        if kept == self._known_raw and self._stored_fingerprint == self.fingerprint:
            return
        _write_json(path, {"version": FORMAT_VERSION, "fingerprint": self.fingerprint, "entries": kept})

    def save_shard(self, path: Path) -> None:
        """A worker's fresh entries and its counts, for the controller to merge."""
        if self.fingerprint is None:
            return
        entries = {key: entry.to_json() for key, entry in self.fresh.items()}
        data = {
            "version": FORMAT_VERSION,
            "fingerprint": self.fingerprint,
            "entries": entries,
            "cached": sorted(self.cached),
            "read": sorted(self.read),
        }
        _write_json(path, data)

    # -- lookups ----------------------------------------------------------------------------------

    def entry(self, key: str, identity: Identity) -> Entry | None:
        """The entry for a file in this state, from this session or an earlier one."""
        entry = self.fresh.get(key) or self._parsed.get(key)
        if entry is None:
            raw = self._known_raw.get(key)
            if raw is None:
                return None
            entry = Entry.from_json(raw)
            if entry is None:
                del self._known_raw[key]
                return None
            self._parsed[key] = entry
        return entry if entry.identity == identity else None

    def sniffed(self, key: str, identity: Identity, name: str | None) -> None:
        """Remember a fresh sniff (``name`` None: not an artifact)."""
        self.read.add(key)
        if self.enabled and identity[1] < self.started_ns - RACY_NS:
            self.fresh[key] = Entry(identity, name)

    def facts_read(self, key: str, identity: Identity, facts: ArtifactFacts) -> None:
        """Remember the facts just read, when their encoding gives them back unchanged."""
        self.read.add(key)
        if not self.enabled or identity[1] >= self.started_ns - RACY_NS:
            return
        from .hub_facts import FactsError, decode_facts_value, encode_facts_value

        try:
            value = encode_facts_value(facts, keep_bytes=True)
            if decode_facts_value(value) != facts:
                return
        except (TypeError, ValueError, RecursionError, FactsError):
            return
        entry = self.entry(key, identity)
        if entry is not None:  # the sniff's verdict is stored with the facts, never guessed from them
            self.fresh[key] = Entry(identity, entry.format, value)

    def cached_facts(self, key: str, identity: Identity) -> ArtifactFacts | None:
        entry = self.entry(key, identity)
        if entry is None or entry.facts is None:
            return None
        from .hub_facts import FactsError, decode_facts_value

        try:
            facts = decode_facts_value(entry.facts)
        except FactsError:
            return None
        self.cached.add(key)
        return facts

    def summary(self) -> tuple[int, int]:
        """(files whose sniff and facts all came from the cache, files read)."""
        return len(self.cached - self.read), len(self.read)


class FactsCachePlugin:
    """Saves the cache at the end of the session (the controller merges the workers' shards) and
    says in the terminal summary how many files' facts came from it."""

    name = "aisupply-facts-cache"

    def __init__(self, cache: FactsCache, folder: Path | None, worker_id: str | None) -> None:
        self.cache = cache
        self.folder = folder
        self.worker_id = worker_id
        self.counts: tuple[int, int] | None = None

    def pytest_sessionfinish(self) -> None:
        if self.folder is None:
            self.counts = self.cache.summary() if self.cache.cached or self.cache.read else None
            return
        if self.worker_id is not None:
            self.cache.save_shard(self.folder / f"{SHARD_PREFIX}{self.worker_id}.json")
            return
        shards = sorted(self.folder.glob(f"{SHARD_PREFIX}*.json"))
        cached, read = set(self.cache.cached), set(self.cache.read)
        for shard in shards:
            data = _read_json(shard) or {}
            for name, into in (("cached", cached), ("read", read)):
                keys = data.get(name)
                if isinstance(keys, list):
                    into.update(key for key in keys if isinstance(key, str))
        if shards and self.cache.fingerprint is None:
            self.cache.adopt(_shard_fingerprint(shards))
        self.cache.save(self.folder / CACHE_NAME, shards)
        for shard in shards:
            try:
                shard.unlink()
            except OSError:
                pass
        if cached or read:
            self.counts = (len(cached - read), len(read))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.counts is None:
            return
        from_cache, read = self.counts
        if self.folder is None:
            terminalreporter.write_line(f"facts cache: off (no pytest cache dir); {read} files read")
        else:
            terminalreporter.write_line(f"facts cache: {from_cache} files from the cache, {read} read")


def _shard_fingerprint(shards: Sequence[Path]) -> str | None:
    """The fingerprint the workers computed (the controller of an xdist run never reads a file)."""
    for shard in shards:
        value = (_read_json(shard) or {}).get("fingerprint")
        if isinstance(value, str):
            return value
    return None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically; an unwritable cache is left as it was (the next run reads the files)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
