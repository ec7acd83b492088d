"""Start-up only, robust to a loaded machine: a configured project with nothing to check against
``pytest --collect-only -p no:aisupply`` of the same project, run as interleaved pairs (floor, plugin,
floor, plugin ...) so both sides see the same load; prints the plugin's CPU over the floor as the
difference of the minima, of the medians, and the median of the paired differences.

    python benchmarks/bench_startup.py                  # this checkout's src, 12 pairs per mode
    python benchmarks/bench_startup.py --src OTHER/src  # another copy (e.g. an export of main)

"Without a bytecode cache" removes every ``__pycache__`` of the measured package before each run and
sets PYTHONDONTWRITEBYTECODE (the same definition as bench_scale.py); other installed pytest plugins
are left out on both sides (``-p no:hypothesispytest``). CPU is user + system time of the child.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

COLLECT = [
    sys.executable,
    "-m",
    "pytest",
    "-q",
    "-p",
    "no:hypothesispytest",
    "--collect-only",
    "-p",
    "no:cacheprovider",
]


def cpu_of(command: list[str], cwd: Path, src: Path, bytecode: bool) -> float:
    env = dict(os.environ, PYTHONPATH=str(src))
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        for cache in src.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 5):
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    parser.add_argument("--pairs", type=int, default=12)
    args = parser.parse_args()
    src = args.src.resolve()
    with tempfile.TemporaryDirectory(prefix="aisupply-startup-") as tmp:
        project = Path(tmp)
        (project / "data").mkdir()
        (project / "src").mkdir()
        (project / "pyproject.toml").write_text(
            '[tool.aisupply]\nartifacts = ["data"]\ncode = ["src"]\nlockfile = ""\n'
        )
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {src}")
        for bytecode in (False, True):
            if bytecode:  # warm both caches first
                cpu_of(COLLECT, project, src, True)
                cpu_of([*COLLECT, "-p", "no:aisupply"], project, src, True)
            floor, ours = [], []
            for _ in range(args.pairs):
                floor.append(cpu_of([*COLLECT, "-p", "no:aisupply"], project, src, bytecode))
                ours.append(cpu_of(COLLECT, project, src, bytecode))
            paired = statistics.median(o - f for o, f in zip(ours, floor, strict=True))
            lowest = min(ours) - min(floor)
            middle = statistics.median(ours) - statistics.median(floor)
            print(
                f"{'with' if bytecode else 'without'} bytecode cache: plugin over the floor "
                f"min {1000 * lowest:.0f} ms, median {1000 * middle:.0f} ms, "
                f"paired median {1000 * paired:.0f} ms CPU ({args.pairs} pairs)"
            )


if __name__ == "__main__":
    main()
