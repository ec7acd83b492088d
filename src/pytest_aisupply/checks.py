"""The collection plugin: registered only when the checks are enabled."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from .config import ConfigError, Settings
from .engine import Engine
from .items import ROOT_NAME, CheckItem, ChecksCollector, engine_key, verdict_key


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
        config.stash[engine_key] = Engine(settings, rules, readers)

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
            }
        return report


def _check_unique_ids(ids: list[str]) -> None:
    seen = set()
    for rule_id in ids:
        if rule_id in seen:
            raise pytest.UsageError(f"two aisupply rules have the id {rule_id!r}; rule ids must be unique")
        seen.add(rule_id)
