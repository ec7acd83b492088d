"""pytest-aisupply: AI/ML supply-chain checks as pytest tests.

The public types for project rules and readers are importable from here; importing this package
does not import the pytest plugin module.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from .findings import Finding, Severity, Subject

__version__ = "0.1.0"
__all__ = ["Finding", "Severity", "Subject", "__version__"]
