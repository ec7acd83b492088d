"""Controller-only writers for SARIF and the CycloneDX ML-BOM (built from report data)."""

from __future__ import annotations

from typing import Any

import pytest

from .config import Settings


class ReportWriter:
    """Collects the ``aisupply`` data carried on test reports and writes the requested reports
    at the end of the session (under xdist, only the controller has this plugin)."""

    name = "aisupply-reports"

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.records: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "aisupply", None)
        if data and report.when == "call":
            self.records.append(data)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        raise NotImplementedError("SARIF and BOM writers are being built")
