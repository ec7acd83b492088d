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
with the lockfile's codec (:mod:`~pytest_aisupply.formats.facts_json`), bytes included, never
pickled, after a header line with the sha256 of the rest (a file edited by hand or cut short is
ignored). An entry is stored only when its encoding decodes back to equal facts, so a warm run sees
exactly what a cold one saw; equal facts are encoded to one text, decoded back once.

A missing, corrupt, hand-edited, foreign-version or unwritable cache file is never an error: the
files are read. Writes are atomic (a temporary file, then ``os.replace``). Under pytest-xdist each
worker writes what it read to a shard file next to the cache, and the controller merges the shards at
the end of the session (no facts travel in test reports).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .discovery import Identity, collector_paused, keep_from_collector

if TYPE_CHECKING:
    from ..formats import ArtifactFacts, FormatReader, Limits

#: The cache file's own layout; another value is a foreign cache (ignored, then replaced).
FORMAT_VERSION = 1
#: Files modified this close to the run's start are not cached (two seconds: coarse file systems).
RACY_NS = 2_000_000_000
CACHE_NAME = "facts.json"
#: A file's row as the cache file holds it: its identity, the sniffed format (None: not an
#: artifact) and the index of its facts in the file's table of facts texts (None: no facts kept).
#: Kept so from the start, a session's rows are written as they are, and as flat tuples of ints
#: and strings, the garbage collector stops scanning them.
Row = tuple[int, int, int, int, int, str | None, int | None]


class FactsRecord:
    """One file's facts as JSON text (:func:`facts_json.encode_cached_facts`, bytes kept), decoded
    once per session when a rule asks. Files with equal facts (a folder of like arrays) share one
    record in the file and in memory; rules only read facts, never change them. Kept as text, a
    large cache loads as a list of strings: quick to parse, nothing for the garbage collector."""

    __slots__ = ("decoded", "failed", "text")

    def __init__(self, text: str, decoded: ArtifactFacts | None = None) -> None:
        self.text = text
        self.decoded = decoded
        self.failed = False

    def facts(self) -> ArtifactFacts | None:
        if self.decoded is None and not self.failed:
            from ..formats.facts_json import FactsError, decode_facts

            try:
                self.decoded = decode_facts(self.text)
            except FactsError:
                self.failed = True
        return self.decoded


@dataclasses.dataclass
class Entry:
    identity: Identity
    #: the sniffed format; None: not an artifact
    format: str | None
    facts: FactsRecord | None = None


class _Table:
    """The entries of one cache or shard file, parsed on first use of each."""

    def __init__(self, data: dict[str, Any]) -> None:
        entries = data.get("entries")
        table = data.get("facts")
        self.raw: dict[str, Any] = entries if isinstance(entries, dict) else {}
        self.values: list[Any] = table if isinstance(table, list) else []
        self.records: dict[int, FactsRecord] = {}
        self.parsed: dict[str, Entry] = {}

    def entry(self, key: str) -> Entry | None:
        parsed = self.parsed.get(key)
        if parsed is not None:
            return parsed
        value = self.raw.get(key)
        if type(value) is not list or len(value) != 7:
            return None
        size, mtime, ctime, inode, device, name, index = value
        if not (
            type(size) is int
            and type(mtime) is int
            and type(ctime) is int
            and type(inode) is int
            and type(device) is int
            and (name is None or type(name) is str)
        ):
            return None
        record = None
        if type(index) is int and 0 <= index < len(self.values) and type(self.values[index]) is str:
            record = self.records.get(index)
            if record is None:
                record = self.records[index] = FactsRecord(self.values[index])
        elif index is not None:
            return None
        entry = Entry((size, mtime, ctime, inode, device), name, record)
        self.parsed[key] = entry
        return entry

    def entries(self) -> dict[str, Entry]:
        parsed = {}
        for key in self.raw:
            entry = self.entry(key)
            if entry is not None:
                parsed[key] = entry
        return parsed


def fingerprint(readers: Sequence[FormatReader], limits: Limits) -> str:
    """What the facts of an unchanged file depend on besides the file."""
    from .. import __version__

    parts = [f"pytest-aisupply {__version__}", f"limits {sorted(dataclasses.asdict(limits).items())!r}"]
    modules = {"pytest_aisupply.formats.core", "pytest_aisupply.formats.pickle", "pytest_aisupply.formats.facts_json"}
    for reader in readers:
        kind = type(reader)
        parts.append(f"reader {reader.name} {getattr(reader, 'artifact', None)} {kind.__module__}:{kind.__qualname__}")
        modules.add(kind.__module__)
        # a built-in reader that is still a lazy stand-in names the module that will read
        real = getattr(reader, "module", None)
        if isinstance(real, str):
            modules.add(real)
    for name in sorted(modules):
        source = _source_of(name)
        try:
            info = os.stat(source) if source else None
        except OSError:
            info = None
        parts.append(f"module {name} {info.st_size if info else '-'} {info.st_mtime_ns if info else '-'}")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _source_of(module_name: str) -> str | None:
    """The file a module is (or would be) loaded from, whether or not it is imported yet, so that
    the fingerprint does not depend on which readers this run happened to load."""
    module = sys.modules.get(module_name)
    if module is not None:
        return getattr(module, "__file__", None)
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None


class FactsCache:
    """The entries of earlier sessions and of this one (``fresh``), by absolute path.

    The fingerprint is computed at the first lookup (the readers are known only then); entries of
    another fingerprint are never used.
    """

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        data = data or {}
        stored = data.get("fingerprint")
        self._stored_fingerprint = stored if isinstance(stored, str) else None
        self._known = _Table(data)
        self.fingerprint: str | None = None
        #: This session's rows, indexing ``_texts``.
        self.fresh: dict[str, Row] = {}
        #: The facts texts of this session's rows (equal facts share one), and their index.
        self._texts: list[str] = []
        self._text_index: dict[str, int] = {}
        #: Their records, made when asked for (rarely: the inventory keeps the facts it read).
        self._records: dict[int, FactsRecord] = {}
        #: The xdist workers' fresh entries, merged by the controller (see absorb_shards).
        self._absorbed: dict[str, Entry] = {}
        self.started_ns = time.time_ns()
        #: Paths whose sniff or facts this session took from the cache / had to read.
        self.cached: set[str] = set()
        self.read: set[str] = set()
        self.enabled = True

    # -- loading and saving -----------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | None) -> FactsCache:
        # On Windows st_ctime is the creation time, which an edit does not change: a file edited with
        # its mtime set back would keep its entry. No cache there (fail closed).
        if path is None or os.name == "nt":
            cache = cls()
            cache.enabled = False
            return cache
        # The document is many small containers that live to the end of the session and hold no
        # cycles (a full collection over a 100,000-file cache took seconds, at pytest's exit too).
        with collector_paused():
            data = read_document(path)
        if data is None or data.get("version") != FORMAT_VERSION:
            return cls()
        entries = data.get("entries")
        keep_from_collector(len(entries) if isinstance(entries, dict) else 0)
        return cls(data)

    def bind(self, readers: Sequence[FormatReader], limits: Limits) -> None:
        if self.fingerprint is None:
            self.adopt(fingerprint(readers, limits))

    def adopt(self, value: str | None) -> None:
        """Use entries of this fingerprint only (the earlier ones of another are dropped)."""
        self.fingerprint = value
        if self._stored_fingerprint != value:
            self._known = _Table({})

    def absorb_shards(self, shards: Iterable[Path]) -> None:
        """Take in what the xdist workers read (each shard file read once): their entries, and the
        files they took from the cache or read (for the summary and for what :meth:`save` keeps).
        The controller reads no file itself, so the workers' fingerprint becomes its own."""
        for shard in shards:
            data = read_document(shard)
            if data is None or data.get("version") != FORMAT_VERSION:
                continue
            if self.fingerprint is None and isinstance(data.get("fingerprint"), str):
                self.adopt(data["fingerprint"])
            if data.get("fingerprint") != self.fingerprint:
                continue
            for key, entry in _Table(data).entries().items():
                _merge(self._absorbed, key, entry)
            for name, into in (("cached", self.cached), ("read", self.read)):
                keys = data.get(name)
                if isinstance(keys, list):
                    into.update(key for key in keys if isinstance(key, str))

    def save(self, path: Path) -> None:
        """Write the cache: this session's entries (its own and the absorbed shards'), and the
        earlier entries of the files walked (a session that walked nothing keeps them all; a
        deleted file leaves)."""
        if self.fingerprint is None:
            return
        walked = self.cached | self.read
        unchanged = not self._absorbed and not self.fresh and self._stored_fingerprint == self.fingerprint
        if unchanged and (not walked or walked.issuperset(self._known.raw)):
            return  # nothing new, nothing to drop
        if not self._absorbed and not self._known.raw:
            # a cold run (or one whose earlier cache was of another fingerprint): its rows as they are
            _write_json(path, self._document(self.fresh, self._texts))
            return
        texts = list(self._texts)
        index = dict(self._text_index)
        rows: dict[str, Row] = {}
        for key in walked if walked else self._known.raw:
            earlier = self._known.entry(key)
            if earlier is not None:
                rows[key] = _row(earlier, texts, index)
        for key, entry in self._absorbed.items():
            _merge_row(rows, key, _row(entry, texts, index))
        for key, row in self.fresh.items():
            _merge_row(rows, key, row)
        _write_json(path, self._document(rows, texts))

    def save_shard(self, path: Path) -> None:
        """A worker's fresh entries and what it walked, for the controller to merge."""
        if self.fingerprint is None:
            return
        document = self._document(self.fresh, self._texts)
        document["cached"] = sorted(self.cached)
        document["read"] = sorted(self.read)
        _write_json(path, document)

    def _document(self, rows: dict[str, Row], texts: list[str]) -> dict[str, Any]:
        return {"version": FORMAT_VERSION, "fingerprint": self.fingerprint, "facts": texts, "entries": rows}

    # -- lookups ----------------------------------------------------------------------------------

    def entry(self, key: str, identity: Identity) -> Entry | None:
        """The entry for a file in this state, from this session or an earlier one."""
        row = self.fresh.get(key)
        if row is not None:
            if row[:5] != identity:
                return None
            return Entry(identity, row[5], None if row[6] is None else self._record(row[6]))
        entry = self._known.entry(key)
        return entry if entry is not None and entry.identity == identity else None

    def _record(self, index: int) -> FactsRecord:
        record = self._records.get(index)
        if record is None:
            record = self._records[index] = FactsRecord(self._texts[index])
        return record

    def sniffed(self, key: str, identity: Identity, name: str | None) -> None:
        """Remember a fresh sniff (``name`` None: not an artifact)."""
        self.read.add(key)
        if self.enabled and identity[1] < self.started_ns - RACY_NS:
            self.fresh[key] = (*identity, name, None)

    def facts_read(self, key: str, identity: Identity, facts: ArtifactFacts) -> None:
        """Remember the facts just read, when their encoding gives them back unchanged."""
        self.read.add(key)
        if not self.enabled or identity[1] >= self.started_ns - RACY_NS:
            return
        row = self.fresh.get(key)
        if row is not None:
            if row[:5] != identity:
                return
            name = row[5]
        else:
            entry = self._known.entry(key)
            if entry is None or entry.identity != identity:
                return  # the sniff's verdict is stored with the facts, never guessed from them
            name = entry.format
        from ..formats.facts_json import FactsError, decode_facts, encode_cached_facts

        try:
            text = encode_cached_facts(facts)
        except (TypeError, ValueError, RecursionError):
            return
        index = self._text_index.get(text)
        if index is None:
            # equal facts give equal text: one file's facts decoded back stand for all that share it
            try:
                if decode_facts(text) != facts:
                    return
            except FactsError:
                return
            index = self._text_index[text] = len(self._texts)
            self._texts.append(text)
        self.fresh[key] = (*identity, name, index)

    def cached_facts(self, key: str, identity: Identity) -> ArtifactFacts | None:
        row = self.fresh.get(key)
        if row is not None:  # in a cold run, the sniff's row: no facts (no Entry made to say so)
            if row[6] is None or row[:5] != identity:
                return None
            record = self._record(row[6])
        else:
            entry = self._known.entry(key)
            if entry is None or entry.facts is None or entry.identity != identity:
                return None
            record = entry.facts
        facts = record.facts()
        if facts is not None:
            self.cached.add(key)
        return facts

    def summary(self) -> tuple[int, int]:
        """(files whose sniff and facts all came from the cache, files read)."""
        return len(self.cached - self.read), len(self.read)


def _merge(into: dict[str, Entry], key: str, entry: Entry) -> None:
    """Add an entry; an entry with facts is not replaced by a sniff-only one of the same file state
    (under xdist every worker sniffs every file, each reads the facts of its own checks)."""
    present = into.get(key)
    if present is None or entry.facts is not None or present.identity != entry.identity:
        into[key] = entry


def _merge_row(into: dict[str, Row], key: str, row: Row) -> None:
    """:func:`_merge` for rows."""
    present = into.get(key)
    if present is None or row[6] is not None or present[:5] != row[:5]:
        into[key] = row


def _row(entry: Entry, texts: list[str], index: dict[str, int]) -> Row:
    """An entry as a row of the document whose facts texts are ``texts`` (adding its own)."""
    at = None
    if entry.facts is not None:
        text = entry.facts.text
        at = index.get(text)
        if at is None:
            at = index[text] = len(texts)
            texts.append(text)
    return (*entry.identity, entry.format, at)


def read_document(path: Path) -> dict[str, Any] | None:
    """A cache or shard file: a header line (JSON: the sha256 of the rest), then the document.
    A file whose content does not match its header (edited by hand, cut short) is no cache."""
    try:
        with open(path, "rb") as handle:
            header_line = handle.readline(4096)
            body = handle.read()
        header = json.loads(header_line)
        if not (isinstance(header, dict) and header.get("sha256") == hashlib.sha256(body).hexdigest()):
            return None
        data = json.loads(body)
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically; an unwritable cache is left as it was (the next run reads the files)."""
    body = json.dumps(data, separators=(",", ":")).encode("utf-8", "surrogateescape")
    header = json.dumps({"pytest-aisupply facts cache": FORMAT_VERSION, "sha256": hashlib.sha256(body).hexdigest()})
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(header.encode("ascii") + b"\n" + body)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
