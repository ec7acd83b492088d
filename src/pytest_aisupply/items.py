"""The collected checks: ``aisupply`` > rule > subject, one item per (rule, subject)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from .engine import Engine, Verdict
from .findings import Subject
from .render import render_verdict, render_waived
from .rules.base import Rule

ROOT_NAME = "aisupply"
engine_key = pytest.StashKey["Engine"]()
verdict_key = pytest.StashKey[Verdict]()


class AisupplyWarning(pytest.PytestWarning):
    """A supply-chain check set to "warn" found something."""


class CheckFailed(Exception):
    """Raised by a check item; rendered by ``repr_failure`` without a traceback."""

    def __init__(self, verdict: Verdict, format_name: str | None) -> None:
        super().__init__(render_verdict(verdict, format_name))
        self.verdict = verdict


class ChecksCollector(pytest.Collector):
    """The ``aisupply`` node: one child per active rule."""

    def __init__(self, *, engine: Engine, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.engine = engine

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        for rule, subjects in self.engine.subjects():
            if subjects:
                yield RuleCollector.from_parent(self, name=rule.id, rule=rule, subjects=subjects)


class RuleCollector(pytest.Collector):
    def __init__(self, *, rule: Rule, subjects: list[Subject], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule = rule
        self.subjects = subjects

    def collect(self) -> Iterable[pytest.Item]:
        for subject in self.subjects:
            yield CheckItem.from_parent(self, name=subject.id, rule_id=self.rule.id, subject=subject)


class CheckItem(pytest.Item):
    """One rule checked on one subject."""

    def __init__(self, *, rule_id: str, subject: Subject, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule_id = rule_id
        self.subject = subject
        self.add_marker(ROOT_NAME)

    @property
    def engine(self) -> Engine:
        return self.config.stash[engine_key]

    def runtest(self) -> None:
        verdict = self.engine.evaluate(self.rule_id, self.subject)
        self.stash[verdict_key] = verdict
        status = verdict.status
        if status == "failed":
            raise CheckFailed(verdict, self.engine.inventory.format_of(self.subject))
        if status == "warned":
            warnings.warn(
                AisupplyWarning(render_verdict(verdict, self.engine.inventory.format_of(self.subject))), stacklevel=1
            )
        if status == "waived":
            self.add_report_section("call", "aisupply", render_waived(verdict))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | Any:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.subject.path, None, f"[aisupply] {self.rule_id}: {self.subject.id}"
