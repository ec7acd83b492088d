"""Time and peak memory of the hostile-file checks (the issue's acceptance bounds).

Run from the repository root on an idle machine:

    python benchmarks/bench_hostile.py

It runs tests/formats/test_hostile.py with ``--durations=0`` and ``AISUPPLY_BENCH_BOUNDS=1``, which holds
each scan to the acceptance bounds themselves (2 s per hostile file, 10 s for the 200,000-entry
lockfile; the test suite only guards them with a 10x margin against a hang), and prints each
test's call time. A non-zero exit code means a bound (or a finding) was missed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def main() -> None:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/formats/test_hostile.py",
        "--durations=0",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, "AISUPPLY_BENCH_BOUNDS": "1"}
    )
    print(f"date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; exit code {result.returncode}")
    print()
    print("| Test | Call time |")
    print("| --- | --- |")
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "call" and parts[0].endswith("s"):
            print(f"| `{parts[2].split('::')[-1]}` | {parts[0]} |")


if __name__ == "__main__":
    main()
