"""Format readers: content-based detection and static reading of model and data files.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import os

from ..settings.limits import Limits
from .walker_source import load_walker_source

if os.environ.get("AISUPPLY_PURE_PYTHON") == "1":
    # The switch that builds the package without compiling also runs a compiled install's source.
    load_walker_source()

from .core import (
    HEAD_SIZE,
    ArtifactFacts,
    FormatReader,
    PickleFact,
    Problem,
    ReadContext,
    analyze_path,
    sniff_path,
)
from .readers import LazyReader, builtin_readers, eager_builtin_readers

__all__ = [
    "HEAD_SIZE",
    "ArtifactFacts",
    "FormatReader",
    "LazyReader",
    "Limits",
    "PickleFact",
    "Problem",
    "ReadContext",
    "analyze_path",
    "builtin_readers",
    "eager_builtin_readers",
    "sniff_path",
]
