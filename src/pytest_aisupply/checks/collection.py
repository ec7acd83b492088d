"""The collection plugin: registered only when the checks are enabled.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import pytest

from ..inventory.facts_cache import CACHE_NAME, FactsCache
from ..lockfile.hashing import HashCache
from ..settings.config import ConfigError, Settings
from ..verdicts.engine import Engine, Verdict
from .facts_cache_saver import FactsCachePlugin
from .items import (
    ROOT_NAME,
    CheckGroupItem,
    CheckItem,
    ChecksCollector,
    CollectionErrorItem,
    ProjectAnchor,
    engine_key,
    group_verdicts_key,
    verdict_key,
)

if TYPE_CHECKING:
    from ..findings import Finding, Subject
    from ..formats import FormatReader
    from ..lockfile.lock import Lock


class ChecksPlugin:
    name = "aisupply-checks"

    def __init__(self, config: pytest.Config, settings: Settings, anchor: Path | None) -> None:
        self.config = config
        self.anchor = anchor  # from the plugin module, which this one does not import back
        rule_lists = config.hook.pytest_aisupply_rules(settings=settings)
        rules = [rule for rules in reversed(rule_lists) for rule in rules or ()]
        readers = HookReaders(config.hook)
        _check_unique_ids([rule.id for rule in rules])
        try:
            settings.check_rule_ids(rule.id for rule in rules)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        update = bool(config.option.aisupply_update)
        lock, invalid = _read_lock(settings, update)
        self.hash_cache_path = _hash_cache_path(config)
        self.hash_cache = HashCache.load(self.hash_cache_path)
        self.worker_hashes: dict[str, str] = {}
        self.full_records = _writers_read_records(config)
        if update and lock is None:
            raise pytest.UsageError('--aisupply-update needs a lockfile: [tool.aisupply] lockfile is set to ""')
        engine = Engine(
            settings, rules, readers, limits=settings.limits, lock=lock, hash_cache=self.hash_cache, update=update
        )
        engine.inventory.parallel_hashing = not hasattr(config, "workerinput")
        facts_folder = self.hash_cache_path.parent if self.hash_cache_path is not None else None
        engine.inventory.facts_cache = FactsCache.load(facts_folder / CACHE_NAME if facts_folder else None)
        worker_id = config.workerinput["workerid"] if hasattr(config, "workerinput") else None
        facts_plugin = FactsCachePlugin(engine.inventory.facts_cache, facts_folder, worker_id)
        config.pluginmanager.register(facts_plugin, FactsCachePlugin.name)
        config.stash[engine_key] = engine
        if update and lock is not None and not hasattr(config, "workerinput"):
            from .lock_updater import LockUpdater

            config.pluginmanager.register(LockUpdater(config, settings, lock, invalid), LockUpdater.name)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "aisupply", None)
        if data and data.get("hashes"):
            self.worker_hashes.update(data["hashes"])

    def pytest_sessionfinish(self) -> None:
        controller = not hasattr(self.config, "workerinput")
        if controller and self.hash_cache_path is not None and (self.hash_cache.fresh or self.worker_hashes):
            self.hash_cache.save(self.hash_cache_path, self.worker_hashes)

    def _wanted(self) -> bool:
        """Skip the checks when every argument picks a specific test (``path::name``)."""
        if self.config.option.aisupply_only or self.config.option.aisupply_select:
            return True
        args = [arg for arg in self.config.args if arg]
        explicit = self.config.args_source == pytest.Config.ArgsSource.ARGS
        return not (explicit and args and all("::" in arg for arg in args))

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, Any, Any]:
        report = yield
        if isinstance(collector, pytest.Session) and report.passed and self._wanted():
            engine = self.config.stash[engine_key]
            report.result.append(
                ChecksCollector.from_parent(collector, name=ROOT_NAME, nodeid=ROOT_NAME, engine=engine)
            )
        return report

    def _only_checks(self) -> bool:
        return bool(self.config.option.aisupply_only or self.config.option.aisupply_select)

    @pytest.hookimpl(tryfirst=True)
    def pytest_ignore_collect(self, collection_path: Path) -> bool | None:
        """Under --aisupply-only nothing below the rootdir is collected (so nothing is imported)."""
        if self.config.option.aisupply_only and collection_path != self.config.rootpath:
            return True
        return None

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if self._only_checks() and file_path == self.anchor:
            return ProjectAnchor.from_parent(parent, path=file_path)
        return None

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        selected: list[str] = config.option.aisupply_select
        only = bool(config.option.aisupply_only)
        if not (only or selected):
            return
        from .selection import matches

        def wanted(item: pytest.Item) -> bool:
            if isinstance(item, CheckGroupItem) and selected:
                # a file's check id still selects the folder (or rule) check that covers it
                return matches(item.nodeid, selected) or any(
                    matches(f"{ROOT_NAME}::{item.rule_id}::{subject.id}", selected) for subject in item.subjects
                )
            if isinstance(item, (CheckItem, CheckGroupItem, CollectionErrorItem)):
                return not selected or matches(item.nodeid, selected)
            return not only

        keep = [item for item in items if wanted(item)]
        dropped = [item for item in items if not wanted(item)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        if call.when != "call":
            return report
        if isinstance(item, CheckItem):
            verdict = item.stash.get(verdict_key, None)
            report.aisupply = _verdict_record(
                item.engine, item.rule_id, item.subject, verdict, self.config.rootpath, full=self.full_records
            )
        elif isinstance(item, CheckGroupItem):
            verdicts = item.stash.get(group_verdicts_key, None) or [None] * len(item.subjects)
            members = [
                _verdict_record(
                    item.engine, item.rule_id, subject, verdict, self.config.rootpath, full=self.full_records
                )
                for subject, verdict in zip(item.subjects, verdicts, strict=True)
            ]
            report.aisupply = {"rule": item.rule_id, "subject": item.name, "kind": "group", "members": members}
        else:
            return report
        inventory = self.config.stash[engine_key].inventory
        if hasattr(self.config, "workerinput") and inventory.hash_cache.fresh:
            report.aisupply["hashes"] = dict(inventory.hash_cache.fresh)
            inventory.hash_cache.known.update(inventory.hash_cache.fresh)
            inventory.hash_cache.fresh.clear()
        return report


class HookReaders(Sequence["FormatReader"]):
    """The format readers every plugin contributes (``pytest_aisupply_readers``), asked for when the
    first file is sniffed: a project with no artifact never imports the readers (formats/)."""

    def __init__(self, hook: Any) -> None:
        self.hook = hook

    @cached_property
    def readers(self) -> list[FormatReader]:
        return [reader for readers in self.hook.pytest_aisupply_readers() for reader in readers or ()]

    @overload
    def __getitem__(self, index: int) -> FormatReader: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[FormatReader]: ...

    def __getitem__(self, index: int | slice) -> FormatReader | Sequence[FormatReader]:
        return self.readers[index]

    def __len__(self) -> int:
        return len(self.readers)

    def __iter__(self) -> Iterator[FormatReader]:
        return iter(self.readers)


def _writers_read_records(config: pytest.Config) -> bool:
    """Whether a controller-side writer reads every verdict's full record: SARIF, the BOM (written
    or checked) and the lockfile update do; the terminal summary alone needs only a passed check's
    rule, status and format. The options are the same in the controller and in every xdist worker
    (pytest-xdist hands the command line on), so each worker decides as the controller would."""
    option = config.option
    return bool(
        getattr(option, "aisupply_sarif", None)
        or getattr(option, "aisupply_bom", None)
        or getattr(option, "aisupply_bom_check", None)
        or getattr(option, "aisupply_update", False)
    )


def _verdict_record(
    engine: Engine, rule_id: str, subject: Subject, verdict: Verdict | None, rootpath: Path, *, full: bool = True
) -> dict[str, Any]:
    """What the controller's reporters need of one verdict (it crosses xdist's wire as JSON).

    ``full=False`` (no SARIF, BOM or lockfile update asked for): a check that passed outright
    carries only what the terminal summary counts, so under xdist a large tree of clean files ships
    a few bytes per check instead of its path, kind and severity; anything else (failed, warned,
    waived, an inline ignore, a recorded lockfile entry, a signer) still carries the whole record."""
    inventory = engine.inventory
    if not full and verdict is not None and verdict.status == "passed":
        brief = _passed_record(engine, rule_id, subject)
        if brief is not None:
            return brief
    record: dict[str, Any] = {
        "rule": rule_id,
        "subject": subject.id,
        "kind": subject.kind,
        "format": inventory.format_of(subject),
        "status": verdict.status if verdict else "failed",
        "severity": verdict.severity if verdict else "error",
        "path": _relative(subject.path, rootpath, plain=inventory.is_plain_file(subject)),
    }
    # Under xdist every record crosses the wire: empty lists are left out (readers use .get).
    if verdict is not None and verdict.findings:
        record["findings"] = [_finding_json(f) for f in verdict.findings]
    if verdict is not None and verdict.waived:
        record["waived"] = sorted({w.reason for _, w in verdict.waived})
        record["waived_findings"] = [{**_finding_json(f), "reason": w.reason} for f, w in verdict.waived]
    ignored = _inline_ignores(engine, rule_id, subject)
    if ignored:
        record["inline_ignored"] = ignored
    recorded = inventory.recorded.get(subject.id)
    if recorded is not None:
        from ..lockfile.lock import entry_to_json

        record["recorded"] = {subject.id: entry_to_json(recorded)}
    signer = inventory.signers.get(subject.id) if rule_id == "signature" else None
    if signer is not None:
        record["signer"] = signer
    return record


def _passed_record(engine: Engine, rule_id: str, subject: Subject) -> dict[str, Any] | None:
    """The summary's share of a passed check (its rule, its status and, for ``no-pickle``, the
    format it counts per artifact), or None when the full record holds more the controller uses."""
    inventory = engine.inventory
    if subject.id in inventory.recorded or (rule_id == "signature" and subject.id in inventory.signers):
        return None
    if _inline_ignores(engine, rule_id, subject):
        return None
    record: dict[str, Any] = {"rule": rule_id, "status": "passed"}
    if rule_id == "no-pickle":
        record["format"] = inventory.format_of(subject)
    return record


def _inline_ignores(engine: Engine, rule_id: str, subject: Subject) -> int:
    """How many call sites a ``# aisupply: ignore[rule] reason`` comment took out of this check
    (counted for the summary, as Bandit counts its ``# nosec`` lines)."""
    rule = engine.rules.get(rule_id)
    call_sites = getattr(rule, "call_sites", None)
    if call_sites is None or subject.kind != "code":
        return 0
    inventory = engine.inventory
    code_file = next((f for f in inventory.code.files if f.relpath == subject.id), None)
    if code_file is None:
        return 0
    parsed = inventory.code.parsed(code_file)
    if parsed.facts.error:
        return 0
    count = 0
    for site in call_sites(parsed, inventory):
        ignore = parsed.ignore_for(rule_id, site.line, site.end_line)
        if ignore is not None and ignore.reason:
            count += 1
    return count


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "message": finding.message,
        "fix": finding.fix,
        "where": finding.where,
        "line": finding.line,
        "details": list(finding.details),
    }


def _relative(path: Path, root: Path, *, plain: bool = False) -> str:
    """``path.resolve().relative_to(root.resolve())`` in POSIX form, or ``path`` when it lies
    outside; the folders are resolved once each, not once per file. ``plain``: the walk found the
    file as a regular file, not a link (its real path is then its real folder's)."""
    try:
        real = _real_path(os.fspath(path), plain)
        real_root = _real_dir(os.fspath(root))
    except OSError:
        return path.as_posix()
    if real == real_root:
        return "."
    prefix = real_root if real_root.endswith(os.sep) else real_root + os.sep
    if not real.startswith(prefix):
        return path.as_posix()
    # realpath's result has no "." segments or doubled separators: Path(...).as_posix() would only
    # change the separators.
    relative = real[len(prefix) :]
    return relative if os.sep == "/" else relative.replace(os.sep, "/")


def _real_path(path: str, plain: bool = False) -> str:
    """``os.path.realpath``: a name that is not a link resolves as its folder does."""
    folder, name = os.path.split(os.path.abspath(path))
    if not name or (not plain and os.path.islink(path)):
        return os.path.realpath(path)
    return os.path.join(_real_dir(folder), name)


@lru_cache(maxsize=4096)
def _real_dir(folder: str) -> str:
    return os.path.realpath(folder)


def _read_lock(settings: Settings, update: bool) -> tuple[Lock | None, str | None]:
    """The lockfile, and why it was invalid when --aisupply-update is to repair it: the update
    then starts from an empty lock and keeps the invalid file aside (update.py), so the error's
    advice to run it leads out, not back to the same error."""
    if not settings.lockfile:
        return None, None
    from ..lockfile.lock import Lock, LockError, read_lock

    try:
        return read_lock(settings.root / settings.lockfile), None
    except LockError as exc:
        if update:
            return Lock(exists=False), str(exc)
        raise pytest.UsageError(str(exc)) from None


def _hash_cache_path(config: pytest.Config) -> Path | None:
    cache = getattr(config, "cache", None)
    if cache is None:
        return None
    return Path(cache.mkdir("aisupply")) / "hashes.json"


def _check_unique_ids(ids: list[str]) -> None:
    seen = set()
    for rule_id in ids:
        if rule_id in seen:
            raise pytest.UsageError(f"two aisupply rules have the id {rule_id!r}; rule ids must be unique")
        seen.add(rule_id)
