"""Benchmark of the integrity rule's hashing and its cache.

Run from the repository root (needs about 2.2 GiB of free disk in the temporary folder):

    python benchmarks/bench_lockfile.py [--files 8] [--mib 256]

It writes N safetensors files of M MiB each into a project with ``[tool.aisupply]`` and then:
1. times ``sha256sum`` over all files (one process, the usual way to hash them);
2. times ``pytest --aisupply-update -k integrity`` (first hashing run, the lock gets written);
3. times ``pytest -k integrity`` again on the unchanged tree (hashes come from the cache) and the
   same run with ``--no-aisupply`` as the baseline, reading ``rchar`` from /proc/<pid>/io to show
   how many bytes each run read.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_RUNNER = (
    "import sys, pytest\n"
    "code = pytest.main(sys.argv[1:])\n"
    "io = dict(line.split(': ') for line in open('/proc/self/io').read().splitlines())\n"
    "print('RCHAR', int(io['rchar']))\n"
    "sys.exit(int(code))\n"
)


def write_safetensors(path: Path, mib: int) -> None:
    size = mib << 20
    header = json.dumps({"w": {"dtype": "U8", "shape": [size], "data_offsets": [0, size]}}).encode()
    header += b" " * (-len(header) % 8)
    chunk = bytes(range(256)) * 4096
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(header)) + header)
        written = 0
        while written < size:
            piece = chunk[: size - written]
            handle.write(piece)
            written += len(piece)


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - start, result.stdout


def rchar(output: str) -> int:
    for line in output.splitlines():
        if line.startswith("RCHAR "):
            return int(line.split()[1])
    return -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--mib", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        (root / "pyproject.toml").write_text("[tool.aisupply]\nartifacts = ['models']\n")
        models = root / "models"
        models.mkdir()
        paths = []
        for number in range(args.files):
            path = models / f"shard-{number:02d}.safetensors"
            write_safetensors(path, args.mib)
            paths.append(path)
        subprocess.run(["sync"], check=False)
        total = sum(path.stat().st_size for path in paths)
        subprocess.run(["cat", *map(str, paths)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        sha_time, _ = timed(["sha256sum", *map(str, paths)], root)
        pytest_cmd = [sys.executable, "-c", _RUNNER, "-q", "-p", "no:randomly"]
        baseline_time, baseline_out = timed([*pytest_cmd, "--no-aisupply"], root)
        first_time, first_out = timed([*pytest_cmd, "--aisupply-update", "-k", "integrity"], root)
        second_time, second_out = timed([*pytest_cmd, "-k", "integrity"], root)
        third_time, third_out = timed([*pytest_cmd], root)
        mib = total / (1 << 20)
        print(
            f"date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; cores: {os.cpu_count()}; "
            f"{args.files} files, {mib:.0f} MiB in all"
        )
        print()
        print("| Run | Wall time | Throughput | rchar (bytes read by the process) |")
        print("| --- | --- | --- | --- |")
        print(f"| `sha256sum` of all files | {sha_time:.2f} s | {mib / sha_time:.0f} MiB/s | - |")
        print(f"| pytest `--no-aisupply` (start-up baseline) | {baseline_time:.2f} s | - | {rchar(baseline_out):,} |")
        hashing = max(first_time - baseline_time, 1e-9)
        print(
            f"| pytest `--aisupply-update -k integrity` (first hashing) | {first_time:.2f} s | "
            f"{mib / hashing:.0f} MiB/s after start-up ({sha_time / hashing:.0%} of sha256sum's throughput) | "
            f"{rchar(first_out):,} |"
        )
        print(
            f"| pytest `-k integrity`, unchanged tree (hash cache) | {second_time:.2f} s "
            f"(+{second_time - baseline_time:.2f} s over baseline) | - | {rchar(second_out):,} |"
        )
        print(
            f"| pytest, all rules, unchanged tree | {third_time:.2f} s "
            f"(+{third_time - baseline_time:.2f} s over baseline) | - | {rchar(third_out):,} |"
        )
        print()
        print(f"last lines of the update run: {first_out.strip().splitlines()[-2:]}")


if __name__ == "__main__":
    main()
