"""The entry-point module exposes every hook and fixture of the hooks module.

pytest registers only the ``pytest11`` entry point (``pytest_aisupply.plugin``); the hooks are
defined in ``plugin_hooks`` so that they are compiled as plain Python. A hook added there and not
re-exported by the entry point would silently never run: this test names it.
"""

from __future__ import annotations

import pytest

from pytest_aisupply import plugin, plugin_hooks


def _is_fixture(value: object) -> bool:
    # pytest 9 wraps a fixture in a FixtureFunctionDefinition, pytest 8 marks the function
    return type(value).__name__ == "FixtureFunctionDefinition" or hasattr(value, "_pytestfixturefunction")


def _hooks_and_fixtures(module: object) -> set[str]:
    names = set()
    for name in dir(module):
        value = getattr(module, name)
        if (name.startswith("pytest_") and callable(value)) or _is_fixture(value):
            names.add(name)
    return names


def test_the_entry_point_exposes_every_hook_and_fixture_of_the_hooks_module() -> None:
    defined = _hooks_and_fixtures(plugin_hooks)
    assert {"pytest_configure", "pytest_addoption", "aisupply"} <= defined  # the lookup finds them
    assert defined == _hooks_and_fixtures(plugin)


def test_pytest_registers_the_hooks_under_the_entry_point(pytestconfig: pytest.Config) -> None:
    registered = pytestconfig.pluginmanager.get_plugin("aisupply")
    assert registered is plugin
    callers = {
        impl.function.__name__
        for hook in ("pytest_configure", "pytest_addoption")
        for impl in getattr(pytestconfig.hook, hook).get_hookimpls()
        if impl.plugin is plugin
    }
    assert callers == {"pytest_configure", "pytest_addoption"}
