"""The facts cache's pytest side: saved at the end of the session (the controller merges what the
xdist workers read), and a line in the terminal summary saying how many files' facts came from it.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..inventory.core import Inventory

#: Each xdist worker's fresh entries, in the cache folder until the controller merges them.
SHARD_PREFIX = "facts-shard-"


class FactsCachePlugin:
    """Saves the cache at the end of the session (the controller merges the workers' shards) and
    says in the terminal summary how many files' facts came from it."""

    name = "aisupply-facts-cache"

    def __init__(self, inventory: Inventory, worker_id: str | None) -> None:
        self.inventory = inventory
        #: None: the cache is off (no cache provider, or Windows: see ChecksPlugin)
        self.folder = inventory.facts_cache_folder
        self.worker_id = worker_id
        self.counts: tuple[int, int] | None = None

    def pytest_sessionfinish(self) -> None:
        if self.folder is None:
            return  # said as "off" in the summary: an xdist controller cannot count what its workers read
        cache = self.inventory.loaded_facts_cache
        if self.worker_id is not None:
            if cache is not None and cache.enabled:
                cache.save_shard(self.folder / f"{SHARD_PREFIX}{self.worker_id}.json")
            return
        shards = sorted(self.folder.glob(f"{SHARD_PREFIX}*.json"))
        if cache is None and not shards:
            return  # nothing was sniffed, here or in a worker: the cache on disk stays as it was
        from ..inventory.facts_cache import CACHE_NAME

        cache = self.inventory.facts_cache
        if not cache.enabled:
            return
        cache.absorb_shards(shards)
        cache.save(self.folder / CACHE_NAME)
        for shard in shards:
            with contextlib.suppress(OSError):
                shard.unlink()
        if cache.cached or cache.read:
            self.counts = cache.summary()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.folder is None:
            terminalreporter.write_line("facts cache: off")
        elif self.counts is not None:
            from_cache, read = self.counts
            terminalreporter.write_line(f"facts cache: {from_cache} files from the cache, {read} read")
