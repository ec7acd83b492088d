"""pytest-aisupply: AI/ML supply-chain checks as pytest tests.

The public types for project rules and readers are importable from here; importing this package
does not import the pytest plugin module. They are loaded on first use (``__getattr__`` below):
pytest imports this package through its assertion rewriter before the plugin can ask for plain
imports, and a project without ``[tool.aisupply]`` never needs them.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .findings import Finding as Finding
    from .findings import Severity as Severity
    from .findings import Subject as Subject

__version__ = "0.1.0"
__all__ = ["Finding", "Severity", "Subject", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("Finding", "Severity", "Subject"):
        from . import findings

        return getattr(findings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
