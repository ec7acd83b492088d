"""The facts cache's pytest side: saved at the end of the session (the controller merges what the
xdist workers read), and a line in the terminal summary saying how many files' facts came from it.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ..inventory.facts_cache import CACHE_NAME, SHARD_PREFIX, FactsCache


class FactsCachePlugin:
    """Saves the cache at the end of the session (the controller merges the workers' shards) and
    says in the terminal summary how many files' facts came from it."""

    name = "aisupply-facts-cache"

    def __init__(self, cache: FactsCache, folder: Path | None, worker_id: str | None) -> None:
        self.cache = cache
        self.folder = folder
        self.worker_id = worker_id
        self.counts: tuple[int, int] | None = None

    def pytest_sessionfinish(self) -> None:
        if self.folder is None or not self.cache.enabled:
            return  # said as "off" in the summary: an xdist controller cannot count what its workers read
        if self.worker_id is not None:
            self.cache.save_shard(self.folder / f"{SHARD_PREFIX}{self.worker_id}.json")
            return
        shards = sorted(self.folder.glob(f"{SHARD_PREFIX}*.json"))
        self.cache.absorb_shards(shards)
        self.cache.save(self.folder / CACHE_NAME)
        for shard in shards:
            with contextlib.suppress(OSError):
                shard.unlink()
        if self.cache.cached or self.cache.read:
            self.counts = self.cache.summary()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.folder is None or not self.cache.enabled:
            terminalreporter.write_line("facts cache: off")
        elif self.counts is not None:
            from_cache, read = self.counts
            terminalreporter.write_line(f"facts cache: {from_cache} files from the cache, {read} read")
