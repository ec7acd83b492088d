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
from .items import ROOT_NAME, CheckItem, ChecksCollector, CollectionErrorItem, ProjectAnchor, engine_key, verdict_key
from .lockfile import Lock, LockError, entry_to_json, read_lock


class ChecksPlugin:
    name = "aisupply-checks"

    def __init__(self, config: pytest.Config, settings: Settings, anchor: Path | None) -> None:
        self.config = config
        self.anchor = anchor  # from the plugin module, which this one does not import back
        rule_lists = config.hook.pytest_aisupply_rules(settings=settings)
        rules = [rule for rules in reversed(rule_lists) for rule in rules or ()]
        readers = [reader for readers in config.hook.pytest_aisupply_readers() for reader in readers or ()]
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
        if update and lock is None:
            raise pytest.UsageError('--aisupply-update needs a lockfile: [tool.aisupply] lockfile is set to ""')
        engine = Engine(
            settings, rules, readers, limits=settings.limits, lock=lock, hash_cache=self.hash_cache, update=update
        )
        engine.inventory.parallel_hashing = not hasattr(config, "workerinput")
        config.stash[engine_key] = engine
        if update and lock is not None and not hasattr(config, "workerinput"):
            from .update import LockUpdater

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
        from .selection import matches

        selected: list[str] = config.option.aisupply_select
        only = bool(config.option.aisupply_only)
        if not (only or selected):
            return

        def wanted(item: pytest.Item) -> bool:
            if isinstance(item, (CheckItem, CollectionErrorItem)):
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
            ignored = _inline_ignores(item)
            if ignored:
                report.aisupply["inline_ignored"] = ignored
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


def _inline_ignores(item: CheckItem) -> int:
    """How many call sites a ``# aisupply: ignore[rule] reason`` comment took out of this check
    (counted for the summary, as Bandit counts its ``# nosec`` lines)."""
    rule = item.engine.rules.get(item.rule_id)
    call_sites = getattr(rule, "call_sites", None)
    if call_sites is None or item.subject.kind != "code":
        return 0
    inventory = item.engine.inventory
    code_file = next((f for f in inventory.code.files if f.relpath == item.subject.id), None)
    if code_file is None:
        return 0
    parsed = inventory.code.parsed(code_file)
    if parsed.facts.error:
        return 0
    count = 0
    for site in call_sites(parsed, inventory):
        ignore = parsed.ignore_for(item.rule_id, site.line, site.end_line)
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


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return path.as_posix()


def _read_lock(settings: Settings, update: bool) -> tuple[Lock | None, str | None]:
    """The lockfile, and why it was invalid when --aisupply-update is to repair it: the update
    then starts from an empty lock and keeps the invalid file aside (update.py), so the error's
    advice to run it leads out, not back to the same error."""
    if not settings.lockfile:
        return None, None
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
