"""Start-up only, robust to a loaded machine: a configured project with nothing to check against
``pytest --collect-only -p no:aisupply`` of the same project, run as interleaved pairs (floor, plugin,
floor, plugin ...; which side goes first alternates) so both sides see the same load. For each mode
it prints the median CPU of each side and the plugin's CPU over the floor as the median of the
paired differences with their interquartile range: the spread says how far the load moved the
figure. (A difference of two minima is not printed: the two minima come from different moments of
the load, so it could land anywhere, even above the median.)

    python benchmarks/bench_startup.py                  # this checkout's src, 12 pairs per mode
    python benchmarks/bench_startup.py --src OTHER/src  # another copy (e.g. an export of main)
    python benchmarks/bench_startup.py --modules 12     # also: where the time goes, by module
    python benchmarks/bench_startup.py --pairs 0 --instructions  # callgrind's instruction counts only

``--instructions`` also counts the instructions each side executes under valgrind's callgrind (one
run each; PYTHONHASHSEED=0): a count does not move with the machine's load, unlike CPU time, so a
loaded machine still tells whether a change made start-up cheaper. The plugin's extra instructions
are printed as a share of the floor's and, with timed pairs, as that share of the floor's median CPU.

"Without a bytecode cache" removes every ``__pycache__`` of the measured package before each run and
sets PYTHONDONTWRITEBYTECODE (the same definition as bench_scale.py); other installed pytest plugins
are left out on both sides (``-p no:hypothesispytest``). CPU is user + system time of the child.
"""

from __future__ import annotations

import argparse
import os
import re
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
    parser.add_argument(
        "--modules", type=int, default=0, metavar="RUNS", help="also print each of our modules' import cost (medians)"
    )
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions under valgrind's callgrind"
    )
    args = parser.parse_args()
    src = args.src.resolve()
    with tempfile.TemporaryDirectory(prefix="aisupply-startup-") as tmp:
        project = Path(tmp)
        (project / "data").mkdir()
        (project / "src").mkdir()
        (project / "pyproject.toml").write_text(
            '[tool.aisupply]\nartifacts = ["data"]\ncode = ["src"]\nlockfile = ""\n'
        )
        load = " ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load}; {src}")
        for bytecode in (False, True):
            if bytecode:  # warm both caches first
                cpu_of(COLLECT, project, src, True)
                cpu_of([*COLLECT, "-p", "no:aisupply"], project, src, True)
            floor, ours = [], []
            for index in range(args.pairs):
                # alternate which side runs first, so neither always follows the other's cache effects
                if index % 2:
                    ours.append(cpu_of(COLLECT, project, src, bytecode))
                    floor.append(cpu_of([*COLLECT, "-p", "no:aisupply"], project, src, bytecode))
                else:
                    floor.append(cpu_of([*COLLECT, "-p", "no:aisupply"], project, src, bytecode))
                    ours.append(cpu_of(COLLECT, project, src, bytecode))
            if floor:
                print(summary("with" if bytecode else "without", floor, ours))
            if args.instructions:
                print(instructions(project, src, bytecode, statistics.median(floor) if floor else None))
        if args.modules:
            print(by_module(project, src, args.modules, "configured, nothing to check"))
            plain = project / "without-table"  # issue 17: a project that does not use the plugin
            plain.mkdir()
            (plain / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n")
            print(by_module(plain, src, args.modules, "no [tool.aisupply] table"))
        print(f"done; load average {' '.join(f'{value:.1f}' for value in os.getloadavg())}")


def callgrind_count(command: list[str], cwd: Path, src: Path, bytecode: bool) -> int:
    """The instructions ``command`` executes (callgrind's ``Collected`` total)."""
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED="0")
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)  # writes the cache
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        for cache in src.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
    with tempfile.TemporaryDirectory() as out:
        grind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.out", *command]
        done = subprocess.run(grind, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count for {' '.join(command)}:\n{done.stderr[-2000:]}")
    return int(found[1])


def instructions(project: Path, src: Path, bytecode: bool, floor_cpu: float | None) -> str:
    floor = callgrind_count([*COLLECT, "-p", "no:aisupply"], project, src, bytecode)
    ours = callgrind_count(COLLECT, project, src, bytecode)
    share = (ours - floor) / floor
    line = (
        f"{'with' if bytecode else 'without'} bytecode cache, instructions (callgrind): floor {floor / 1e6:.0f} M, "
        f"plugin {ours / 1e6:.0f} M; plugin over the floor {(ours - floor) / 1e6:.0f} M "
        f"({100 * share:.1f}% of the floor)"
    )
    if floor_cpu is not None:
        line += f", {1000 * share * floor_cpu:.0f} ms at this run's floor median of {1000 * floor_cpu:.0f} ms CPU"
    return line


def summary(mode: str, floor: list[float], ours: list[float]) -> str:
    """One line: each side's median, and the median of the paired differences with its quartiles."""
    differences = sorted(o - f for o, f in zip(ours, floor, strict=True))
    low, middle, high = statistics.quantiles(differences, n=4) if len(differences) > 1 else differences * 3
    return (
        f"{mode} bytecode cache: floor median {1000 * statistics.median(floor):.0f} ms, "
        f"plugin median {1000 * statistics.median(ours):.0f} ms CPU; plugin over the floor: "
        f"paired median {1000 * middle:.0f} ms "
        f"(quartiles {1000 * low:.0f} to {1000 * high:.0f} ms, {len(differences)} pairs)"
    )


def by_module(project: Path, src: Path, runs: int, label: str) -> str:
    """Each of our modules' own import time in a collect-only run of ``project`` without a bytecode cache, as
    ``python -X importtime`` reports it (wall time, nested imports excluded), median of ``runs``.

    The package and the plugin module are imported by pytest's entry-point loader (through
    ``importlib``, which ``-X importtime`` does not see) and compiled by its assertion rewriter
    (parsed to an AST, then compiled): for them the line shows that parse and compile, timed apart
    (the second of two in a fresh interpreter, as pytest's rewriter has run before it gets to them).
    """
    own: dict[str, list[float]] = {}
    line = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s+(pytest_aisupply\S*)")
    for _ in range(runs):
        env = dict(os.environ, PYTHONPATH=str(src), PYTHONDONTWRITEBYTECODE="1")
        for cache in src.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        command = [sys.executable, "-X", "importtime", *COLLECT[1:]]
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)
        for match in line.finditer(done.stderr):
            own.setdefault(match[2], []).append(int(match[1]) / 1000)
        for name in ("pytest_aisupply/__init__.py", "pytest_aisupply/plugin.py"):
            code = (
                "import ast, sys, time; text = open(sys.argv[1], 'rb').read(); "
                "compile(ast.parse(text), sys.argv[1], 'exec', dont_inherit=True); start = time.perf_counter(); "
                "compile(ast.parse(text), sys.argv[1], 'exec', dont_inherit=True); "
                "print(time.perf_counter() - start)"
            )
            timed = subprocess.run([sys.executable, "-c", code, str(src / name)], capture_output=True, text=True)
            module = name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            own.setdefault(module + " (rewriter's parse + compile)", []).append(1000 * float(timed.stdout))
    rows = sorted(((statistics.median(times), name) for name, times in own.items()), reverse=True)
    lines = [f"  {ms:5.1f} ms  {name}" for ms, name in rows]
    total = sum(ms for ms, _ in rows)
    return "\n".join(
        [
            f"{label}: our modules without a bytecode cache, median of {runs} runs (wall ms, own time):",
            *lines,
            f"  {total:5.1f} ms  in all ({len(rows)} lines)",
        ]
    )


if __name__ == "__main__":
    main()
