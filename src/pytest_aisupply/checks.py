"""The collection plugin: registered only when the checks are enabled."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from .config import ConfigError, Settings
from .engine import Engine
from .findings import Finding
from .hashing import HashCache
from .items import ROOT_NAME, CheckItem, ChecksCollector, engine_key, verdict_key
from .lockfile import Lock, LockError, entry_to_json, read_lock


class ChecksPlugin:
    name = "aisupply-checks"

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        rule_lists = config.hook.pytest_aisupply_rules(settings=settings)
        rules = [rule for rules in reversed(rule_lists) for rule in rules or ()]
        readers = [reader for readers in config.hook.pytest_aisupply_readers() for reader in readers or ()]
        _check_unique_ids([rule.id for rule in rules])
        try:
            settings.check_rule_ids(rule.id for rule in rules)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        lock = _read_lock(settings)
        self.hash_cache_path = _hash_cache_path(config)
        self.hash_cache = HashCache.load(self.hash_cache_path)
        self.worker_hashes: dict[str, str] = {}
        update = bool(config.option.aisupply_update)
        if update and lock is None:
            raise pytest.UsageError('--aisupply-update needs a lockfile: [tool.aisupply] lockfile is set to ""')
        engine = Engine(
            settings, rules, readers, limits=settings.limits, lock=lock, hash_cache=self.hash_cache, update=update
        )
        engine.inventory.parallel_hashing = not hasattr(config, "workerinput")
        config.stash[engine_key] = engine
        if update and lock is not None and not hasattr(config, "workerinput"):
            from .update import LockUpdater

            config.pluginmanager.register(LockUpdater(config, settings, lock), LockUpdater.name)

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
        if self.config.option.aisupply_only:
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

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not config.option.aisupply_only:
            return
        keep = [item for item in items if isinstance(item, CheckItem)]
        dropped = [item for item in items if not isinstance(item, CheckItem)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        if isinstance(item, CheckItem) and call.when == "call":
            verdict = item.stash.get(verdict_key, None)
            report.aisupply = {
                "rule": item.rule_id,
                "subject": item.subject.id,
                "kind": item.subject.kind,
                "format": item.engine.inventory.format_of(item.subject),
                "status": verdict.status if verdict else "failed",
                "waived": sorted({w.reason for _, w in verdict.waived}) if verdict else [],
                "severity": verdict.severity if verdict else "error",
                "path": _relative(item.subject.path, self.config.rootpath),
                "findings": [_finding_json(f) for f in verdict.findings] if verdict else [],
                "waived_findings": [
                    {**_finding_json(f), "reason": w.reason} for f, w in (verdict.waived if verdict else [])
                ],
            }
            inventory = item.engine.inventory
            recorded = inventory.recorded.get(item.subject.id)
            if recorded is not None:
                report.aisupply["recorded"] = {item.subject.id: entry_to_json(recorded)}
            signer = inventory.signers.get(item.subject.id) if item.rule_id == "signature" else None
            if signer is not None:
                report.aisupply["signer"] = signer
            if hasattr(self.config, "workerinput") and inventory.hash_cache.fresh:
                report.aisupply["hashes"] = dict(inventory.hash_cache.fresh)
                inventory.hash_cache.known.update(inventory.hash_cache.fresh)
                inventory.hash_cache.fresh.clear()
        return report


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "message": finding.message,
        "fix": finding.fix,
        "where": finding.where,
        "line": finding.line,
        "details": list(finding.details),
    }


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return path.as_posix()


def _read_lock(settings: Settings) -> Lock | None:
    if not settings.lockfile:
        return None
    try:
        return read_lock(settings.root / settings.lockfile)
    except LockError as exc:
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
