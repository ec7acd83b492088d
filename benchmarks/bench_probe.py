"""What the pickle probe from byte 0 costs: discovery + verdicts on the small-file tree of
bench_artifacts.py, with two source trees of the plugin side by side (before and after a change),
interleaved runs, medians. Also the nested fan-out file (one pickle handed to pickle.loads through
the memo 100,000 times), which must end as a finding quickly.

    python benchmarks/bench_probe.py --before OTHER/src [--after src] [--count 10000] [--reps 5]

Both trees run as pure Python (AISUPPLY_PURE_PYTHON=1), each in a fresh subprocess per run, on the
same tree (warm page cache).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

_MEASURE_TREE = """
import sys, time
from pathlib import Path
from pytest_aisupply.settings.config import Settings
from pytest_aisupply.formats import builtin_readers
from pytest_aisupply.inventory.core import Inventory
root = Path(sys.argv[1])
start = time.perf_counter()
inventory = Inventory(Settings(root=root), builtin_readers())
facts = [inventory.facts(artifact) for artifact in inventory.artifacts]
print(time.perf_counter() - start, len(facts))
"""

_MEASURE_FILE = """
import sys, time
from pathlib import Path
from pytest_aisupply.formats import analyze_path, builtin_readers
start = time.perf_counter()
facts = analyze_path(Path(sys.argv[1]), builtin_readers())
print(time.perf_counter() - start, len(facts.pickles))
"""


def run_once(src: Path, script: str, target: Path) -> tuple[float, int]:
    env = {**os.environ, "PYTHONPATH": str(src), "AISUPPLY_PURE_PYTHON": "1"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(target)], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), int(out[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="src/ of the plugin before the change")
    parser.add_argument("--after", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    parser.add_argument("--count", type=int, default=10_000, help="files in the tree")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()

    from bench_artifacts import build_small_tree

    from helpers.loader_attacks import fan_out

    with tempfile.TemporaryDirectory(prefix="aisupply-probe-") as work:
        root = Path(work) / "tree"
        root.mkdir()
        kinds = build_small_tree(root, args.count)
        (root / "pyproject.toml").write_text("[tool.aisupply]\nlockfile = ''\n")
        fan = Path(work) / "fan-out.pkl"
        fan.write_bytes(fan_out(Path(work) / "MARKER"))
        print(f"tree: {args.count} files ({dict(kinds)}); {args.reps} interleaved runs each")
        times: dict[str, list[float]] = {"before": [], "after": []}
        fan_times: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.reps):
            for label, src in (("before", args.before), ("after", args.after)):
                seconds, _artifacts = run_once(src, _MEASURE_TREE, root)
                times[label].append(seconds)
                seconds, _pickles = run_once(src, _MEASURE_FILE, fan)
                fan_times[label].append(seconds)
        before, after = statistics.median(times["before"]), statistics.median(times["after"])
        print("| measure | before | after | change |")
        print("|---|---|---|---|")
        change = 100 * (after / before - 1)
        print(f"| {args.count} files: discovery + verdicts | {before:.3f} s | {after:.3f} s | {change:+.1f}% |")
        fan_before, fan_after = statistics.median(fan_times["before"]), statistics.median(fan_times["after"])
        print(f"| fan-out pickle (100,000 nested references) | {fan_before:.3f} s | {fan_after:.3f} s | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
