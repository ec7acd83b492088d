"""Benchmarks for pytest-aisupply's artifact reading, discovery and start-up cost.

Run from the repository root, with the environment the plugin is installed in:

    python benchmarks/bench_artifacts.py [--workdir DIR] [--keep]

The script builds its corpus in a fresh temporary directory (under DIR, default the system
temporary directory, e.g. /tmp), measures, prints Markdown tables, and deletes the corpus at the
end unless --keep is given. It needs about 2.1 GiB of free disk space and takes about a minute on 2 cores.
Only the standard library plus numpy, safetensors and torch are used; ``sha256sum``, ``cat``,
``uname`` and ``nproc`` (coreutils) are run as reference points on the same files.

What it measures:

1. The verdict ``analyze_path(path, builtin_readers())`` on a 10 MiB and a 1 GiB safetensors file:
   wall time, ``ArtifactFacts.bytes_read``, the ``/proc/self/io`` rchar delta, and
   ``sha256sum`` / ``cat > /dev/null`` on the same file.
2. The same on a 10 MiB and a 1 GiB PyTorch zip checkpoint (``torch.save`` of 4 float32 tensors).
3. A tree of 10,000 small files: discovery + verdicts in-process (``Inventory(...).artifacts``
   and ``.facts()`` of each), and a full ``pytest --aisupply-only`` run in a subprocess.
4. ``pytest --collect-only -q`` in a small project without ``[tool.aisupply]`` with and without
   ``-p no:aisupply`` (interleaved repetitions, medians), and ``python -X importtime`` of
   ``pytest_aisupply.plugin``; both with a bytecode cache (kept in the work dir through
   PYTHONPYCACHEPREFIX, so nothing is written beside the sources) and without one
   (PYTHONDONTWRITEBYTECODE=1, where an editable install compiles the plugin on every start).

Every figure is from the warm page cache: the files have just been written (and synced), and
each timed command is run several times, the median being reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import pickle
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
CHUNK = 16 * MiB
REPS_VERDICT = 21  # repetitions of each in-process verdict (sub-millisecond, so many)
REPS_LARGE = 3  # sha256sum / cat repetitions on 1 GiB files (sha256sum of 1 GiB takes seconds)
REPS_SMALL = 5  # sha256sum / cat repetitions on 10 MiB files
REPS_TREE = 3  # repetitions of the in-process discovery + verdicts over 10,000 files
REPS_STARTUP = 20  # interleaved pytest --collect-only runs, each of the 4 variants
REPS_IMPORTTIME = 5
N_SMALL_FILES = 10_000
PYTHON = sys.executable
NA = "-"


# -- helpers --------------------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """Environment for the pytest subprocesses: no user options or forced plugins leaking in."""
    env = dict(os.environ)
    for key in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTHONWARNINGS"):
        env.pop(key, None)
    return env


def rchar() -> int | None:
    try:
        with open("/proc/self/io", "rb") as handle:
            text = handle.read().decode()
    except OSError:
        return None
    match = re.search(r"^rchar:\s*(\d+)", text, re.M)
    return int(match.group(1)) if match else None


def rchar_overhead() -> int:
    """rchar added by reading /proc/self/io itself (subtracted from every delta)."""
    samples = []
    for _ in range(5):
        first, second = rchar(), rchar()
        if first is None or second is None:
            return 0
        samples.append(second - first)
    return min(samples)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run_cmd(argv: Sequence[str], **kwargs: Any) -> float:
    """Wall time of a subprocess whose output goes to /dev/null; raises if it fails."""
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, **kwargs)
    return time.perf_counter() - start


def median_time(fn: Callable[[], float], reps: int) -> float:
    return statistics.median(fn() for _ in range(reps))


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return NA
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 0.001:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1000:.3f} ms"


def fmt_bytes(n: int | None, total: int | None = None) -> str:
    if n is None:
        return NA
    text = f"{n:,} B"
    if total:
        text += f" ({100 * n / total:.3g}%)"
    return text


def fmt_ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or not denominator:
        return NA
    ratio = numerator / denominator
    return np.format_float_positional(ratio, precision=3, unique=False, fractional=False, trim="-") + "x"


def fmt_size(n: int) -> str:
    if n >= GiB:
        return f"{n / GiB:.3g} GiB"
    if n >= MiB:
        return f"{n / MiB:.3g} MiB"
    return f"{n:,} B"


def fsync_path(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def tool_output(argv: Sequence[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


# -- corpus -----------------------------------------------------------------------------------


def write_safetensors_zeros(path: Path, tensors: int, shape: tuple[int, ...]) -> None:
    """A valid F32 safetensors file of zeros, written in chunks (never held in memory)."""
    nbytes = 4 * int(np.prod(shape))
    header: dict[str, Any] = {"__metadata__": {"format": "np"}}
    for index in range(tensors):
        header[f"layer{index}.weight"] = {
            "dtype": "F32",
            "shape": list(shape),
            "data_offsets": [index * nbytes, (index + 1) * nbytes],
        }
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)  # pad to 8-byte alignment, as safetensors does
    zeros = bytes(CHUNK)
    remaining = tensors * nbytes
    with open(path, "wb") as handle:
        handle.write(len(text).to_bytes(8, "little"))
        handle.write(text)
        while remaining:
            step = min(CHUNK, remaining)
            handle.write(zeros if step == CHUNK else zeros[:step])
            remaining -= step
        handle.flush()
        os.fsync(handle.fileno())


def check_safetensors(path: Path, tensors: int, shape: tuple[int, ...]) -> None:
    """Open with the safetensors library itself (header only) to prove the file is valid."""
    with safetensors.safe_open(str(path), framework="numpy") as handle:
        keys = list(handle.keys())
        assert len(keys) == tensors, keys
        assert tuple(handle.get_slice(keys[0]).get_shape()) == shape


def write_torch_checkpoint(path: Path, scratch: Path, tensors: int, numel: int) -> None:
    """torch.save of ``tensors`` float32 tensors of ``numel`` zeros each. The tensors are backed by
    a private read-only mapping of a sparse scratch file, so no anonymous memory of the checkpoint's
    size is allocated; torch.save writes real bytes."""
    import torch

    with open(scratch, "wb") as handle:
        handle.truncate(4 * numel)
    state = {
        f"layer{index}.weight": torch.from_file(str(scratch), shared=False, size=numel, dtype=torch.float32)
        for index in range(tensors)
    }
    torch.save(state, path)
    del state
    scratch.unlink()
    fsync_path(path)


def torch_tiny_bytes() -> bytes:
    import torch

    buffer = io.BytesIO()
    state = {"linear.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4), "linear.bias": torch.zeros(3)}
    torch.save(state, buffer)
    return buffer.getvalue()


def build_small_tree(root: Path, count: int) -> Counter[str]:
    """``count`` small files in nested folders: ~70% text/JSON/CSV, ~10% .npy, ~10% safetensors,
    ~5% pickles, ~5% torch.save files (copies of one tiny checkpoint)."""
    torch_blob = torch_tiny_bytes()
    npy_blobs = []
    for variant in range(8):
        buffer = io.BytesIO()
        np.save(buffer, np.arange(16 * (variant + 1), dtype=[np.float32, np.int64][variant % 2]).reshape(-1, 4))
        npy_blobs.append(buffer.getvalue())
    st_blobs = [
        safetensors.numpy.save({"w": np.full((variant + 2, 8), variant, np.float32), "b": np.zeros(8, np.float16)})
        for variant in range(8)
    ]
    pickle_blobs = [
        pickle.dumps({"labels": ["cat", "dog"], "threshold": 0.5, "n": 3}, protocol=4),
        pickle.dumps(OrderedDict(a=1, b=[1.0, 2.0], c="x"), protocol=2),
        pickle.dumps([("vocab", list(range(50)))], protocol=5),
    ]
    kinds: Counter[str] = Counter()
    made_dirs: set[Path] = set()
    for i in range(count):
        folder = root / "corpus" / f"d{i % 10}" / f"e{(i // 10) % 10}" / f"f{(i // 100) % 5}"
        if folder not in made_dirs:
            folder.mkdir(parents=True, exist_ok=True)
            made_dirs.add(folder)
        slot = i % 20  # 14 text, 2 npy, 2 safetensors, 1 pickle, 1 torch per 20 files
        if slot < 14:
            kind = ("txt", "json", "csv")[slot % 3]
            if kind == "txt":
                data = (f"note {i}: lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" * (1 + i % 7)).encode()
            elif kind == "json":
                record = {"id": i, "name": f"item-{i}", "tags": ["a", "b", "c"][: 1 + i % 3], "score": i / 7}
                data = json.dumps(record).encode()
            else:
                data = ("id,name,value\n" + "".join(f"{j},row{j},{j * 0.5}\n" for j in range(1 + i % 20))).encode()
            name = f"file{i}.{kind}"
        elif slot < 16:
            kind, data, name = "npy", npy_blobs[i % len(npy_blobs)], f"array{i}.npy"
        elif slot < 18:
            kind, data, name = "safetensors", st_blobs[i % len(st_blobs)], f"weights{i}.safetensors"
        elif slot == 18:
            kind, data, name = "pickle", pickle_blobs[i % len(pickle_blobs)], f"model{i}.pkl"
        else:
            kind, data, name = "torch", torch_blob, f"checkpoint{i}.pt"
        (folder / name).write_bytes(data)
        kinds[kind] += 1
    return kinds


# -- measurements -------------------------------------------------------------------------------


def measure_large(path: Path, reps: int, overhead: int) -> dict[str, Any]:
    from pytest_aisupply.formats import analyze_path, builtin_readers

    size = path.stat().st_size
    run_cmd(["cat", str(path)])  # warm the page cache uniformly
    times = []
    facts = None
    delta = None
    error = None
    for _ in range(REPS_VERDICT):
        before = rchar()
        try:
            elapsed, facts = timed(lambda: analyze_path(path, builtin_readers()))
        except Exception as exc:  # the benchmark reports a raising analyze_path instead of dying
            error = f"{type(exc).__name__}: {exc}"
            break
        after = rchar()
        times.append(elapsed)
        if before is not None and after is not None:
            delta = after - before - overhead
    sha = median_time(lambda: run_cmd(["sha256sum", str(path)]), reps)
    cat = median_time(lambda: run_cmd(["cat", str(path)]), reps)
    return {
        "size": size,
        "time": statistics.median(times) if times else None,
        "facts": facts,
        "rchar": delta,
        "sha256sum": sha,
        "cat": cat,
        "error": error,
        "reps": reps,
    }


def verdict_text(result: dict[str, Any]) -> str:
    if result["error"]:
        return f"**raised** {result['error']}"
    facts = result["facts"]
    return f"{facts.format}, {len(facts.pickles)} pickle(s), {len(facts.problems)} problem(s)"


def measure_tree(root: Path, reps: int, overhead: int) -> dict[str, Any]:
    from pytest_aisupply.formats import builtin_readers
    from pytest_aisupply.inventory.core import Inventory
    from pytest_aisupply.settings.config import Settings

    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    total_size = sum((root / f).stat().st_size for f in files)

    def discovery_and_verdicts() -> tuple[Any, list[Any]]:
        inventory = Inventory(Settings(root=root), builtin_readers())
        artifacts = inventory.artifacts
        return artifacts, [inventory.facts(artifact) for artifact in artifacts]

    batches = [files[i : i + 2000] for i in range(0, len(files), 2000)]

    def over_files(tool: str) -> float:
        start = time.perf_counter()
        for batch in batches:
            subprocess.run([tool, *batch], cwd=root, stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - start

    over_files("cat")  # warm
    times = []
    delta = None
    artifacts: list[Any] = []
    facts: list[Any] = []
    error = None
    for _ in range(reps):
        before = rchar()
        try:
            elapsed, (artifacts, facts) = timed(discovery_and_verdicts)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            break
        after = rchar()
        times.append(elapsed)
        if before is not None and after is not None:
            delta = after - before - overhead
    sha = median_time(lambda: over_files("sha256sum"), reps)
    cat = median_time(lambda: over_files("cat"), reps)
    formats = Counter(f.format for f in facts)
    return {
        "files": len(files),
        "size": total_size,
        "time": statistics.median(times) if times else None,
        "artifacts": len(artifacts),
        "formats": formats,
        "with_pickles": sum(1 for f in facts if f.pickles),
        "with_problems": [(a.relpath, f.problems) for a, f in zip(artifacts, facts, strict=True) if f.problems],
        "bytes_read": sum(f.bytes_read for f in facts),
        "rchar": delta,
        "sha256sum": sha,
        "cat": cat,
        "error": error,
        "reps": reps,
    }


def measure_pytest_run(root: Path, log: Path) -> dict[str, Any]:
    argv = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--aisupply-only"]
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.run(argv, cwd=root, stdout=out, stderr=subprocess.STDOUT, env=child_env(), timeout=600)
    elapsed = time.perf_counter() - start
    tail = log.read_bytes()[-4000:].decode(errors="replace").strip().splitlines()
    summary = tail[-1] if tail else ""
    outcomes = ("passed", "failed", "error", "errors", "skipped", "xfailed", "xpassed")
    counts = {key: int(num) for num, key in re.findall(r"(\d+) (\w+)", summary)}
    items = sum(counts.get(key, 0) for key in outcomes)
    return {"time": elapsed, "rc": proc.returncode, "summary": summary, "items": items, "argv": argv}


def bytecode_envs(work: Path) -> dict[str, dict[str, str]]:
    """Two environments for the start-up figures. "cached": bytecode written to and read from a
    cache in the work dir (PYTHONPYCACHEPREFIX, so nothing is written next to the sources), as in a
    normal installation once warmed up. "uncached": PYTHONDONTWRITEBYTECODE=1 and no cache prefix,
    so modules without a .pyc beside them (the editable plugin's) are compiled on every start."""
    cached = child_env()
    cached.pop("PYTHONDONTWRITEBYTECODE", None)
    cached["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    uncached = child_env()
    uncached.pop("PYTHONPYCACHEPREFIX", None)
    uncached["PYTHONDONTWRITEBYTECODE"] = "1"
    return {"cached": cached, "uncached": uncached}


def measure_startup(project: Path, reps: int, envs: dict[str, dict[str, str]]) -> dict[str, Any]:
    base = [PYTHON, "-m", "pytest", "--collect-only", "-q"]
    plugin = {"on": base, "off": [*base, "-p", "no:aisupply"]}
    variants = [(cache, name) for cache in envs for name in plugin]

    def once(cache: str, name: str) -> float:
        return run_cmd(plugin[name], cwd=project, env=envs[cache], stderr=subprocess.DEVNULL)

    # Sanity: the plugin is loaded in one variant and blocked in the other (its option exists or not).
    loaded = {}
    for name, argv in plugin.items():
        helped = subprocess.run(
            [PYTHON, "-m", "pytest", "--help", *argv[5:]], cwd=project, env=envs["cached"], capture_output=True
        )
        loaded[name] = b"--aisupply-only" in helped.stdout
    for variant in variants:
        once(*variant)  # warm-up (fills the bytecode cache), not counted
    samples: dict[tuple[str, str], list[float]] = {variant: [] for variant in variants}
    for rep in range(reps):
        shift = rep % len(variants)
        for variant in variants[shift:] + variants[:shift]:  # interleaved, rotating order
            samples[variant].append(once(*variant))
    return {
        "median": {variant: statistics.median(times) for variant, times in samples.items()},
        "loaded": loaded,
    }


def measure_importtime(reps: int, env: dict[str, str]) -> dict[str, Any]:
    own_self, plugin_cum = [], []
    modules: list[str] = []
    argv = [PYTHON, "-X", "importtime", "-c", "import pytest_aisupply.plugin"]
    subprocess.run(argv, capture_output=True, check=True, env=env)  # warm-up, not counted
    for _ in range(reps):
        proc = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
        total, cumulative, names = 0, None, []
        for line in proc.stderr.splitlines():
            match = re.match(r"import time:\s*(\d+)\s*\|\s*(\d+)\s*\|(\s*)(\S+)", line)
            if not match:
                continue
            self_us, cum_us, name = int(match.group(1)), int(match.group(2)), match.group(4)
            if name == "pytest_aisupply" or name.startswith("pytest_aisupply."):
                total += self_us
                names.append(name)
            if name == "pytest_aisupply.plugin":
                cumulative = cum_us
        own_self.append(total)
        if cumulative is not None:
            plugin_cum.append(cumulative)
        modules = names
    return {
        "own_self_us": statistics.median(own_self),
        "plugin_cum_us": statistics.median(plugin_cum) if plugin_cum else None,
        "modules": modules,
    }


# -- main -------------------------------------------------------------------------------------


def versions() -> str:
    import pytest
    import torch

    try:
        from importlib.metadata import version

        plugin_version = version("pytest-aisupply")
    except Exception:  # pragma: no cover - not installed
        plugin_version = "?"
    sha_version = tool_output(["sha256sum", "--version"]).splitlines()[0]
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"pytest {pytest.__version__}, pytest-aisupply {plugin_version}, numpy {np.__version__}, "
        f"safetensors {safetensors.__version__}, torch {torch.__version__}; {sha_version}"
    )


def source_state() -> str:
    """Which plugin source was measured: its git commit and uncommitted files, if a checkout."""
    import pytest_aisupply

    package = Path(pytest_aisupply.__file__).resolve().parent
    commit = tool_output(["git", "-C", str(package), "rev-parse", "--short", "HEAD"])
    if commit == "?":
        return f"plugin from {package} (not a git checkout)"
    dirty = tool_output(["git", "-C", str(package), "status", "--porcelain", "--", "."])
    changed = len(dirty.splitlines()) if dirty not in ("", "?") else 0
    return f"plugin source {package}: git {commit}, {changed} uncommitted file(s) in the package"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="parent directory of the temporary corpus directory (default: the system temp dir)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the corpus directory at the end")
    args = parser.parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="aisupply-bench-", dir=args.workdir)).resolve()
    began = time.perf_counter()
    try:
        return run(work)
    finally:
        if args.keep:
            print(f"\n(corpus kept in {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)
        print(f"\n(total benchmark run time {time.perf_counter() - began:.1f} s)", file=sys.stderr)


def log(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def run(work: Path) -> int:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = tool_output(["uname", "-m"])
    nproc = tool_output(["nproc"])
    info = versions()
    source = source_state()

    # -- corpus ---------------------------------------------------------------------------------
    big = work / "big"
    big.mkdir()
    st_small, st_large = big / "small.safetensors", big / "large.safetensors"
    pt_small, pt_large = big / "small.pt", big / "large.pt"
    log("writing safetensors files")
    safetensors.numpy.save_file(
        {"layer0.weight": np.zeros((1280, 1024), np.float32), "layer1.weight": np.zeros((1280, 1024), np.float32)},
        str(st_small),
    )
    fsync_path(st_small)
    write_safetensors_zeros(st_large, 4, (8192, 8192))
    check_safetensors(st_large, 4, (8192, 8192))
    log("writing PyTorch checkpoints")
    write_torch_checkpoint(pt_small, big / "scratch.bin", 4, 640 * 1024)  # 4 x 2.5 MiB
    write_torch_checkpoint(pt_large, big / "scratch.bin", 4, 64 * MiB)  # 4 x 256 MiB
    tree = work / "tree"
    tree.mkdir()
    (tree / "pyproject.toml").write_text('[project]\nname = "bench-corpus"\n\n[tool.aisupply]\n')
    log(f"writing {N_SMALL_FILES:,} small files")
    kinds = build_small_tree(tree, N_SMALL_FILES)
    project = work / "project"
    (project / "tests").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "bench-demo"\n')
    (project / "tests" / "test_one.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    os.sync()

    # -- measurements ---------------------------------------------------------------------------
    overhead = rchar_overhead()
    large: dict[str, dict[str, Any]] = {}
    for label, path, reps in (
        ("safetensors 10 MiB", st_small, REPS_SMALL),
        ("safetensors 1 GiB", st_large, REPS_LARGE),
        ("PyTorch zip 10 MiB", pt_small, REPS_SMALL),
        ("PyTorch zip 1 GiB", pt_large, REPS_LARGE),
    ):
        log(f"verdict: {label}")
        large[label] = measure_large(path, reps, overhead)
    log("10,000 files: discovery + verdicts")
    small = measure_tree(tree, REPS_TREE, overhead)
    log("10,000 files: pytest --aisupply-only")
    pytest_run = measure_pytest_run(tree, work / "pytest-run.log")
    log("pytest --collect-only start-up")
    envs = bytecode_envs(work)
    startup = measure_startup(project, REPS_STARTUP, envs)
    log("import time")
    imports = {cache: measure_importtime(REPS_IMPORTTIME, env) for cache, env in envs.items()}

    with zipfile.ZipFile(pt_large) as archive:
        infos = archive.infolist()
    pkl = next(info for info in infos if info.filename.endswith("data.pkl"))
    storages = [info for info in infos if re.search(r"/data/\d+$", info.filename)]
    others = sum(info.file_size for info in infos if info not in storages)
    # Loose upper bound for "only the pickle member and tiny heads of storage members": every
    # non-storage member in full, 8 KiB per storage member (local header + head), 64 KiB of zip
    # directory reads.
    zip_bound = others + 8 * KiB * len(storages) + 64 * KiB

    # -- report -----------------------------------------------------------------------------------
    out: list[str] = []

    def row(*cells: object) -> None:
        out.append("| " + " | ".join(str(cell) for cell in cells) + " |")

    out += [
        "## pytest-aisupply artifact benchmarks",
        "",
        f"- date: {now}",
        f"- machine: `uname -m` {machine}, nproc {nproc}",
        f"- versions: {info}",
        f"- {source}",
        "- page cache warm (files just written and synced); times are medians of the repetitions noted",
        "",
    ]
    row(
        "Case",
        "Size",
        "Plugin wall time",
        "Bytes read (facts)",
        "rchar delta",
        "`sha256sum`",
        "`cat > /dev/null`",
        "Plugin / sha256sum",
        "Plugin / cat",
        "Verdict / notes",
    )
    row(*["---"] * 10)
    for label, r in large.items():
        facts = r["facts"]
        row(
            f"verdict: {label}",
            fmt_size(r["size"]),
            fmt_time(r["time"]),
            fmt_bytes(facts.bytes_read if facts else None, r["size"]),
            fmt_bytes(r["rchar"]),
            fmt_time(r["sha256sum"]),
            fmt_time(r["cat"]),
            fmt_ratio(r["time"], r["sha256sum"]),
            fmt_ratio(r["time"], r["cat"]),
            f"{verdict_text(r)}; median of {REPS_VERDICT} (tools: of {r['reps']})",
        )
    formats = ", ".join(f"{name} {count}" for name, count in sorted(small["formats"].items()))
    corpus = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
    raised = f"**raised** {small['error']}; " if small["error"] else ""
    row(
        f"{small['files']:,} small files: discovery + verdicts (in-process)",
        fmt_size(small["size"]),
        fmt_time(small["time"]),
        fmt_bytes(small["bytes_read"]),
        fmt_bytes(small["rchar"]),
        fmt_time(small["sha256sum"]),
        fmt_time(small["cat"]),
        fmt_ratio(small["time"], small["sha256sum"]),
        fmt_ratio(small["time"], small["cat"]),
        f"{raised}{small['artifacts']:,} artifacts ({formats}); {small['with_pickles']:,} with pickles, "
        f"{len(small['with_problems'])} with problems; corpus: {corpus} + pyproject.toml; median of {small['reps']}",
    )
    row(
        f"{small['files']:,} small files: `pytest -q -p no:cacheprovider --aisupply-only` (subprocess)",
        fmt_size(small["size"]),
        fmt_time(pytest_run["time"]),
        NA,
        NA,
        fmt_time(small["sha256sum"]),
        fmt_time(small["cat"]),
        fmt_ratio(pytest_run["time"], small["sha256sum"]),
        fmt_ratio(pytest_run["time"], small["cat"]),
        f"{pytest_run['items']:,} items, exit code {pytest_run['rc']}: `{pytest_run['summary'].strip('= ')}`; "
        "single run",
    )
    cache_text = {
        "cached": "bytecode cached",
        "uncached": "no bytecode cache (`PYTHONDONTWRITEBYTECODE=1`)",
    }
    plugin_text = {"on": "plugin installed, no `[tool.aisupply]`", "off": "same with `-p no:aisupply`"}
    for (cache, name), seconds in startup["median"].items():
        row(
            f"`pytest --collect-only -q`, {plugin_text[name]}, {cache_text[cache]}",
            "1 test",
            fmt_time(seconds),
            *[NA] * 6,
            f"median of {REPS_STARTUP} interleaved runs; plugin options registered: {startup['loaded'][name]}",
        )
    for cache, found in imports.items():
        row(
            f'`python -X importtime -c "import pytest_aisupply.plugin"`, {cache_text[cache]}',
            NA,
            f"{found['own_self_us']:,.0f} µs (self time of the {len(found['modules'])} pytest_aisupply modules)",
            *[NA] * 6,
            "cumulative of the `pytest_aisupply.plugin` line, which includes importing pytest: "
            f"{found['plugin_cum_us']:,} µs; modules: {', '.join(found['modules'])}; median of {REPS_IMPORTTIME}",
        )
    out.append("")

    def met(ok: bool | None) -> str:
        return NA if ok is None else ("met" if ok else "**missed**")

    def quotient(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    pt_big = large["PyTorch zip 1 GiB"]
    pt_scale = quotient(pt_big["time"], large["PyTorch zip 10 MiB"]["time"])
    st_scale = quotient(large["safetensors 1 GiB"]["time"], large["safetensors 10 MiB"]["time"])
    vs_sha = quotient(pt_big["time"], pt_big["sha256sum"])
    pt_bytes = pt_big["facts"].bytes_read if pt_big["facts"] else None
    row("Target", "Figure", "Result")
    row("---", "---", "---")
    row(
        "PyTorch zip: verdict time 1 GiB / 10 MiB within 2x",
        fmt_ratio(pt_scale, 1),
        met(None if pt_scale is None else pt_scale <= 2),
    )
    row("(safetensors: verdict time 1 GiB / 10 MiB, for reference)", fmt_ratio(st_scale, 1), NA)
    row(
        "PyTorch zip 1 GiB: verdict far below `sha256sum` (taken as under 1%)",
        fmt_ratio(vs_sha, 1),
        met(None if vs_sha is None else vs_sha < 0.01),
    )
    row(
        f"PyTorch zip 1 GiB: reads only `data.pkl` ({pkl.file_size:,} B), the other small members and heads of "
        f"the {len(storages)} storages (bound {zip_bound:,} B)",
        f"{fmt_bytes(pt_bytes)} (rchar delta {fmt_bytes(pt_big['rchar'])})",
        met(None if pt_bytes is None else pt_bytes <= zip_bound),
    )
    row(
        f"{small['files']:,} small files: discovery + verdicts under 5 s",
        fmt_time(small["time"]),
        met(None if small["time"] is None else small["time"] < 5),
    )
    for cache in envs:
        on, off = startup["median"][(cache, "on")], startup["median"][(cache, "off")]
        diff_ms = (on - off) * 1000
        row(
            f"`pytest --collect-only` without `[tool.aisupply]`, {cache_text[cache]}: plugin cost within 30 ms",
            f"{diff_ms:+.1f} ms ({fmt_time(on)} vs {fmt_time(off)})",
            met(diff_ms <= 30),
        )
    print("\n".join(out))

    problems = []
    for label, r in large.items():
        if r["error"]:
            problems.append(f"analyze_path raised on {label}: {r['error']}")
        elif r["facts"].problems:
            problems.append(f"{label}: problems {[(x.where, x.message) for x in r['facts'].problems]}")
    if small["error"]:
        problems.append(f"discovery + verdicts raised: {small['error']}")
    for relpath, found in small["with_problems"][:10]:
        problems.append(f"{relpath}: problems {[(x.where, x.message) for x in found]}")
    if pytest_run["rc"] not in (0, 1):
        problems.append(f"pytest --aisupply-only exited {pytest_run['rc']}: {pytest_run['summary']}")
    if not startup["loaded"]["on"] or startup["loaded"]["off"]:
        problems.append(f"plugin loading not as expected: {startup['loaded']}")
    if problems:
        print("\nProblems seen:\n")
        for line in problems:
            print(f"- {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
