"""The pickle walker's .py source as a module, even where mypyc compiled it (see setup.py):
``AISUPPLY_PURE_PYTHON=1`` runs it in place of the compiled module, and the tests compare the two.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

WALKER_MODULE = "pytest_aisupply.formats.pickle"


def load_walker_source(name: str = WALKER_MODULE) -> ModuleType:
    """Run ``formats/pickle.py`` as the module ``name`` and register it in ``sys.modules``."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("pickle.py"))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the pickle walker's source as {name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses look their module up
    spec.loader.exec_module(module)
    return module
