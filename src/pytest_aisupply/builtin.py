"""The built-in rules and readers, contributed through the plugin's own hooks.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .formats import FormatReader
    from .rules import Rule


@pytest.hookimpl(trylast=True)
def pytest_aisupply_rules() -> list[Rule]:
    from .rules import builtin_rules

    return builtin_rules()


@pytest.hookimpl(trylast=True)
def pytest_aisupply_readers() -> list[FormatReader]:
    from .formats import builtin_readers

    return builtin_readers()
