"""The plugin's entry point (``pytest11``): installs the plain importer below, then exposes the
hooks, the fixture and the stash keys of ``plugin_hooks`` for pytest to register.

It is kept this small because pytest compiles it through its assertion rewriter, which costs about
twice a plain compile on every run without a bytecode cache; everything else is loaded as plain Python.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType


class PlainImport:
    """Imports this package's modules the way Python does, ahead of pytest's assertion rewriter.

    pytest marks every module of a distribution with a ``pytest11`` entry point for assertion
    rewriting, and its import hook then parses and compiles each of them itself (with its own
    bytecode cache) instead of loading the ``.pyc`` pip compiled. This package's modules hold no
    test asserts (their docstrings say ``PYTEST_DONT_REWRITE``), so they gain nothing from it and
    each run without that cache paid for a compile of the whole engine. This finder, first on
    ``sys.meta_path``, hands them to the standard path finder; every other module is left to
    the finders after it.
    """

    aisupply_plain_import = True

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not name.startswith(PACKAGE + ".") or path is None:
            return None
        return importlib.machinery.PathFinder.find_spec(name, path)


PACKAGE = __name__.rpartition(".")[0]


def _install_plain_import() -> None:
    if not any(getattr(finder, "aisupply_plain_import", False) for finder in sys.meta_path):
        sys.meta_path.insert(0, PlainImport())


_install_plain_import()

# after the finder, so that the hooks module (and all it imports) is loaded as plain Python
from .plugin_hooks import (  # noqa: E402
    MARKERS,
    POLICY_MARKER,
    AisupplyDeprecationWarning,
    aisupply,
    anchor_file,
    fixture_base_key,
    guard_context,
    has_table,
    pytest_addhooks,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_load_initial_conftests,
    pytest_report_header,
    pytest_runtest_call,
    settings_key,
)

__all__ = [
    "MARKERS",
    "POLICY_MARKER",
    "AisupplyDeprecationWarning",
    "aisupply",
    "anchor_file",
    "fixture_base_key",
    "guard_context",
    "has_table",
    "pytest_addhooks",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_load_initial_conftests",
    "pytest_report_header",
    "pytest_runtest_call",
    "settings_key",
]
