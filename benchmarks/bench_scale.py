"""Start-up and scale of the collected checks, side by side with pytest's floor and picklescan.

Run from the repository root (sizes are configurable, so a quick run is possible):

    python benchmarks/bench_scale.py                        # full sizes
    python benchmarks/bench_scale.py --files 500 --big-files 20000 --peer-mib 64 --repeat 1
    python benchmarks/bench_scale.py --files 3000 --profile prof/   # a cProfile of each -n 2 process

picklescan is a benchmark-only dependency: ``pip install picklescan`` (the ``bench`` extra).
Everything is generated under a temporary folder (sparse files for the big peers), never in the
repository. Every figure is measured in ONE run and printed with its ratio; CPU is user + system
time of the child processes (``resource.getrusage(RUSAGE_CHILDREN)``), wall is ``perf_counter``.

1. start-up: a configured project with nothing to check vs ``pytest --collect-only`` of the same
   project without the plugin (``-p no:aisupply``), with and without a bytecode cache;
2. N per-file checks vs N trivial parametrized tests (``def test_x(i): pass``), at -n 0 and -n 2;
3. the same N-file tree with one check per folder vs picklescan over the tree (without the facts
   cache, cold, warm, and the warm run's time over pytest's own start-up in the project:
   ``--collect-only -p no:aisupply src``, which does not walk the data folder);
4. a data folder of M files, per folder: without the facts cache, cold (writing it) and warm;
5. a tree of real verdicts (pickles, torch-style zips and .npy files of some size) at -n 0 and -n 2,
   one check per file and per folder: where pytest-xdist's per-item cost is small next to a check's;
6. the peer set (a 1 GiB safetensors file, a 1 GiB torch zip, 200 small model files): the plugin's
   time over ``--collect-only src`` (pytest's start-up there), one check per file and per folder,
   beside the same number of trivial tests (pytest's own per-item floor), vs picklescan's whole
   process; and, in one process, the CPU of importing the readers and artifact rules and of reading
   the files.

Other installed pytest plugins are left out on both sides (``-p no:hypothesispytest``), so the
start-up figures compare like with like.
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:hypothesispytest"]
PACKAGE_SRC = Path(__file__).resolve().parents[1] / "src"
#: The data trees hold pickles of plain data (no globals): "scan" passes them, as a team with such a
#: folder would configure it, so the runs measure checking, not pytest printing thousands of failures.
SCAN = 'pickle = "scan"\n'


def measure(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok:
        raise SystemExit(
            f"{' '.join(command)} exited {done.returncode} in {cwd}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


#: Loaded into a pytest run with ``-p``: every process of the run (the controller and each xdist
#: worker) appends its own CPU time (user + system) to the file BENCH_PROCESS_CPU names, so a -n 2
#: run's CPU splits into the controller's and each worker's, whatever else loads the machine.
PROCESS_CPU_PLUGIN = '''"""Written by benchmarks/bench_scale.py: each pytest process's own CPU time."""
import os
import resource


def pytest_unconfigure(config):
    target = os.environ.get("BENCH_PROCESS_CPU")
    if target:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        who = config.workerinput["workerid"] if hasattr(config, "workerinput") else "controller"
        with open(target, "a") as out:
            out.write(f"{who} {usage.ru_utime + usage.ru_stime!r}\\n")
'''


#: Loaded with ``-p`` by ``--profile``: every process of the run (the controller and each worker)
#: profiles itself with cProfile, on CPU time, from configure to unconfigure.
PROFILE_PLUGIN = '''"""Written by benchmarks/bench_scale.py: a CPU-time cProfile of each pytest process."""
import cProfile
import os
import time

_profile = cProfile.Profile(time.process_time)


def pytest_configure(config):
    _profile.enable()


def pytest_unconfigure(config):
    _profile.disable()
    who = config.workerinput["workerid"] if hasattr(config, "workerinput") else "controller"
    _profile.dump_stats(os.path.join(os.environ["BENCH_PROFILE_DIR"], f"{who}.prof"))
'''


def profile_files(base: Path, env: dict[str, str], files: int, target: Path) -> None:
    """One -n 2 run of the per-file tree with every process profiled (``python -m pstats`` reads
    the files): where the time of the controller and of each worker goes."""
    tree = base / "tree"
    data_tree(tree, files)
    write_pyproject(tree, SCAN)
    folder = base / "bench-plugins"
    folder.mkdir(exist_ok=True)
    (folder / "bench_profile.py").write_text(PROFILE_PLUGIN)
    target.mkdir(parents=True, exist_ok=True)
    run_env = dict(env)
    run_env["PYTHONPATH"] = os.pathsep.join([str(folder), env.get("PYTHONPATH", "")])
    run_env["BENCH_PROFILE_DIR"] = str(target.resolve())
    command = [*PYTEST, "--aisupply-only", "-p", "no:cacheprovider", "-n", "2", "-p", "bench_profile"]
    wall, cpu = measure(command, tree, run_env, ok=(0, 1))
    print(f"{files} per-file checks, -n 2, profiled: wall {wall:.2f} s, cpu {cpu:.2f} s")
    for name in sorted(os.listdir(target)):
        print(f"  {target / name}")


class ProcessCpu:
    """Runs a pytest command with PROCESS_CPU_PLUGIN and keeps each process's CPU per run."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        folder = base / "bench-plugins"
        folder.mkdir(exist_ok=True)
        (folder / "bench_process_cpu.py").write_text(PROCESS_CPU_PLUGIN)
        self.target = folder / "process-cpu.txt"
        self.env = dict(env)
        self.env["PYTHONPATH"] = os.pathsep.join([str(folder), env.get("PYTHONPATH", "")])
        self.env["BENCH_PROCESS_CPU"] = str(self.target)
        self.runs: dict[str, list[dict[str, float]]] = {}

    def measure(self, command: list[str], cwd: Path, key: str) -> tuple[float, float]:
        self.target.unlink(missing_ok=True)
        figures = measure([*command, "-p", "bench_process_cpu"], cwd, self.env, ok=(0, 1))
        processes = {}
        for entry in self.target.read_text().splitlines():
            who, cpu = entry.split()
            processes[who] = float(cpu)
        self.runs.setdefault(key, []).append(processes)
        return figures

    def median(self, key: str, who: str) -> float:
        return statistics.median(run.get(who, 0.0) for run in self.runs[key])

    def workers(self, key: str) -> list[float]:
        names = sorted({who for run in self.runs[key] for who in run if who != "controller"})
        return [self.median(key, who) for who in names]


#: Run in a fresh process by the peer section: with pytest and the collection modules imported as in a
#: run, the CPU of importing the readers and the rules that check artifacts, then of sniffing and
#: reading every file of the folder given with the built-in readers (the inventory's path).
PEER_IN_PROCESS = """
import sys, time
from pathlib import Path
import pytest, pytest_aisupply.inventory.core, pytest_aisupply.checks.collection, pytest_aisupply.rules
start = time.process_time()
import pytest_aisupply.formats
from pytest_aisupply.rules import no_pickle, safetensors, unsafe_format, integrity, license
imported = time.process_time()
from pytest_aisupply.formats import analyze_path, builtin_readers
from pytest_aisupply.formats.core import analyze_content, sniff_file
readers = builtin_readers()
for path in sorted(Path(sys.argv[1]).iterdir()):
    sniffed = sniff_file(path, readers)
    if sniffed.content is not None:
        analyze_content(sniffed.content, readers, None, sniffed.reader)
    else:
        analyze_path(path, readers)
print(imported - start, time.process_time() - imported)
"""


def peer_in_process(data: Path, env: dict[str, str], repeat: int) -> tuple[float, float]:
    """Median CPU seconds (import, read) of :data:`PEER_IN_PROCESS` over ``repeat`` processes."""
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", PEER_IN_PROCESS, str(data)], env=env, capture_output=True, text=True, check=True
        )
        imported, read = done.stdout.split()
        runs.append((float(imported), float(read)))
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def interleaved(
    repeat: int, runs: dict[str, tuple[list[str], Path, tuple[int, ...]]], env: dict[str, str]
) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) of each command in ``repeat`` rounds, each round running every command once in
    turn (after one warm-up round): a load that comes and goes hits all alike, and a figure over
    another is taken per round (:func:`paired`)."""
    for command, cwd, ok in runs.values():
        measure(command, cwd, env, ok=ok)
    samples: dict[str, list[tuple[float, float]]] = {key: [] for key in runs}
    for _ in range(repeat):
        for key, (command, cwd, ok) in runs.items():
            samples[key].append(measure(command, cwd, env, ok=ok))
    return samples


def paired(ours: list[tuple[float, float]], base: list[tuple[float, float]]) -> tuple[float, float]:
    """The median over rounds of (ours - base), wall and CPU."""
    return (
        statistics.median(a[0] - b[0] for a, b in zip(ours, base, strict=True)),
        statistics.median(a[1] - b[1] for a, b in zip(ours, base, strict=True)),
    )


def median_of(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in samples), statistics.median(r[1] for r in samples)


def best(repeat: int, run: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """The median wall and CPU of ``repeat`` runs (the machine may be loaded: read ratios)."""
    runs = [run() for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def environment(bytecode: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_SRC), env.get("PYTHONPATH", "")]))
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def drop_bytecode() -> None:
    """Without a bytecode cache means none at all: neither Python's nor pytest's rewritten pyc."""
    for cache in PACKAGE_SRC.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def write_pyproject(root: Path, extra: str = "") -> None:
    (root / "pyproject.toml").write_text(
        f'[tool.aisupply]\nartifacts = ["data"]\ncode = ["src"]\nlockfile = ""\n{extra}'
    )


def npy_bytes(values: int, start: int = 0) -> bytes:
    """A numeric .npy file (format 1.0), written without numpy: ``values`` integers from ``start``."""
    header = f"{{'descr': '<i8', 'fortran_order': False, 'shape': ({values},), }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return (
        b"\x93NUMPY\x01\x00"
        + struct.pack("<H", len(header))
        + header.encode()
        + struct.pack(f"<{values}q", *range(start, start + values))
    )


def data_tree(root: Path, files: int, per_folder: int = 250, pickles_every: int = 4) -> None:
    """``files`` small files in folders of ``per_folder``: numeric .npy, a pickle every
    ``pickles_every`` files (a data folder as ML repositories hold them)."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    # Every file's content differs (as in a real data folder); the .npy headers are alike.
    for index in range(files):
        folder = root / "data" / f"shard-{index // per_folder:04}"
        if index % per_folder == 0:
            folder.mkdir(parents=True, exist_ok=True)
        if index % pickles_every == 0:
            pickled = pickle.dumps({"id": index, "labels": list(range(index, index + 16))}, protocol=4)
            (folder / f"item-{index:06}.pkl").write_bytes(pickled)
        else:
            (folder / f"item-{index:06}.npy").write_bytes(npy_bytes(16, index))


def peer_set(root: Path, big_mib: int, small: int) -> None:
    """A big safetensors file and a big torch zip (sparse), and ``small`` small model files."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    models = root / "data"
    models.mkdir(parents=True, exist_ok=True)
    size = big_mib << 20
    header = b'{"w":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]}}' % (size // 4, size // 4 * 4)
    header += b" " * (-len(header) % 8)
    with open(models / "big.safetensors", "wb") as out:
        out.write(struct.pack("<Q", len(header)) + header)
        out.truncate(8 + len(header) + size // 4 * 4)
    state = pickle.dumps({"w": 1}, protocol=2)  # stands for torch's data.pkl: reads like one, no torch needed
    with zipfile.ZipFile(models / "big.pt", "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("big/data.pkl", state)
        archive.writestr("big/version", "3\n")
        with archive.open("big/data/0", "w", force_zip64=True) as member:
            block = bytes(1 << 20)
            for _ in range(big_mib):
                member.write(block)
    for index in range(small):
        if index % 2:
            (models / f"small-{index:03}.npy").write_bytes(npy_bytes(64))
        else:
            (models / f"small-{index:03}.pkl").write_bytes(pickle.dumps({"step": index}, protocol=4))


def heavy_tree(root: Path, files: int, kib: int, per_folder: int = 100) -> None:
    """``files`` artifacts of about ``kib`` KiB whose verdicts take real work: pickles of plain
    records (every opcode walked), torch-style zips holding such a pickle and a storage record, and
    numeric .npy files, in folders of ``per_folder`` (a model and data repository, not tiny files)."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    rows = max(1, kib * 1024 // 48)  # a pickled record is about 48 bytes
    for index in range(files):
        folder = root / "data" / f"part-{index // per_folder:03}"
        if index % per_folder == 0:
            folder.mkdir(parents=True, exist_ok=True)
        records = [{"id": index + row, "name": f"row-{row}", "score": row * 0.5} for row in range(rows)]
        kind = index % 3
        if kind == 0:
            (folder / f"rows-{index:05}.pkl").write_bytes(pickle.dumps(records, protocol=4))
        elif kind == 1:
            with zipfile.ZipFile(folder / f"ckpt-{index:05}.pt", "w", zipfile.ZIP_STORED) as archive:
                archive.writestr("ckpt/data.pkl", pickle.dumps(records, protocol=2))
                archive.writestr("ckpt/version", "3\n")
                archive.writestr("ckpt/data/0", bytes(kib * 1024))
        else:
            (folder / f"part-{index:05}.npy").write_bytes(npy_bytes(kib * 128, index))


def age(root: Path) -> None:
    """Date every file an hour back, as in a repository checked out earlier: the facts cache does
    not keep files modified within two seconds of a run (git's "racy" rule)."""
    old = time.time() - 3600
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))


def facts_cache_lines(
    label: str, command: list[str], cwd: Path, env: dict[str, str], repeat: int, theirs: tuple[float, float]
) -> None:
    """The run without the facts cache (no pytest cache), the cold run that writes it, and warm runs,
    each against picklescan's; the warm run's own summary line says what came from the cache."""
    off = best(repeat, lambda: measure([*command, "-p", "no:cacheprovider"], cwd, env, ok=(0, 1)))
    line(f"{label}, no facts cache", off, theirs, "picklescan -p data")
    cold = best(repeat, lambda: measure([*command, "--cache-clear"], cwd, env, ok=(0, 1)))
    line(f"{label}, cold (writes the cache)", cold, theirs, "picklescan -p data")
    warm = best(repeat, lambda: measure(command, cwd, env, ok=(0, 1)))
    line(f"{label}, warm facts cache", warm, theirs, "picklescan -p data")
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    said = [text for text in done.stdout.splitlines() if text.startswith("facts cache:")]
    print(f"{'':<58} warm run's summary: {said[0] if said else 'no facts cache line'}")


def trivial_suite(root: Path, tests: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "test_trivial.py").write_text(
        f"import pytest\n\n\n@pytest.mark.parametrize('i', range({tests}))\ndef test_x(i):\n    pass\n"
    )


def load() -> str:
    """The machine's load average (1, 5, 15 minutes): on a shared machine, read ratios, not times."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f}"


def line(label: str, ours: tuple[float, float], theirs: tuple[float, float], versus: str) -> None:
    wall, cpu = ours
    wall_b, cpu_b = theirs
    print(
        f"{label:<58} wall {wall:7.2f} s  cpu {cpu:7.2f} s | {versus:<28} wall {wall_b:7.2f} s  cpu {cpu_b:7.2f} s"
        f" | ratio wall {wall / wall_b:5.2f}x  cpu {cpu / cpu_b:5.2f}x"
    )


def split(label: str, processes: ProcessCpu, key: str, items: int, unit: str = "item") -> None:
    """A -n 2 run's CPU per process: the controller's (its start-up included), then each worker's."""
    controller = processes.median(key, "controller")
    workers = " + ".join(f"{cpu:.2f}" for cpu in processes.workers(key))
    print(
        f"{'':<58} {label}controller {controller:.2f} s CPU ({1e6 * controller / items:.0f} us per {unit}),"
        f" workers {workers} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="files in the per-file tree (default 10000)")
    parser.add_argument("--big-files", type=int, default=100_000, help="files in the large data folder")
    parser.add_argument("--peer-mib", type=int, default=1024, help="size of each big peer file in MiB")
    parser.add_argument("--peer-small", type=int, default=200, help="small model files in the peer set")
    parser.add_argument("--heavy-files", type=int, default=2_000, help="files in the tree of real verdicts")
    parser.add_argument("--heavy-kib", type=int, default=64, help="size of each file in that tree, in KiB")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (the median is shown)")
    parser.add_argument(
        "--skip", default="", help="comma-separated sections to skip: startup,files,heavy,folder,big,peer"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="instead of the figures: one profiled -n 2 run of the per-file tree, a cProfile file per process in DIR",
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    if shutil.which("picklescan") is None and not {"folder", "big", "peer"} <= skip:
        print("picklescan is not installed (pip install picklescan, the bench extra): its comparisons are skipped")
        skip |= {"folder", "big", "peer"}
    env = environment(bytecode=False)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; medians of {args.repeat} run(s); {load()}")

    if args.profile is not None:
        with tempfile.TemporaryDirectory(prefix="aisupply-scale-") as tmp:
            profile_files(Path(tmp), env, args.files, args.profile)
        return
    with tempfile.TemporaryDirectory(prefix="aisupply-scale-") as tmp:
        base = Path(tmp)
        if "startup" not in skip:
            empty = base / "empty"
            (empty / "data").mkdir(parents=True)
            (empty / "src").mkdir()
            write_pyproject(empty)
            collect = [*PYTEST, "--collect-only", "-p", "no:cacheprovider"]
            for bytecode in (False, True):
                run_env = environment(bytecode)

                def floor(run_env: dict[str, str] = run_env, bytecode: bool = bytecode) -> tuple[float, float]:
                    if not bytecode:
                        drop_bytecode()
                    return measure([*collect, "-p", "no:aisupply"], empty, run_env, ok=(0, 5))

                def configured(run_env: dict[str, str] = run_env, bytecode: bool = bytecode) -> tuple[float, float]:
                    if not bytecode:
                        drop_bytecode()
                    return measure(collect, empty, run_env, ok=(0, 5))

                if bytecode:  # warm both caches first
                    floor()
                    configured()
                ours, theirs = best(args.repeat, configured), best(args.repeat, floor)
                label = f"configured, nothing to check ({'with' if bytecode else 'without'} bytecode cache)"
                line(label, ours, theirs, "--collect-only -p no:aisupply")
                print(f"{'':<58} plugin over the floor: {1000 * (ours[1] - theirs[1]):.0f} ms CPU")

        if not {"files", "folder"} <= skip:
            tree = base / "tree"
            data_tree(tree, args.files)
            write_pyproject(tree, SCAN)
            count = sum(1 for _ in (tree / "data").rglob("*"))
            trivial = base / "trivial"
            trivial_suite(trivial, args.files)
            only = [*PYTEST, "--aisupply-only", "-p", "no:cacheprovider"]
            if "files" not in skip:
                processes = ProcessCpu(base, env)
                for workers in ("0", "2"):
                    ours = best(
                        args.repeat, partial(processes.measure, [*only, "-n", workers], tree, f"ours-{workers}")
                    )
                    plain = [*PYTEST, "-p", "no:aisupply", "-p", "no:cacheprovider", "-n", workers]
                    theirs = best(args.repeat, partial(processes.measure, plain, trivial, f"trivial-{workers}"))
                    line(
                        f"{args.files} per-file checks, -n {workers}",
                        ours,
                        theirs,
                        f"{args.files} trivial tests -n {workers}",
                    )
                    if workers == "2":
                        for side, key in (("checks", "ours-2"), ("trivial", "trivial-2")):
                            split(f"{side}: ", processes, key, args.files)
                    if workers == "0":
                        serial = ours
                    else:
                        print(f"{'':<58} -n 2 vs -n 0 (per-file checks): {serial[0] / ours[0]:.2f}x faster (wall)")
            if "folder" not in skip:
                age(tree)
                folder = [*PYTEST, "--aisupply-only", "--aisupply-granularity=folder"]
                picklescan = best(
                    args.repeat, lambda: measure(["picklescan", "-p", str(tree / "data")], tree, env, ok=(0, 1))
                )
                # pytest's own start-up in this project: collecting the empty src/ folder, not the data
                # folder (pytest would visit its 10,000 files, which --aisupply-only never does)
                startup = [*PYTEST, "--collect-only", "-p", "no:aisupply", "src"]
                collect = best(args.repeat, lambda: measure(startup, tree, env, ok=(0, 5)))
                files = count - len(list((tree / "data").iterdir()))
                label = f"{files}-file tree, one check per folder"
                facts_cache_lines(label, folder, tree, env, args.repeat, picklescan)
                warm = best(args.repeat, lambda: measure(folder, tree, env, ok=(0, 1)))
                over = (warm[0] - collect[0], warm[1] - collect[1])
                line("  the warm run's time over pytest's start-up (src/ only)", over, picklescan, "picklescan -p data")

        if "heavy" not in skip:
            heavy = base / "heavy"
            heavy_tree(heavy, args.heavy_files, args.heavy_kib)
            write_pyproject(heavy, SCAN)
            only = [*PYTEST, "--aisupply-only", "-p", "no:cacheprovider"]
            processes = ProcessCpu(base, env)
            for granularity in ("file", "folder"):
                command = [*only, f"--aisupply-granularity={granularity}"]
                serial = best(args.repeat, partial(processes.measure, [*command, "-n", "0"], heavy, f"{granularity}-0"))
                key = f"{granularity}-2"
                parallel = best(args.repeat, partial(processes.measure, [*command, "-n", "2"], heavy, key))
                line(
                    f"{args.heavy_files} files of {args.heavy_kib} KiB, per {granularity}, -n 2",
                    parallel,
                    serial,
                    "the same, -n 0",
                )
                print(f"{'':<58} -n 2 vs -n 0: {serial[0] / parallel[0]:.2f}x faster (wall); {load()}")
                split("", processes, key, args.heavy_files, "file")
                bound = (
                    max(
                        sum(processes.workers(key)) + processes.median(key, "controller"),
                        2 * max(processes.workers(key)),
                    )
                    / 2
                )
                one = processes.median(f"{granularity}-0", "controller")
                print(
                    f"{'':<58} on 2 idle cores -n 2 takes at least {bound:.2f} s (its CPU over 2 cores, or its"
                    f" busiest worker): at most {one / bound:.2f}x faster than -n 0's {one:.2f} s CPU"
                )

        if "big" not in skip:
            big = base / "big"
            data_tree(big, args.big_files, per_folder=1000)
            write_pyproject(big, SCAN)
            age(big)
            command = [*PYTEST, "--aisupply-only", "--aisupply-granularity=folder"]
            measure([*command, "-p", "no:cacheprovider"], big, env, ok=(0, 1))  # the OS has the tree in its cache
            theirs = best(args.repeat, lambda: measure(["picklescan", "-p", str(big / "data")], big, env, ok=(0, 1)))
            facts_cache_lines(f"{args.big_files}-file data folder, per folder", command, big, env, args.repeat, theirs)

        if "peer" not in skip:
            peers = base / "peers"
            peer_set(peers, args.peer_mib, args.peer_small)
            write_pyproject(peers)
            items = args.peer_small + 3  # one check per small file, the two big files' and the safetensors header's
            trivial = base / "peer-trivial"
            trivial_suite(trivial, items)
            plain = [*PYTEST, "-p", "no:cacheprovider"]
            runs = {
                # pytest's start-up in the project, collecting the empty src/ (not the data folder,
                # which --aisupply-only never walks)
                "floor": ([*plain, "--collect-only", "-p", "no:aisupply", "src"], peers, (0, 5)),
                "file": ([*plain, "--aisupply-only"], peers, (0, 1)),
                "folder": ([*plain, "--aisupply-only", "--aisupply-granularity=folder"], peers, (0, 1)),
                "trivial": ([*plain, "-p", "no:aisupply"], trivial, (0,)),
                "picklescan": (["picklescan", "-p", str(peers / "data")], peers, (0, 1)),
            }
            samples = interleaved(args.repeat, runs, env)
            floor_run, theirs = median_of(samples["floor"]), median_of(samples["picklescan"])
            for key, label in (
                ("file", f"one check per file ({items} items)"),
                ("folder", "one check per folder"),
                ("trivial", f"{items} trivial tests (pytest's per-item floor)"),
            ):
                line(
                    f"peer set, {label}, over collect-only",
                    paired(samples[key], samples["floor"]),
                    theirs,
                    "picklescan whole process",
                )
            print(
                f"{'':<58} peer set: {args.peer_mib} MiB x2 + {args.peer_small} small files; floor (--collect-only"
                f" -p no:aisupply src) wall {floor_run[0]:.2f} s cpu {floor_run[1]:.2f} s;"
                f" paired medians of {args.repeat} interleaved rounds"
            )
            imported, read = peer_in_process(peers / "data", env, args.repeat)
            print(
                f"{'':<58} in one process: importing the readers and the artifact rules {1000 * imported:.1f} ms CPU,"
                f" sniffing and reading the {args.peer_small + 2} files {1000 * read:.1f} ms CPU"
            )


if __name__ == "__main__":
    main()
    print(f"done; {load()}")
