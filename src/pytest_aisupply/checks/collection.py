"""The collection plugin: registered only when the checks are enabled.

What a configured run loads before it knows there is something to check is kept small (issue 18):
the engine's readers, the items, the verdict records, the facts and hash caches are imported when
the walk finds a subject or a check reports.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import pytest

from ..settings.config import ConfigError, Settings
from ..verdicts.engine import Engine
from .facts_cache_saver import FactsCachePlugin
from .keys import REPORT_IT, ROOT_NAME, engine_key

if TYPE_CHECKING:
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
        if update and lock is None:
            raise pytest.UsageError('--aisupply-update needs a lockfile: [tool.aisupply] lockfile is set to ""')
        self.hash_cache_path = _hash_cache_path(config)
        self.worker_hashes: dict[str, str] = {}
        self.full_records = _writers_read_records(config)
        engine = Engine(settings, rules, readers, lock=lock, update=update)
        inventory = engine.inventory
        # Read on first use: a run with nothing to hash or sniff never opens either cache.
        inventory.hash_cache_path = self.hash_cache_path
        inventory.parallel_hashing = not hasattr(config, "workerinput")
        # No facts cache on Windows: there st_ctime is the creation time, which an edit does not
        # change, so a file edited with its mtime set back would keep its entry (fail closed).
        if self.hash_cache_path is not None and os.name != "nt":
            inventory.facts_cache_folder = self.hash_cache_path.parent
        worker_id = config.workerinput["workerid"] if hasattr(config, "workerinput") else None
        facts_plugin = FactsCachePlugin(inventory, worker_id)
        config.pluginmanager.register(facts_plugin, FactsCachePlugin.name)
        self.inventory = inventory
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
        if not controller or self.hash_cache_path is None:
            return
        hashed = self.inventory.loaded_hash_cache
        if self.worker_hashes or (hashed is not None and hashed.fresh):
            self.inventory.hash_cache.save(self.hash_cache_path, self.worker_hashes)

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
            from .items import ProjectAnchor

            return ProjectAnchor.from_parent(parent, path=file_path)
        return None

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        selected: list[str] = config.option.aisupply_select
        only = bool(config.option.aisupply_only)
        if not (only or selected):
            return
        from .items import split_selection

        keep, dropped = split_selection(items, selected, only=only)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        if call.when != "call" or not getattr(item, "aisupply_check", False):
            return report
        from .records import check_record

        record = check_record(item, self.config.rootpath, full=self.full_records)
        if record is None:
            return report
        report.aisupply = record
        hashed = self.inventory.loaded_hash_cache
        if hasattr(self.config, "workerinput") and hashed is not None and hashed.fresh:
            record["hashes"] = dict(hashed.fresh)
            hashed.known.update(hashed.fresh)
            hashed.fresh.clear()
        return report


class ChecksCollector(pytest.Collector):
    """The ``aisupply`` node: one child per active rule that has subjects. The items' module is
    imported only then, so a run whose walk finds nothing to check never loads it."""

    def __init__(self, *, engine: Engine, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.engine = engine

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        for rule in self.engine.active_rules():
            try:
                subjects = self.engine.subjects_of(rule)
            except Exception as exc:
                from .items import RuleCollector

                # One rule that cannot list its subjects fails one item; the others still run.
                collector = RuleCollector.from_parent(self, name=rule.id, rule=rule, subjects=[])
                collector.error = (
                    f"internal error in rule {rule.id} while collecting its subjects: "
                    f"{type(exc).__name__}: {exc}; {REPORT_IT}"
                )
                yield collector
                continue
            if subjects:
                from .items import RuleCollector

                yield RuleCollector.from_parent(self, name=rule.id, rule=rule, subjects=subjects)


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
