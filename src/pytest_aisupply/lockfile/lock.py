"""``aisupply.lock``: the reviewed state of the supply chain, as deterministic TOML.

Read with the standard library, validated entry by entry (errors name the entry and its line),
written atomically (temporary file in the same folder, then ``os.replace``) in a fixed order so
that an update with nothing changed leaves the file byte-identical.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .digests import GIT_SHA1_HEX, SHA256_HEX

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FORMAT_VERSION = 2
#: Versions this plugin reads. Version 1 had no per-file facts: its Hub files read as "not checked yet"
#: until the next update records them, keeping every review date (the hashes did not change).
READABLE_VERSIONS = (1, 2)
HEADER = (
    "# aisupply.lock: the reviewed state of this project's AI/ML supply chain.\n"
    "# Written by `pytest --aisupply-update`; review every change to it like code.\n"
)


class LockError(Exception):
    """The lockfile cannot be used; the message names the file, entry and line."""


@dataclass(frozen=True)
class ArtifactEntry:
    path: str
    format: str
    size: int
    sha256: str
    reviewed: dt.date

    def same_content(self, other: ArtifactEntry) -> bool:
        return (self.path, self.format, self.size, self.sha256) == (other.path, other.format, other.size, other.sha256)


@dataclass(frozen=True)
class HubFile:
    path: str
    size: int
    sha256: str | None = None  # LFS files: sha256 of the content
    git_sha1: str | None = None  # small files: git blob sha1
    #: Files a reference loads: the format the readers found, and their facts (JSON, see formats/facts_json.py).
    format: str | None = None
    facts: str | None = None

    def same_file(self, other: HubFile) -> bool:
        return (self.path, self.size, self.sha256, self.git_sha1) == (
            other.path,
            other.size,
            other.sha256,
            other.git_sha1,
        )


@dataclass(frozen=True)
class HubEntry:
    repo_type: str
    repo_id: str
    revision: str
    reviewed: dt.date
    license: tuple[str, ...] = ()
    license_name: str | None = None
    license_link: str | None = None
    gated: str = "false"
    author: str | None = None
    base_models: tuple[str, ...] = ()
    reachable_from: tuple[str, ...] = ()
    scan: str | None = None
    files: tuple[HubFile, ...] = ()
    #: Who signed the commit's OpenSSF model signature, as verified at the last update (rule
    #: ``signature``); None when no signature was required or verified.
    signer: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.repo_type, self.repo_id, self.revision)

    def same_content(self, other: HubEntry) -> bool:
        """Same reviewed content: the facts recorded about the files do not count (they follow from the
        hashes; recording them, or re-recording them with a newer reader, keeps the review date)."""
        mine, theirs = replace(self, reviewed=other.reviewed, files=()), replace(other, files=())
        return (
            mine == theirs
            and len(self.files) == len(other.files)
            and all(a.same_file(b) for a, b in zip(self.files, other.files, strict=True))
        )

    def same_facts(self, other: HubEntry) -> bool:
        return [(f.format, f.facts) for f in self.files] == [(f.format, f.facts) for f in other.files]


@dataclass
class Lock:
    artifacts: dict[str, ArtifactEntry] = field(default_factory=dict)
    hub: dict[tuple[str, str, str], HubEntry] = field(default_factory=dict)
    exists: bool = True

    def hub_entry(self, repo_type: str, repo_id: str, revision: str | None = None) -> HubEntry | None:
        if revision is not None:
            return self.hub.get((repo_type, repo_id, revision))
        for entry in self.hub.values():
            if entry.repo_type == repo_type and entry.repo_id == repo_id:
                return entry
        return None


# -- reading ----------------------------------------------------------------------------------


def read_lock(path: Path) -> Lock:
    """Parse and validate a lockfile; a missing file is an empty lock."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Lock(exists=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise LockError(f"{path.name}: cannot be read: {exc}") from exc
    try:
        data = fast_parse(text)
        if data is None:
            data = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError, and int() of a number too long to convert
        raise LockError(f"{path.name}: invalid TOML: {exc}; {repair_hint(path)}") from exc
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise LockError(f"{path.name}: invalid TOML: values nested too deeply; {repair_hint(path)}") from None
    return _Reader(path, text).parse(data)


_COMMENT = re.compile(r"#[^\x00-\x08\x0a-\x1f\x7f]*\Z")
_KEY_VALUE = re.compile(
    r"([A-Za-z0-9_-]+) = (?:"
    r'"([^"\\\x00-\x08\x0a-\x1f\x7f]*)"'  # a basic string without escapes
    r"|(0|-?[1-9][0-9]{0,17})"  # an integer that fits 64 bits
    r"|([0-9]{4}-[0-9]{2}-[0-9]{2})"  # a date
    r"|(true|false)"
    r"|(\[\]?))\Z"  # an empty array, or the start of a multi-line one
)
_ARRAY_ITEM = re.compile(r'    (?:"([^"\\\x00-\x08\x0a-\x1f\x7f]*)"|\{ (.+) \}),\Z')
_INLINE_PAIR = re.compile(r'([A-Za-z0-9_-]+) = (?:"([^"\\\x00-\x08\x0a-\x1f\x7f]*)"|(0|-?[1-9][0-9]{0,17}))(, |\Z)')
_TABLES = {"[[artifact]]": ("artifact",), "[[hub]]": ("hub",), "[[hub.files]]": ("hub", "files")}


def fast_parse(text: str) -> dict[str, Any] | None:
    """The document as :func:`render_lock` writes it, read line by line: tomllib takes seconds
    on a lockfile of a hundred thousand entries. None for anything outside that narrow form
    (escapes, inline tables, other spacing ...), which tomllib then reads; where it returns a
    value, it is the one tomllib returns (the fuzz tests compare them)."""
    document: dict[str, Any] = {}
    table = document
    array: list[Any] | None = None
    assigned: set[int] = set()  # arrays written as values, which a [[table]] header may not extend
    for line in text.split("\n"):
        if array is not None:
            if line == "]":
                array = None
                continue
            item = _ARRAY_ITEM.match(line)
            if item is None:
                return None
            if item[2] is None:
                array.append(item[1])
                continue
            inline = _inline_table(item[2])
            if inline is None:
                return None
            array.append(inline)
            continue
        if not line or _COMMENT.match(line):
            continue
        path = _TABLES.get(line)
        if path is not None:
            if path == ("hub", "files"):
                hubs = document.get("hub")
                if not hubs:
                    return None
                parent = hubs[-1]
            else:
                parent = document
            entries = parent.setdefault(path[-1], [])
            if not isinstance(entries, list) or id(entries) in assigned:
                return None
            table = {}
            entries.append(table)
            continue
        match = _KEY_VALUE.match(line)
        if match is None:
            return None
        key, string, integer, date, boolean, opening = match.groups()
        if key in table:
            return None  # a duplicate key: tomllib says where
        if string is not None:
            table[key] = string
        elif integer is not None:
            table[key] = int(integer)
        elif date is not None:
            try:
                table[key] = dt.date.fromisoformat(date)
            except ValueError:
                return None
        elif boolean is not None:
            table[key] = boolean == "true"
        else:
            array = table[key] = []
            assigned.add(id(array))
            if opening == "[]":
                array = None
    return None if array is not None else document


def _inline_table(body: str) -> dict[str, Any] | None:
    """``key = "text", key = 12`` (the inside of an inline table of strings and integers)."""
    table: dict[str, Any] = {}
    position = 0
    while position < len(body):
        pair = _INLINE_PAIR.match(body, position)
        if pair is None or pair[1] in table or (pair[4] == ", " and pair.end() == len(body)):
            return None
        table[pair[1]] = pair[2] if pair[2] is not None else int(pair[3])
        position = pair.end()
    return table or None


def repair_hint(path: Path) -> str:
    """How to get out of an invalid lockfile (the update repairs it: see update.py)."""
    return (
        f"fix it by hand, or run pytest --aisupply-update: it keeps this file as {path.name}.invalid "
        "and records the lockfile anew for you to review"
    )


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def _line_of(self, table: str, index: int) -> int | None:
        pattern = re.compile(r"^\s*\[\[\s*" + re.escape(table) + r"\s*\]\]")
        seen = -1
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                seen += 1
                if seen == index:
                    return number
        return None

    def _line_of_key(self, table: str, index: int, key: str) -> int | None:
        """The line of ``key`` inside the entry (a wrong value is fixed there, not at the header)."""
        start = self._line_of(table, index)
        if start is None:
            return None
        pattern = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
        for number in range(start + 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if line.lstrip().startswith("["):
                break
            if pattern.match(line):
                return number
        return None

    def fail(self, table: str, index: int, message: str, key: str | None = None) -> LockError:
        line = (self._line_of_key(table, index, key) if key else None) or self._line_of(table, index)
        where = f"{self.path.name}:{line}" if line else self.path.name
        return LockError(f"{where}: [[{table}]] entry {index + 1}: {message}; {repair_hint(self.path)}")

    def parse(self, data: Mapping[str, Any]) -> Lock:
        version = data.get("version")
        if version not in READABLE_VERSIONS or isinstance(version, bool):
            raise LockError(
                f"{self.path.name}: unsupported lockfile version {version!r} (this plugin reads versions "
                f"{', '.join(map(str, READABLE_VERSIONS))}); {repair_hint(self.path)}"
            )
        unknown = sorted(set(data) - {"version", "artifact", "hub"})
        if unknown:
            raise LockError(f"{self.path.name}: unknown top-level keys {', '.join(unknown)}; {repair_hint(self.path)}")
        lock = Lock()
        for index, raw in enumerate(self._tables(data, "artifact")):
            entry = self._artifact(raw, index)
            lock.artifacts[entry.path] = entry
        for index, raw in enumerate(self._tables(data, "hub")):
            hub_entry = self._hub(raw, index)
            lock.hub[hub_entry.key] = hub_entry
        return lock

    def _tables(self, data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise LockError(
                f"{self.path.name}: '{key}' must be an array of tables ([[{key}]]); {repair_hint(self.path)}"
            )
        return value

    def _require(self, raw: Mapping[str, Any], table: str, index: int, key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in raw:
            raise self.fail(table, index, f"missing field '{key}'")
        value = raw[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(table, index, f"field '{key}' has the wrong type ({type(value).__name__})", key)
        return value

    def _date(self, raw: Mapping[str, Any], table: str, index: int) -> dt.date:
        value = self._require(raw, table, index, "reviewed", (dt.date, str))
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise self.fail(table, index, f"'reviewed' is not a date: {value!r}", "reviewed") from exc

    def _strings(self, raw: Mapping[str, Any], index: int, key: str) -> tuple[str, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail("hub", index, f"'{key}' must be an array of strings", key)
        return tuple(value)

    def _artifact(self, raw: Mapping[str, Any], index: int) -> ArtifactEntry:
        table = "artifact"
        sha256 = self._require(raw, table, index, "sha256", str)
        if not SHA256_HEX.match(sha256):
            raise self.fail(table, index, "'sha256' must be 64 lowercase hex characters", "sha256")
        size = self._require(raw, table, index, "size", int)
        if size < 0:
            raise self.fail(table, index, "'size' must not be negative", "size")
        return ArtifactEntry(
            path=self._require(raw, table, index, "path", str),
            format=self._require(raw, table, index, "format", str),
            size=size,
            sha256=sha256,
            reviewed=self._date(raw, table, index),
        )

    def _hub(self, raw: Mapping[str, Any], index: int) -> HubEntry:
        table = "hub"
        revision = self._require(raw, table, index, "revision", str)
        if not GIT_SHA1_HEX.match(revision):
            raise self.fail(table, index, "'revision' must be a 40-hex commit", "revision")
        files = []
        raw_files = raw.get("files", [])
        if not isinstance(raw_files, list):
            raise self.fail(table, index, "'files' must be an array of tables", "files")
        for file_index, item in enumerate(raw_files):
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                raise self.fail(table, index, f"files[{file_index}] needs a 'path'", "files")
            sha256, git_sha1 = item.get("sha256"), item.get("git_sha1")
            if sha256 is not None and not (isinstance(sha256, str) and SHA256_HEX.match(sha256)):
                raise self.fail(
                    table, index, f"files[{file_index}] 'sha256' must be 64 lowercase hex characters", "files"
                )
            if git_sha1 is not None and not (isinstance(git_sha1, str) and GIT_SHA1_HEX.match(git_sha1)):
                raise self.fail(
                    table, index, f"files[{file_index}] 'git_sha1' must be 40 lowercase hex characters", "files"
                )
            if sha256 is None and git_sha1 is None:
                raise self.fail(table, index, f"files[{file_index}] needs 'sha256' or 'git_sha1'", "files")
            size = item.get("size")
            if not isinstance(size, int) or isinstance(size, bool):
                raise self.fail(table, index, f"files[{file_index}] needs an integer 'size'", "files")
            for key in ("format", "facts"):
                if item.get(key) is not None and not isinstance(item[key], str):
                    raise self.fail(table, index, f"files[{file_index}] '{key}' must be a string", "files")
            files.append(HubFile(item["path"], size, sha256, git_sha1, item.get("format"), item.get("facts")))
        license_value = raw.get("license", [])
        licenses = (license_value,) if isinstance(license_value, str) else self._strings(raw, index, "license")
        for key in ("license_name", "license_link", "author", "scan", "signer"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                raise self.fail(table, index, f"'{key}' must be a string", key)
        if not isinstance(raw.get("gated", "false"), (str, bool)):
            raise self.fail(table, index, "'gated' must be a string or a boolean", "gated")
        return HubEntry(
            repo_type=self._require(raw, table, index, "repo_type", str),
            repo_id=self._require(raw, table, index, "repo_id", str),
            revision=revision,
            reviewed=self._date(raw, table, index),
            license=tuple(str(item) for item in licenses),
            license_name=raw.get("license_name"),
            license_link=raw.get("license_link"),
            gated=str(raw.get("gated", "false")),
            author=raw.get("author"),
            base_models=self._strings(raw, index, "base_models"),
            reachable_from=self._strings(raw, index, "reachable_from"),
            scan=raw.get("scan"),
            files=tuple(files),
            signer=raw.get("signer"),
        )


# -- writing ----------------------------------------------------------------------------------


def render_lock(lock: Lock) -> str:
    """The lock as TOML, in a fixed order (artifacts by path, Hub entries by type, id, revision)."""
    import tomli_w

    document: dict[str, Any] = {"version": FORMAT_VERSION}
    document["artifact"] = [
        {"path": e.path, "format": e.format, "size": e.size, "sha256": e.sha256, "reviewed": e.reviewed}
        for e in (lock.artifacts[key] for key in sorted(lock.artifacts))
    ]
    hub_tables = []
    for key in sorted(lock.hub):
        entry = lock.hub[key]
        table: dict[str, Any] = {
            "repo_type": entry.repo_type,
            "repo_id": entry.repo_id,
            "revision": entry.revision,
            "license": list(entry.license),
        }
        for name in ("license_name", "license_link", "author", "scan"):
            value = getattr(entry, name)
            if value is not None:
                table[name] = value
        table["gated"] = entry.gated
        table["base_models"] = list(entry.base_models)
        table["reachable_from"] = list(entry.reachable_from)
        table["reviewed"] = entry.reviewed
        if entry.signer is not None:
            table["signer"] = entry.signer
        table["files"] = [
            {
                k: v
                for k, v in (
                    ("path", f.path),
                    ("size", f.size),
                    ("sha256", f.sha256),
                    ("git_sha1", f.git_sha1),
                    ("format", f.format),
                    ("facts", f.facts),
                )
                if v is not None
            }
            for f in sorted(entry.files, key=lambda f: f.path)
        ]
        hub_tables.append(table)
    document["hub"] = hub_tables
    if not document["artifact"]:
        del document["artifact"]
    if not document["hub"]:
        del document["hub"]
    return HEADER + tomli_w.dumps(document)


def write_lock(path: Path, lock: Lock) -> bool:
    """Write atomically; return False (and touch nothing) when the content is unchanged."""
    text = render_lock(lock)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


@dataclass
class LockDiff:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return (
            [f"added    {item}" for item in self.added]
            + [f"changed  {item}" for item in self.changed]
            + [f"removed  {item}" for item in self.removed]
            + [f"facts    {item}" for item in self.facts]
        )


def merge(
    old: Lock,
    artifacts: Iterable[ArtifactEntry],
    hub: Iterable[HubEntry],
    *,
    prune_artifacts: set[str] | None,
    prune_hub: bool,
    seen_hub_keys: set[tuple[str, str, str]] | None = None,
) -> tuple[Lock, LockDiff]:
    """New lock from the old one and what this run recorded. An entry whose content did not change
    keeps its review date. ``prune_artifacts`` (paths that still exist) and ``prune_hub`` are only
    given on unfiltered runs: deselected subjects never lose their entries. ``seen_hub_keys`` are the
    Hub references the run checked, including those whose check failed: their entries are kept as
    they are unless ``hub`` brings a fresh recording."""
    diff = LockDiff()
    result = Lock(dict(old.artifacts), dict(old.hub))
    for entry in artifacts:
        previous = old.artifacts.get(entry.path)
        if previous is None:
            diff.added.append(entry.path)
            result.artifacts[entry.path] = entry
        elif previous.same_content(entry):
            result.artifacts[entry.path] = previous
        else:
            diff.changed.append(f"{entry.path} (sha256 {previous.sha256[:12]}… -> {entry.sha256[:12]}…)")
            result.artifacts[entry.path] = entry
    for hub_entry in hub:
        previous_hub = old.hub.get(hub_entry.key)
        label = f"{hub_entry.repo_type} {hub_entry.repo_id}@{hub_entry.revision[:12]}"
        if previous_hub is None:
            diff.added.append(label)
            result.hub[hub_entry.key] = hub_entry
        elif hub_entry.same_content(previous_hub):
            if hub_entry.same_facts(previous_hub):
                result.hub[hub_entry.key] = previous_hub
            else:  # facts recorded or re-read: the review date stays
                checked = sum(1 for f in hub_entry.files if f.facts is not None)
                diff.facts.append(f"{label} ({checked} files read)")
                result.hub[hub_entry.key] = replace(hub_entry, reviewed=previous_hub.reviewed)
        else:
            diff.changed.append(label)
            result.hub[hub_entry.key] = hub_entry
    if prune_artifacts is not None:
        for path in sorted(set(result.artifacts) - prune_artifacts):
            diff.removed.append(path)
            del result.artifacts[path]
    if prune_hub and seen_hub_keys is not None:
        for key in sorted(set(result.hub) - seen_hub_keys):
            diff.removed.append(f"{key[0]} {key[1]}@{key[2][:12]}")
            del result.hub[key]
    return result, diff


def entry_to_json(entry: ArtifactEntry | HubEntry) -> dict[str, Any]:
    """A JSON-able form, to carry recorded entries from xdist workers to the controller."""
    if isinstance(entry, ArtifactEntry):
        return {
            "kind": "artifact",
            **{k: v for k, v in entry.__dict__.items() if k != "reviewed"},
            "reviewed": entry.reviewed.isoformat(),
        }
    data = {k: v for k, v in entry.__dict__.items() if k not in ("reviewed", "files")}
    data.update(kind="hub", reviewed=entry.reviewed.isoformat(), files=[f.__dict__ for f in entry.files])
    return data


def entry_from_json(data: Mapping[str, Any]) -> ArtifactEntry | HubEntry:
    values = {k: v for k, v in data.items() if k != "kind"}
    values["reviewed"] = dt.date.fromisoformat(values["reviewed"])
    if data["kind"] == "artifact":
        return ArtifactEntry(**values)
    values["files"] = tuple(HubFile(**item) for item in values["files"])
    for key in ("license", "base_models", "reachable_from"):
        values[key] = tuple(values[key])
    return HubEntry(**values)
