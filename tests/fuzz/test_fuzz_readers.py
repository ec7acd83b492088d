"""Property tests: every reader keeps its contract on mutated valid and malicious files and on
random bytes (see targets.py for the properties). A short, derandomized budget for the normal
suite; ``long_run.py`` runs the same targets for a million inputs and more."""

from __future__ import annotations

import random
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.mutate import mutate
from fuzz.targets import BY_NAME, TARGETS, run, seeds_of

#: A hang guard, not a speed bound: an input may take this long, plus TIME_PER_BYTE for each of
#: its bytes, over 100 times the slowest input of the long run (140 ms, docs/benchmarks.md), so a
#: loaded CI machine does not fail it; long_run.py records the real slowest input.
TIME_BASE = 20.0
TIME_PER_BYTE = 200e-6
#: Peak memory allowed for one reading: a constant (buffers, the memo bitmap, decompression
#: chunks) plus a multiple of the bytes the input really has.
MEMORY_BASE = 48 << 20
MEMORY_PER_BYTE = 64

NAMES = [target.name for target in TARGETS]
_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def inputs(name: str) -> st.SearchStrategy[bytes]:
    seeds = seeds_of(name)
    limit = BY_NAME[name].max_size
    mutated = st.builds(
        lambda index, rng_seed: mutate(seeds[index % len(seeds)], random.Random(rng_seed), seeds, max_size=limit),
        st.integers(min_value=0, max_value=len(seeds) - 1),
        st.integers(min_value=0, max_value=2**32 - 1),
    )
    return st.one_of(mutated, mutated, mutated, st.sampled_from(seeds), st.binary(max_size=2048))


def timed_run(name: str, data: bytes) -> float:
    started = time.perf_counter()
    run(name, data)
    elapsed = time.perf_counter() - started
    assert elapsed <= TIME_BASE + TIME_PER_BYTE * len(data), f"{name}: {elapsed:.2f} s for {len(data)} bytes"
    return elapsed


@pytest.mark.parametrize("name", NAMES)
def test_every_seed_keeps_the_contract(name: str) -> None:
    for data in seeds_of(name):
        timed_run(name, data)


@pytest.mark.parametrize("name", NAMES)
def test_mutated_inputs_keep_the_contract(name: str) -> None:
    @_SETTINGS
    @given(data=inputs(name))
    def check(data: bytes) -> None:
        timed_run(name, data)

    check()


@pytest.mark.parametrize("name", ["pickle", "zip", "tar", "compression", "safetensors", "numpy", "notebook"])
def test_memory_grows_with_the_bytes_not_with_what_they_claim(name: str) -> None:
    @settings(_SETTINGS, max_examples=25)
    @given(data=inputs(name))
    def check(data: bytes) -> None:
        tracemalloc.start()
        try:
            run(name, data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak <= MEMORY_BASE + MEMORY_PER_BYTE * len(data), f"{name}: {peak} bytes at peak for {len(data)}"

    check()
