from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.hub_server import HubServer, running_hub

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _isolated_from_outer_xdist(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nested pytester runs must not believe they are xdist workers of this run."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)


@pytest.fixture
def hub() -> Iterator[HubServer]:
    """A Hub-compatible HTTP server on 127.0.0.1 (see helpers/hub_server.py)."""
    yield from running_hub()


@pytest.fixture
def hub_env(hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point every pytest subprocess at the local Hub with a private HF cache."""
    env = hub.client_env(tmp_path / "hf-home")
    for key in [k for k in os.environ if k.startswith(("HF_", "HUGGINGFACE_"))]:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        if key.startswith("HF_") or key in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(key, value)
    # huggingface_hub reads HF_ENDPOINT once, when first imported: an in-process test that imported it
    # earlier (under the default endpoint, which has no DNS here) must not send a later one there. 1.x
    # and 2.x read these constants at call time; 0.x also copies them into its modules at import, where
    # a patch would make the copies disagree with the constants, so 0.x keeps its import-time values.
    from huggingface_hub import __version__ as hf_version
    from huggingface_hub import constants

    if not hf_version.startswith("0."):
        monkeypatch.setattr(constants, "ENDPOINT", env["HF_ENDPOINT"])
        monkeypatch.setattr(
            constants, "HUGGINGFACE_CO_URL_TEMPLATE", env["HF_ENDPOINT"] + "/{repo_id}/resolve/{revision}/{filename}"
        )
    return env
