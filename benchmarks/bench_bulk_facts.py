"""Does reading the facts of a large tree in parallel processes pay on this machine?

Reads the facts of every file of a generated data folder (the tree of ``bench_scale.py``: small
.npy files and a plain-data pickle every fourth file) three ways, in one process each time:

1. serially, as a run does today (``analyze_path`` per file);
2. in a process pool of ``--workers`` processes (the platform's default start method, forkserver
   on Python 3.14), each returning the facts as the facts cache's JSON, decoded in the parent;
3. the same pool with the "spawn" start method.

It prints wall and CPU seconds of each (CPU includes the pool's processes). Usage::

    python benchmarks/bench_bulk_facts.py --files 20000 --workers 2
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bench_scale import data_tree


def _readers() -> list[object]:
    from pytest_aisupply.formats import builtin_readers

    return list(builtin_readers())


def read_chunk(paths: list[str]) -> list[str]:
    """Facts of ``paths`` as JSON texts (what a pool worker would send back)."""
    import json

    from pytest_aisupply.formats import analyze_path
    from pytest_aisupply.formats.facts_json import encode_facts_value

    readers = _readers()
    texts = []
    for path in paths:
        facts = analyze_path(Path(path), readers)  # type: ignore[arg-type]
        texts.append(json.dumps(encode_facts_value(facts, keep_bytes=True)))
    return texts


def serial(paths: list[str]) -> int:
    from pytest_aisupply.formats import analyze_path

    readers = _readers()
    return sum(1 for path in paths if analyze_path(Path(path), readers))  # type: ignore[arg-type]


def pooled(paths: list[str], workers: int, method: str | None) -> int:
    import json

    from pytest_aisupply.formats.facts_json import decode_facts_value

    context = multiprocessing.get_context(method)
    chunk = max(1, len(paths) // (workers * 8))
    chunks = [paths[index : index + chunk] for index in range(0, len(paths), chunk)]
    done = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for texts in pool.map(read_chunk, chunks):
            for text in texts:
                decode_facts_value(json.loads(text))
                done += 1
    return done


def timed(label: str, run: Callable[[], int]) -> None:
    before_self = resource.getrusage(resource.RUSAGE_SELF)
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    count = run()
    wall = time.perf_counter() - start
    after_self = resource.getrusage(resource.RUSAGE_SELF)
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(
        getattr(after, field) - getattr(before, field)
        for before, after in ((before_self, after_self), (before_children, after_children))
        for field in ("ru_utime", "ru_stime")
    )
    print(f"{label:<44} {count:>7} files  wall {wall:6.2f} s  cpu {cpu:6.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as base:
        root = Path(base)
        data_tree(root, args.files, per_folder=1000)
        paths = sorted(str(path) for path in (root / "data").rglob("*") if path.is_file())
        serial(paths[:50])  # imports and page cache, outside the timings
        timed("serial, one process", lambda: serial(paths))
        method = multiprocessing.get_start_method()
        timed(f"{args.workers} processes ({method}), JSON back", lambda: pooled(paths, args.workers, None))
        timed(f"{args.workers} processes (spawn), JSON back", lambda: pooled(paths, args.workers, "spawn"))
        print(f"done; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
