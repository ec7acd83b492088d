"""Cost of the run-time guards on a test suite that does not unpickle.

Run from the repository root:

    python benchmarks/bench_runtime.py [--tests 3000] [--repeat 5]

Generates a suite of small tests doing ordinary work (json, file writes, arithmetic) and times it,
interleaved, three ways: without the plugin (``-p no:aisupply``), with the plugin installed but
no guard, and with ``aisupply_runtime = no-pickle`` (the audit hook active for every test).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_TEST = """
import json


def test_{n}(tmp_path):
    data = {{"values": list(range(200)), "name": "case-{n}"}}
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    assert json.loads(path.read_text())["name"] == "case-{n}"
    assert sum(x * x for x in range(2000)) > 0
"""


def run(root: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary) / "plain"
        guarded = Path(temporary) / "guarded"
        per_file = 100
        for folder, ini in ((root, "[pytest]\n"), (guarded, "[pytest]\naisupply_runtime = no-pickle\n")):
            folder.mkdir()
            (folder / "pytest.ini").write_text(ini)
            for index in range(0, args.tests, per_file):
                body = "".join(_TEST.format(n=n) for n in range(index, min(index + per_file, args.tests)))
                (folder / f"test_suite_{index // per_file}.py").write_text(body)
        times: dict[str, list[float]] = {"without plugin": [], "plugin, no guard": [], "no-pickle guard": []}
        for _ in range(args.repeat):
            times["without plugin"].append(run(root, "-p", "no:aisupply"))
            times["plugin, no guard"].append(run(root))
            times["no-pickle guard"].append(run(guarded))
        base = statistics.median(times["without plugin"])
        print(
            f"date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; {args.tests} tests, median of {args.repeat}"
        )
        print()
        print("| Suite run | Median wall time | Overhead vs without plugin |")
        print("| --- | --- | --- |")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"| {name} | {median:.2f} s | {(median - base) / base:+.1%} |")


if __name__ == "__main__":
    main()
