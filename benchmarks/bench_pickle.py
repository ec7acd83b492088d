"""Benchmarks for ``pickle = "scan"``: the static pickle walker on large files, and the same files
through picklescan, modelscan and modelaudit for comparison.

Run from the repository root, with the environment the plugin is installed in:

    python benchmarks/bench_pickle.py [--workdir DIR] [--keep] [--peers VENV ...]

It builds, in a fresh temporary directory (under DIR, default the system temporary directory):

1. a 1 GiB PyTorch zip checkpoint (``torch.save`` of four 256 MiB float32 tensors);
2. a 100 MiB raw pickle of numpy arrays (``pickle.dumps`` protocol 4 of 100 arrays of 1 MiB);
3. three 100 MiB raw pickles of small objects (protocol 4), where every opcode is a value the
   walker must step over: 1.6 million short strings in a list (about 30 bytes per opcode), a
   tokenizer-like dict of 5.8 million ``str -> int`` entries (about 6 bytes per opcode) and 2.5
   million records ``(int, str, float, None, bool)`` (about 4 bytes per opcode);
4. the malicious corpus of the test suite (``tests/helpers/malicious.py``), each sample as a
   ``.pkl`` file (the extension the peer scanners scan), plus four benign files.

Each large file is scanned by the plugin's engine (``pickle = "scan"``, default allowlist) in a
fresh subprocess, which reports the wall time, ``ArtifactFacts.bytes_read``, the verdict and the
peak resident memory above the interpreter (``VmHWM`` after the scan minus ``VmRSS`` after the
imports, from ``/proc/self/status``; ``ru_maxrss`` would include the parent's peak, which Linux
carries across ``exec``), and, in a second subprocess, the ``tracemalloc`` peak of the scan; next to
it, ``sha256sum`` and ``cat`` of the same file, and the ratios. Times are the median of 5 runs (warm
page cache).

picklescan, modelscan and modelaudit are not dependencies of the project: ``--peers VENV`` names a
virtual environment that has some of them, and may be given more than once; each tool is taken from
the first of those environments whose ``bin/`` has it, and its version is read from that environment.
modelaudit pins its own numpy, so it gets an environment of its own; its core install needs no extra
for pickle and PyTorch zip files (the ``pytorch`` extra only adds torch, for its weight-distribution
scanner). For instance:

    python3 -m venv /tmp/peers && /tmp/peers/bin/pip install picklescan modelscan
    python3 -m venv /tmp/peers-modelaudit && /tmp/peers-modelaudit/bin/pip install modelaudit
    python benchmarks/bench_pickle.py --peers /tmp/peers --peers /tmp/peers-modelaudit

A tool found in none of them is skipped, and the script says so. Each tool is run on every file,
once, in its own process with a 600 s timeout (reported as ``timeout``). picklescan's and
modelscan's exit codes are their verdicts (0 clean, 1 flagged, 2 error, 3 skipped). modelaudit runs
as ``modelaudit scan --no-cache --format json FILE`` with ``PROMPTFOO_DISABLE_TELEMETRY=1``,
``NO_ANALYTICS=1`` and ``HF_HUB_OFFLINE=1``, and gives two verdicts from that one run: its exit code
(0 clean, 1 any WARNING or CRITICAL issue, 2 error or incomplete coverage), and its CRITICAL issues
only (``flagged`` if the JSON report has one; otherwise ``error`` on exit 2, ``warnings only`` on
exit 1, ``clean`` on exit 0), since its exit code is 1 for the warnings it gives ordinary torch and
numpy pickles.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

MiB, GiB = 1 << 20, 1 << 30
REPS = 5

CHILD = r"""
import json, sys, time, tracemalloc
from pathlib import Path
from pytest_aisupply.settings.config import Settings
from pytest_aisupply.verdicts.engine import Engine
from pytest_aisupply.formats import builtin_readers
from pytest_aisupply.rules import builtin_rules
from pytest_aisupply.verdicts.render import render_verdict

path = Path(sys.argv[1]); traced = sys.argv[2] == "traced"
def status(key):  # /proc/self/status, in KiB (ru_maxrss would include the parent's, inherited by exec)
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])

rules = [rule for rule in builtin_rules() if rule.id == "no-pickle"]
before = status("VmRSS")
if traced:
    tracemalloc.start()
started = time.perf_counter()
engine = Engine(Settings(root=path.parent, artifacts=(path.name,), pickle="scan"), rules, builtin_readers())
[(rule, [subject])] = engine.subjects()
verdict = engine.evaluate(rule.id, subject)
elapsed = time.perf_counter() - started
peak = tracemalloc.get_traced_memory()[1] if traced else None
after = status("VmHWM")
facts = engine.inventory.facts(engine.inventory.artifacts[0])
print(json.dumps({
    "seconds": elapsed, "bytes_read": facts.bytes_read, "status": verdict.status, "format": facts.format,
    "rss_before_kib": before, "rss_after_kib": after, "traced_peak": peak,
    "opcodes": sum(fact.stream.opcodes for fact in facts.pickles),
    "report": render_verdict(verdict).splitlines()[:3],
}))
"""


def child_env(python_source: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONWARNINGS", "AISUPPLY_PURE_PYTHON"):
        env.pop(key, None)
    if python_source:
        env["AISUPPLY_PURE_PYTHON"] = "1"  # the walker's .py source, even where it was compiled
    return env


def walker_build() -> str:
    """How the installed pickle walker was built: compiled by mypyc, or pure Python."""
    done = subprocess.run(
        [sys.executable, "-c", "import pytest_aisupply.formats.pickle as m; print(m.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(),
    )
    return "pure Python" if done.stdout.strip().endswith(".py") else "compiled by mypyc"


def scan(path: Path, traced: bool = False, python_source: bool = False) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), "traced" if traced else "plain"],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(python_source),
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def build_torch(path: Path) -> dict[str, int]:
    import torch

    tensors = {f"layer{index}.weight": torch.zeros(64 * MiB, dtype=torch.float32) for index in range(4)}
    torch.save(tensors, path)
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return {info.filename: info.file_size for info in archive.infolist()}


def build_array_pickle(path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    arrays = {f"w{index}": rng.random(MiB // 8) for index in range(100)}
    with open(path, "wb") as handle:
        pickle.dump(arrays, handle, protocol=4)


def build_object_pickle(path: Path) -> None:
    strings = [f"token-{index:010d}-" + "x" * 40 for index in range(1_600_000)]
    with open(path, "wb") as handle:
        pickle.dump(strings, handle, protocol=4)


def build_dict_pickle(path: Path) -> None:
    vocab = {f"tok{index}": index for index in range(5_800_000)}
    with open(path, "wb") as handle:
        pickle.dump(vocab, handle, protocol=4)


def build_records_pickle(path: Path) -> None:
    records = [(index, f"name{index}", index * 0.5, None, index % 2 == 0) for index in range(2_500_000)]
    with open(path, "wb") as handle:
        pickle.dump(records, handle, protocol=4)


def build_corpus(folder: Path) -> dict[str, str]:
    """The test suite's malicious samples and a few benign files: name -> expected verdict."""
    import collections

    import numpy as np
    import torch

    from helpers.malicious import corpus

    folder.mkdir()
    expected = {}
    for sample in corpus(folder / "MARKER", with_large=False):
        (folder / f"{sample.name}.pkl").write_bytes(sample.data)
        expected[f"{sample.name}.pkl"] = "malicious"
    benign = {
        "benign-state-dict.pt": lambda p: torch.save(torch.nn.Linear(4, 2).state_dict(), p),
        "benign-whole-model.pt": lambda p: torch.save(torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.ReLU()), p),
        "benign-arrays.pkl": lambda p: p.write_bytes(pickle.dumps({"a": np.arange(5.0)}, protocol=5)),
        "benign-ordered-dict.pkl": lambda p: p.write_bytes(pickle.dumps(collections.OrderedDict(a=1), protocol=2)),
    }
    for name, write in benign.items():
        write(folder / name)
        expected[name] = "benign"
    return expected


def our_corpus_verdicts(folder: Path) -> tuple[dict[str, bool], float]:
    from pytest_aisupply.formats import builtin_readers
    from pytest_aisupply.rules import builtin_rules
    from pytest_aisupply.settings.config import Settings
    from pytest_aisupply.verdicts.engine import Engine

    rules = [rule for rule in builtin_rules() if rule.id == "no-pickle"]
    started = time.perf_counter()
    engine = Engine(Settings(root=folder, pickle="scan"), rules, builtin_readers())
    [(rule, subjects)] = engine.subjects()
    flagged = {subject.id: engine.evaluate(rule.id, subject).status == "failed" for subject in subjects}
    return flagged, time.perf_counter() - started


PEER_TIMEOUT = 600
MODELAUDIT_ENV = {"PROMPTFOO_DISABLE_TELEMETRY": "1", "NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1"}


def peer(tool: Path, path: Path) -> tuple[str, float]:
    """Run picklescan or modelscan on one file: its verdict (from its exit code) and time."""
    args = [str(tool), "-p", str(path)]
    started = time.perf_counter()
    try:
        done = subprocess.run(args, capture_output=True, text=True, cwd=path.parent, timeout=PEER_TIMEOUT)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - started
    elapsed = time.perf_counter() - started
    meaning = {0: "clean", 1: "flagged", 2: "error", 3: "skipped"}.get(done.returncode, f"exit {done.returncode}")
    return meaning, elapsed


def modelaudit(tool: Path, path: Path) -> tuple[str, str, float]:
    """Run modelaudit on one file: its exit-code verdict, its CRITICAL-issues verdict, and time."""
    args = [str(tool), "scan", "--no-cache", "--format", "json", str(path)]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            cwd=path.parent,
            timeout=PEER_TIMEOUT,
            env={**os.environ, **MODELAUDIT_ENV},
        )
    except subprocess.TimeoutExpired:
        return "timeout", "timeout", time.perf_counter() - started
    elapsed = time.perf_counter() - started
    by_exit = {0: "clean", 1: "flagged", 2: "error"}.get(done.returncode, f"exit {done.returncode}")
    try:
        issues = json.loads(done.stdout)["issues"]
        critical = any(issue.get("severity") == "critical" for issue in issues)
    except (ValueError, KeyError, TypeError, AttributeError):
        return by_exit, f"no JSON report ({by_exit})", elapsed
    if critical:
        return by_exit, "flagged", elapsed
    return by_exit, {0: "clean", 1: "warnings only"}.get(done.returncode, by_exit), elapsed


def run_peer(name: str, tool: Path, path: Path) -> tuple[dict[str, str], float]:
    """One run of a peer tool on one file: its verdict under each column it fills, and the time."""
    if name == "modelaudit":
        by_exit, by_critical, elapsed = modelaudit(tool, path)
        return {"modelaudit (exit code)": by_exit, "modelaudit (CRITICAL only)": by_critical}, elapsed
    verdict, elapsed = peer(tool, path)
    return {name: verdict}, elapsed


def tool_seconds(command: str, path: Path) -> float:
    """Median wall time of ``command FILE > /dev/null`` (``sha256sum`` or ``cat``) over REPS runs."""
    times = []
    for _ in range(REPS):
        started = time.perf_counter()
        subprocess.run([command, str(path)], stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def fmt_bytes(count: float) -> str:
    return f"{count / MiB:,.1f} MiB" if count >= MiB else f"{count:,.0f} B"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--peers",
        type=Path,
        action="append",
        default=[],
        help="a venv with some of picklescan, modelscan and modelaudit (may be given more than once)",
    )
    options = parser.parse_args()

    import numpy
    import torch

    work = Path(tempfile.mkdtemp(prefix="aisupply-bench-pickle-", dir=options.workdir))
    started = time.monotonic()
    try:
        torch_path = work / "checkpoint-1GiB.pt"
        members = build_torch(torch_path)
        arrays_path = work / "arrays-100MiB.pkl"
        build_array_pickle(arrays_path)
        objects_path = work / "objects-100MiB.pkl"
        build_object_pickle(objects_path)
        dict_path = work / "dict-100MiB.pkl"
        build_dict_pickle(dict_path)
        records_path = work / "records-100MiB.pkl"
        build_records_pickle(records_path)
        large = (torch_path, arrays_path, objects_path, dict_path, records_path)
        corpus_dir = work / "corpus"
        expected = build_corpus(corpus_dir)
        os.sync()

        print("## pytest-aisupply pickle-scan benchmarks\n")
        print(f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
        print(f"- machine: `uname -m` {platform.machine()}, nproc {os.cpu_count()}")
        print(f"- versions: Python {platform.python_version()}, torch {torch.__version__}, numpy {numpy.__version__}")
        build = walker_build()
        print(f"- pickle walker: {build} (setup.py; `AISUPPLY_PURE_PYTHON=1` runs its .py source)")
        print("- page cache warm (files just written and synced); plugin times are medians of 5 fresh subprocesses\n")

        rows = []
        results = {}
        for path in large:
            runs = [scan(path) for _ in range(REPS)]
            traced = scan(path, traced=True)
            seconds = statistics.median(run["seconds"] for run in runs)
            rss = statistics.median((run["rss_after_kib"] - run["rss_before_kib"]) * 1024 for run in runs)
            size = path.stat().st_size
            first = runs[0]
            results[path.name] = (seconds, first, rss, traced)
            sha256sum, cat = tool_seconds("sha256sum", path), tool_seconds("cat", path)
            rows.append(
                f"| {path.name} | {fmt_bytes(size)} | {seconds * 1000:,.1f} ms | {size / seconds / 1e6:,.0f} MB/s | "
                f"{sha256sum * 1000:,.1f} ms | {cat * 1000:,.1f} ms | "
                f"{seconds / sha256sum:.3g}x | {seconds / cat:.3g}x | "
                f"{first['bytes_read']:,} B | {fmt_bytes(rss)} | {fmt_bytes(traced['traced_peak'])} | "
                f"{first['format']}: {first['status']} |"
            )
        print(
            "| File | Size | Scan wall time | Throughput (size / time) | `sha256sum` | `cat > /dev/null` "
            "| Scan / sha256sum | Scan / cat | Bytes read | Peak RSS above the interpreter | tracemalloc peak "
            "| Verdict |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        print("\n".join(rows))

        torch_seconds, torch_run, _, _ = results[torch_path.name]
        pickle_member = next(size for name, size in members.items() if name.endswith("data.pkl"))
        arrays_seconds, _, arrays_rss, _ = results[arrays_path.name]
        print("\n| Target | Figure | Result |")
        print("| --- | --- | --- |")
        print(f"| 1 GiB PyTorch zip: well under 1 s | {torch_seconds * 1000:,.1f} ms | {met(torch_seconds < 0.5)} |")
        print(
            f"| 1 GiB PyTorch zip: reads the pickle member only (data.pkl is {pickle_member:,} B; the rest is "
            f"zip directory, local headers and the first bytes of each storage) | {torch_run['bytes_read']:,} B read | "
            f"{met(torch_run['bytes_read'] < 256 * 1024)} |"
        )
        arrays_rate = arrays_path.stat().st_size / arrays_seconds / 1e6
        print(
            f"| 100 MiB raw pickle (arrays): at least 100 MB/s | {arrays_rate:,.0f} MB/s | {met(arrays_rate >= 100)} |"
        )
        print(
            "| 100 MiB raw pickle (arrays): peak memory under 64 MiB above the interpreter "
            f"| {fmt_bytes(arrays_rss)} | {met(arrays_rss < 64 * MiB)} |"
        )
        for path, what in (
            (objects_path, "1.6 M short strings"),
            (dict_path, "5.8 M-entry str -> int dict"),
            (records_path, "2.5 M small tuples"),
        ):
            small_seconds, small_run, small_rss, _ = results[path.name]
            rate = path.stat().st_size / small_seconds / 1e6
            per_opcode = small_seconds / small_run["opcodes"] * 1e9
            print(
                f"| 100 MiB raw pickle ({what}, {path.stat().st_size / small_run['opcodes']:.1f} B per opcode, "
                f"{per_opcode:,.0f} ns per opcode): at least 100 MB/s | {rate:,.0f} MB/s | {met(rate >= 100)} |"
            )
            print(
                f"| 100 MiB raw pickle ({what}): peak memory under 64 MiB | {fmt_bytes(small_rss)} | "
                f"{met(small_rss < 64 * MiB)} |"
            )

        if build != "pure Python":
            print(
                "\nThe same scans with the walker's .py source (`AISUPPLY_PURE_PYTHON=1`, for installs without a C "
                "compiler):\n"
            )
            print("| File | Compiled walker | Python source | Compiled speed-up | Verdict (Python source) |")
            print("| --- | --- | --- | --- | --- |")
            for path in large:
                seconds, _, _, _ = results[path.name]
                pure_runs = [scan(path, python_source=True) for _ in range(REPS)]
                pure = statistics.median(run["seconds"] for run in pure_runs)
                size = path.stat().st_size
                print(
                    f"| {path.name} | {seconds * 1000:,.1f} ms, {size / seconds / 1e6:,.0f} MB/s "
                    f"| {pure * 1000:,.1f} ms, {size / pure / 1e6:,.0f} MB/s | {pure / seconds:.1f}x "
                    f"| {pure_runs[0]['status']} |"
                )

        ours, ours_seconds = our_corpus_verdicts(corpus_dir)
        tools: dict[str, Path] = {}
        venvs: dict[str, Path] = {}
        if not options.peers:
            print("\npicklescan / modelscan / modelaudit: skipped (no --peers VENV given)")
        else:
            for name in ("picklescan", "modelscan", "modelaudit"):
                venv = next((venv for venv in options.peers if (venv / "bin" / name).exists()), None)
                if venv is not None:
                    tools[name], venvs[name] = venv / "bin" / name, venv
                else:
                    print(f"\n{name}: not installed in {', '.join(map(str, options.peers))}; skipped")
        if tools:
            versions = {}
            for name in tools:
                done = subprocess.run(
                    [
                        str(venvs[name] / "bin" / "python"),
                        "-c",
                        f"import importlib.metadata as m; print(m.version({name!r}))",
                    ],
                    capture_output=True,
                    text=True,
                )
                versions[name] = done.stdout.strip() or "?"
            names = list(tools)
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            print(f"\n### The same files through {listed}\n")
            print("Versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()) + "\n")
            if "modelaudit" in tools:
                print(
                    "modelaudit: `modelaudit scan --no-cache --format json FILE`, telemetry off; one run per file "
                    "gives both columns: its exit code (1 for any WARNING or CRITICAL issue) and its CRITICAL "
                    "issues only (`warnings only`: exit 1 without a CRITICAL issue).\n"
                )
            columns = [
                column
                for name in tools
                for column in (
                    ("modelaudit (exit code)", "modelaudit (CRITICAL only)") if name == "modelaudit" else (name,)
                )
            ]
            print("| File | pytest-aisupply (scan) | " + " | ".join(columns) + " |")
            print("| --- | --- | " + " | ".join("---" for _ in columns) + " |")
            for path in large:
                seconds, run, _, _ = results[path.name]
                cells = [f"{run['status']}, {seconds * 1000:,.1f} ms"]
                for name, tool in tools.items():
                    per_column, elapsed = run_peer(name, tool, path)
                    cells.extend(f"{verdict}, {elapsed * 1000:,.1f} ms" for verdict in per_column.values())
                print(f"| {path.name} | " + " | ".join(cells) + " |")

            print("\nCorpus: the test suite's malicious samples (each as `<name>.pkl`) and 4 benign files.\n")
            tally: dict[str, dict[str, int]] = {}
            misses: dict[str, list[str]] = {}
            times: dict[str, float] = {"pytest-aisupply": ours_seconds}
            verdicts: dict[str, dict[str, str]] = {
                "pytest-aisupply": {n: "flagged" if f else "clean" for n, f in ours.items()}
            }
            for name, tool in tools.items():
                for file in sorted(expected):
                    per_column, elapsed = run_peer(name, tool, corpus_dir / file)
                    for column, verdict in per_column.items():
                        verdicts.setdefault(column, {})[file] = verdict
                        times[column] = times.get(column, 0.0) + elapsed
            for name, per_file in verdicts.items():
                counts = {"malicious flagged": 0, "malicious not flagged": 0, "benign flagged": 0, "benign clean": 0}
                for file, kind in expected.items():
                    flagged = per_file.get(file) == "flagged"
                    if kind == "malicious":
                        counts["malicious flagged" if flagged else "malicious not flagged"] += 1
                        if not flagged:
                            misses.setdefault(name, []).append(f"{file[:-4]} ({per_file.get(file)})")
                    else:
                        counts["benign flagged" if flagged else "benign clean"] += 1
                tally[name] = counts
            malicious = sum(1 for kind in expected.values() if kind == "malicious")
            print(
                f"| Tool | Malicious flagged (of {malicious}) | Benign flagged (of {len(expected) - malicious}) "
                "| Agreement with pytest-aisupply | Total time |"
            )
            print("| --- | --- | --- | --- | --- |")
            for name, counts in tally.items():
                agree = sum(
                    1
                    for file in expected
                    if (verdicts[name].get(file) == "flagged") == (verdicts["pytest-aisupply"][file] == "flagged")
                )
                how = "in-process, all files" if name == "pytest-aisupply" else "one process per file"
                if name == "modelaudit (CRITICAL only)":
                    how += ", the same runs"
                print(
                    f"| {name} | {counts['malicious flagged']} | {counts['benign flagged']} "
                    f"| {agree}/{len(expected)} | {times[name]:,.2f} s ({how}) |"
                )
            for name, missed in misses.items():
                print(f"\n{name} did not flag: " + ", ".join(missed))
        print(f"\nTotal benchmark time: {time.monotonic() - started:,.0f} s")
    finally:
        if options.keep:
            print(f"\nkept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
