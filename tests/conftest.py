from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _isolated_from_outer_xdist(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nested pytester runs must not believe they are xdist workers of this run."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
