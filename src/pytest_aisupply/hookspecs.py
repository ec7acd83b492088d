"""Hooks through which rules and format readers are contributed (by us, conftest.py or plugins).

Define them in a ``conftest.py`` at the project root (or one loaded at start-up) or in a plugin:

    def pytest_aisupply_rules(settings):
        return [MyRule()]

    def pytest_aisupply_readers():
        return [MyFormatReader()]

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .formats import FormatReader
    from .rules import Rule
    from .settings.config import Settings


@pytest.hookspec
def pytest_aisupply_rules(settings: Settings) -> list[Rule]:  # type: ignore[empty-body]
    """Return rules to check. Every rule gets collected items ``aisupply::<id>::<subject>``,
    severities from ``[tool.aisupply.rules]``, waivers and reports like the built-in ones."""


@pytest.hookspec
def pytest_aisupply_readers() -> list[FormatReader]:  # type: ignore[empty-body]
    """Return format readers. Readers from conftest files and plugins are tried before the
    built-in ones, so a project can teach the scanner a format of its own."""
