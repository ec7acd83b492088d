"""Benchmark of the code rules (pinned-revision, remote-code, unsafe-load).

Run from the repository root:

    python benchmarks/bench_code.py [--wheels DIR]

1. Generates 10,000 Python files and scans them in a fresh subprocess: wall time, peak RSS
   above the interpreter with the plugin imported, and how many times each file was parsed.
2. Scans real ML code bases: the sources of the ``transformers`` and ``sentence-transformers``
   wheels (downloaded with ``pip download --no-deps`` unless ``--wheels`` names a folder that
   holds them), reporting files, findings per rule, unparseable files and time.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from datetime import datetime, timezone
from pathlib import Path

_SCAN = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    import pytest_aisupply.inventory.code_files as index_module
    from pytest_aisupply.settings.config import Settings
    from pytest_aisupply.verdicts.engine import Engine
    from pytest_aisupply.formats import builtin_readers
    from pytest_aisupply.rules import builtin_rules

    parses = {}
    original = index_module.extract
    def counting_extract(text, filename, *rest):
        parses[filename] = parses.get(filename, 0) + 1
        return original(text, filename, *rest)
    index_module.extract = counting_extract

    root = Path(sys.argv[1])
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    engine = Engine(Settings(root=root, artifacts=(), code=(".",)), builtin_rules(), builtin_readers())
    findings = {}
    subjects = 0
    for rule, items in engine.subjects():
        if rule.id not in ("pinned-revision", "remote-code", "unsafe-load"):
            continue
        for subject in items:
            subjects += 1
            verdict = engine.evaluate(rule.id, subject)
            findings[rule.id] = findings.get(rule.id, 0) + len(verdict.findings)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    files = len(engine.inventory.code.files)
    errors = sum(1 for f in engine.inventory.code.files if engine.inventory.code.parsed(f).facts.error)
    print(json.dumps({
        "files": files, "subjects": subjects, "findings": findings, "unparseable": errors,
        "seconds": elapsed, "peak_kib_above_baseline": peak - baseline,
        "max_parses_per_file": max(parses.values(), default=0), "parsed_files": len(parses),
    }))
    """
)

_TEMPLATE = '''"""Generated module {n}."""
import os
import torch
from transformers import AutoModel, AutoTokenizer

SHA = "0123456789abcdef0123456789abcdef01234567"
NAME = "org/model-{n}"


class Thing{n}:
    def __init__(self, value: int) -> None:
        self.value = value

    def double(self) -> int:
        return self.value * 2


def helper_{n}(items: list[int]) -> int:
    total = 0
    for item in items:
        if item % 2:
            total += item
    return total


def load_{n}():
    model = AutoModel.from_pretrained(NAME, revision=SHA)
    tokenizer = AutoTokenizer.from_pretrained(NAME{unpinned})
    state = torch.load(os.path.join("ckpt", "{n}.pt"){weights})
    return model, tokenizer, state
'''


def generate(root: Path, count: int) -> None:
    for n in range(count):
        folder = root / f"pkg{n // 500}"
        folder.mkdir(exist_ok=True)
        unpinned = "" if n % 3 else ', revision="main"'
        weights = ", weights_only=True" if n % 2 else ""
        (folder / f"module_{n}.py").write_text(_TEMPLATE.format(n=n, unpinned=unpinned, weights=weights))


def scan(root: Path) -> dict[str, object]:
    output = subprocess.run([sys.executable, "-c", _SCAN, str(root)], check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def wheel_sources(wheels: Path | None, workdir: Path) -> list[tuple[str, Path]]:
    if wheels is None:
        wheels = workdir / "wheels"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "-d",
                str(wheels),
                "transformers",
                "sentence-transformers",
            ],
            check=True,
            capture_output=True,
        )
    result = []
    for wheel in sorted(wheels.glob("*.whl")):
        target = workdir / wheel.stem
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(target)
        result.append((wheel.name, target))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, default=None)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    print(
        f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        generated = workdir / "generated"
        generated.mkdir()
        generate(generated, args.files)
        result = scan(generated)
        print()
        print(
            "| Corpus | Files | Items | Findings by rule | Unparseable | Time | Peak RSS above baseline "
            "| Parses per file |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")

        def row(name: str, data: dict[str, object]) -> None:
            findings = ", ".join(f"{rule} {count}" for rule, count in sorted(data["findings"].items()))  # type: ignore[union-attr]
            print(
                f"| {name} | {data['files']} | {data['subjects']} | {findings} | {data['unparseable']} | "
                f"{data['seconds']:.2f} s | {int(data['peak_kib_above_baseline']) / 1024:.0f} MiB | "  # type: ignore[call-overload]
                f"{data['max_parses_per_file']} |"
            )

        row(f"{args.files} generated files", result)
        for name, source in wheel_sources(args.wheels, workdir):
            row(name, scan(source))


if __name__ == "__main__":
    main()
