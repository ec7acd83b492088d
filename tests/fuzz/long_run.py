"""The long fuzz run: every reader, a million inputs and more, on all cores.

    python tests/fuzz/long_run.py --inputs 1000000 --jobs 2            # coverage-guided (atheris)
    python tests/fuzz/long_run.py --inputs 20000 --jobs 2 --engine random   # no atheris needed

Each job is a process that fuzzes all the targets of targets.py (the first byte of an input picks
the target). With ``--engine atheris`` (the default when atheris is installed: ``pip install
atheris``) libFuzzer drives it, guided by the coverage of pytest_aisupply's code, starting from the
seeds and mutating with libFuzzer's mutators and with those of mutate.py (huge length fields,
deep nesting, splicing); ``--engine random`` applies mutate.py's mutations to the seeds.

Every input runs under a per-input timeout (``--timeout``, by SIGALRM): one that exceeds it is a
hang. An exception other than the documented ones, or a problem reading "internal error", is an
internal error; a broken property (a pickle global pickletools sees that the walker missed, a
payload that left a trace ...) is a property failure. Each is saved under ``--out`` to be
replayed (``--replay FILE``). The run prints, per target: inputs tried, internal errors,
property failures, hangs, the slowest input; and the peak RSS of each job. It exits 1 when any
input failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))
STATS_EVERY = 5000


class Hang(BaseException):
    """An input ran past the per-input timeout."""


def _on_alarm(signum: int, frame: object) -> None:
    raise Hang


class Worker:
    """Runs inputs and keeps the figures of one job."""

    def __init__(self, args: argparse.Namespace, names: list[str]) -> None:
        self.args = args
        self.names = names
        self.out = Path(args.out)
        self.stats: dict[str, dict[str, Any]] = {
            name: {"inputs": 0, "internal_errors": 0, "property_failures": 0, "hangs": 0, "slowest": [0.0, 0]}
            for name in names
        }
        self.count = 0
        self.started = time.monotonic()
        self.baseline_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        signal.signal(signal.SIGALRM, _on_alarm)

    def one(self, data: bytes) -> None:
        from fuzz.targets import PropertyFailure, run

        name = self.names[data[0] % len(self.names)] if data else self.names[0]
        payload = data[1:]
        entry = self.stats[name]
        entry["inputs"] += 1
        self.count += 1
        started = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, self.args.timeout)
        outcome = None
        try:
            run(name, payload)
        except Hang:
            outcome = "hangs"
        except PropertyFailure as exc:
            outcome, detail = "property_failures", f"{exc}"
        except Exception as exc:
            outcome, detail = "internal_errors", "".join(traceback.format_exception(exc)[-6:])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        elapsed = time.perf_counter() - started
        if elapsed > entry["slowest"][0]:
            entry["slowest"] = [elapsed, len(payload)]
        if outcome is not None:
            entry[outcome] += 1
            if entry[outcome] <= 20:
                stem = self.out / f"{outcome}-{name}-{self.args.worker_id}-{self.count}"
                stem.with_suffix(".bin").write_bytes(data)
                if outcome != "hangs":
                    stem.with_suffix(".txt").write_text(detail[-4000:], encoding="utf-8")
        if self.count % STATS_EVERY == 0 or self.count >= self.args.inputs:
            self.write_stats()
        if self.count >= self.args.inputs:
            sys.stdout.flush()
            os._exit(0)  # libFuzzer would go on to its own end; the figures are written

    def write_stats(self) -> None:
        data = {
            "worker": self.args.worker_id,
            "engine": self.args.engine,
            "inputs": self.count,
            "seconds": time.monotonic() - self.started,
            "baseline_rss_kib": self.baseline_rss_kib,
            "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "targets": self.stats,
        }
        path = Path(self.args.stats)
        path.with_suffix(".tmp").write_text(json.dumps(data), encoding="utf-8")
        path.with_suffix(".tmp").replace(path)


def _corpus(folder: Path, names: list[str]) -> None:
    from fuzz.targets import seeds_of

    for index, name in enumerate(names):
        for number, seed in enumerate(seeds_of(name)):
            (folder / f"{name}-{number}").write_bytes(bytes([index]) + seed)


def worker_main(args: argparse.Namespace) -> int:
    if args.engine == "atheris":
        import atheris

        with atheris.instrument_imports(include=["pytest_aisupply", "fuzz"]):
            import fuzz.targets  # noqa: F401 - instrumented for coverage
            import pytest_aisupply.formats
            import pytest_aisupply.inventory.code_files
            import pytest_aisupply.rules  # noqa: F401
    from fuzz.mutate import mutate
    from fuzz.targets import TARGETS, seeds_of

    names = [target.name for target in TARGETS]
    for name in names:
        seeds_of(name)
    worker = Worker(args, names)
    if args.engine == "random":
        rng = random.Random(args.seed * 1000 + args.worker_id)
        while True:
            index = rng.randrange(len(names))
            seeds = seeds_of(names[index])
            data = (
                rng.choice(seeds)
                if rng.random() < 0.02
                else mutate(rng.choice(seeds), rng, seeds, max_size=args.max_len)
            )
            worker.one(bytes([index]) + data)
    import atheris

    corpus = Path(tempfile.mkdtemp(prefix=f"aisupply-corpus-{args.worker_id}-"))
    _corpus(corpus, names)

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if not data or rng.random() < 0.6:
            return bytes(atheris.Mutate(data, max_size))
        seeds = seeds_of(names[data[0] % len(names)])
        return data[:1] + mutate(data[1:], rng, seeds, max_size=max_size - 1)

    atheris.Setup(
        [
            sys.argv[0],
            str(corpus),
            f"-runs={args.inputs * 2}",
            f"-max_len={args.max_len}",
            f"-seed={args.seed * 1000 + args.worker_id + 1}",
            "-timeout=0",  # the per-input timeout is the SIGALRM of Worker.one
            f"-rss_limit_mb={args.rss_limit_mb}",
            "-print_final_stats=1",
        ],
        worker.one,
        custom_mutator=custom_mutator,
    )
    atheris.Fuzz()
    return 0


def _format_table(results: list[dict[str, Any]]) -> str:
    totals: dict[str, dict[str, Any]] = {}
    for result in results:
        for name, entry in result["targets"].items():
            total = totals.setdefault(
                name, {"inputs": 0, "internal_errors": 0, "property_failures": 0, "hangs": 0, "slowest": [0.0, 0]}
            )
            for key in ("inputs", "internal_errors", "property_failures", "hangs"):
                total[key] += entry[key]
            if entry["slowest"][0] > total["slowest"][0]:
                total["slowest"] = entry["slowest"]
    lines = [
        "| Target | Inputs tried | Internal errors | Property failures | Hangs | Slowest input |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    grand = {"inputs": 0, "internal_errors": 0, "property_failures": 0, "hangs": 0}
    slowest = [0.0, 0, ""]
    for name, total in totals.items():
        for key in grand:
            grand[key] += total[key]
        seconds, size = total["slowest"]
        if seconds > slowest[0]:
            slowest = [seconds, size, name]
        lines.append(
            f"| {name} | {total['inputs']:,} | {total['internal_errors']} | {total['property_failures']} | "
            f"{total['hangs']} | {seconds * 1000:.1f} ms ({size:,} B) |"
        )
    lines.append(
        f"| **all** | **{grand['inputs']:,}** | **{grand['internal_errors']}** | **{grand['property_failures']}** | "
        f"**{grand['hangs']}** | {slowest[0] * 1000:.1f} ms ({slowest[1]:,} B, {slowest[2]}) |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000, help="inputs in total, over all jobs")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    try:
        import atheris  # noqa: F401

        default_engine = "atheris"
    except ImportError:
        default_engine = "random"
    parser.add_argument("--engine", choices=("atheris", "random"), default=default_engine)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds after which an input is a hang")
    parser.add_argument("--seed", type=int, default=0, help="another seed explores other inputs (default: 0)")
    parser.add_argument("--max-len", type=int, default=8192, help="largest input, in bytes")
    parser.add_argument("--rss-limit-mb", type=int, default=2048, help="a job above this RSS is stopped (atheris)")
    parser.add_argument(
        "--out",
        default=str(Path(tempfile.gettempdir()) / "aisupply-fuzz"),
        help="folder for failing inputs, the job logs and figures (default: %(default)s)",
    )
    parser.add_argument("--replay", metavar="FILE", help="run one saved input and show what happens")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-id", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args)
    if args.replay:
        from fuzz.targets import TARGETS, run

        data = Path(args.replay).read_bytes()
        name = TARGETS[data[0] % len(TARGETS)].name
        print(f"target {name}, {len(data) - 1} bytes")
        run(name, data[1:])
        print("passed")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    share = [args.inputs // args.jobs + (1 if index < args.inputs % args.jobs else 0) for index in range(args.jobs)]
    processes = []
    for index, count in enumerate(share):
        stats = out / f"stats-{index}.json"
        stats.unlink(missing_ok=True)
        log = (out / f"job-{index}.log").open("w")
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            f"--worker-id={index}",
            f"--inputs={count}",
            f"--engine={args.engine}",
            f"--timeout={args.timeout}",
            f"--seed={args.seed}",
            f"--max-len={args.max_len}",
            f"--rss-limit-mb={args.rss_limit_mb}",
            f"--out={out}",
            f"--stats={stats}",
        ]
        processes.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), stats, log))
    results = []
    failed_jobs = 0
    for index, (process, stats, log) in enumerate(processes):
        code = process.wait()
        log.close()
        if code != 0:
            failed_jobs += 1
            print(f"job {index} exited with {code}; see {out / f'job-{index}.log'}")
        if stats.is_file():
            results.append(json.loads(stats.read_text(encoding="utf-8")))
    wall = time.monotonic() - started
    total = sum(result["inputs"] for result in results)
    rate = total / max(wall, 1e-9)
    print(f"engine {args.engine}, seed {args.seed}, {args.jobs} jobs, {total:,} inputs in {wall:.0f} s ({rate:,.0f}/s)")
    print(f"per-input timeout {args.timeout} s, inputs up to {args.max_len:,} bytes")
    print(_format_table(results))
    for result in results:
        print(
            f"job {result['worker']}: {result['inputs']:,} inputs, peak RSS {result['peak_rss_kib'] / 1024:.0f} MiB "
            f"(after start-up {result['baseline_rss_kib'] / 1024:.0f} MiB)"
        )
    bad = sum(
        entry[key]
        for result in results
        for entry in result["targets"].values()
        for key in ("internal_errors", "property_failures", "hangs")
    )
    if bad:
        print(f"failing inputs saved under {out}/ (replay one with --replay FILE)")
    return 1 if bad or failed_jobs or total < args.inputs else 0


if __name__ == "__main__":
    sys.exit(main())
