"""The code rules on local checkouts of real repositories, with two versions of the plugin.

    python benchmarks/bench_code_repos.py --before /path/to/old/src --after src \\
        --out /tmp/code-bench /tmp/checkouts/peft /tmp/checkouts/nanoGPT ...

Fetches nothing: each argument is a folder already on disk (a ``git archive`` of a public
repository, say). Every checkout is scanned in a fresh subprocess per plugin version (``--before``
and ``--after`` are ``src`` folders put on ``PYTHONPATH``), with only the three code rules on and
``code = ["."]``. Printed per repository and in total: code files, findings per rule, notebooks
that cannot be checked, wall time. ``--out`` also writes every finding as JSON lines
(``<out>/<version>-<repo>.jsonl``) for hand-checking a sample. ``--compare-cells`` also reads every
code cell of every notebook with IPython's transformer and with the built-in one (``--after``'s
code) and prints how many cells there are and how many the two read differently.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

CODE_RULES = ("pinned-revision", "remote-code", "unsafe-load")

_SCAN = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from pytest_aisupply.settings.config import Settings
    from pytest_aisupply.verdicts.engine import Engine
    from pytest_aisupply.formats import builtin_readers
    from pytest_aisupply.rules import builtin_rules

    root, out = Path(sys.argv[1]), sys.argv[2]
    start = time.perf_counter()
    engine = Engine(Settings(root=root, artifacts=(), code=(".",), lockfile=""), builtin_rules(), builtin_readers())
    findings = []
    for rule, items in engine.subjects():
        if rule.id not in ("pinned-revision", "remote-code", "unsafe-load"):
            continue
        for subject in items:
            for finding in engine.evaluate(rule.id, subject).findings:
                findings.append({"rule": rule.id, "file": subject.id, "where": finding.where,
                                 "message": finding.message, "details": list(finding.details)})
    elapsed = time.perf_counter() - start
    files = engine.inventory.code.files
    unparseable = sorted(
        f.relpath for f in files
        if f.relpath.endswith(".ipynb") and engine.inventory.code.parsed(f).facts.error
    )
    if out:
        with open(out, "w") as handle:
            for item in findings:
                handle.write(json.dumps(item) + "\\n")
    per_rule = {rule: sum(1 for f in findings if f["rule"] == rule) for rule in
                ("pinned-revision", "remote-code", "unsafe-load")}
    print(json.dumps({"files": len(files), "notebooks": sum(1 for f in files if f.relpath.endswith(".ipynb")),
                      "findings": per_rule, "unparseable_notebooks": unparseable, "seconds": elapsed}))
    """
)


def scan(src: Path, checkout: Path, out: Path | None) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(src.resolve()), AISUPPLY_PURE_PYTHON="1")
    result = subprocess.run(
        [sys.executable, "-c", _SCAN, str(checkout), str(out) if out else ""],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=1800,
    )
    if result.returncode != 0:
        raise SystemExit(f"scan of {checkout} with {src} failed:\n{result.stderr}")
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


_COMPARE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from pytest_aisupply.code.cell_syntax import CellSyntaxError, builtin_transform, ipython_transform

    def read(transform, cell):
        try:
            return transform(cell)
        except CellSyntaxError as exc:
            return ["error", str(exc)]

    cells = differ = 0
    for root in sys.argv[1:]:
        for path in sorted(Path(root).rglob("*.ipynb")):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            for cell in document.get("cells", []):
                if cell.get("cell_type") != "code":
                    continue
                source = cell.get("source", "")
                source = source if isinstance(source, str) else "".join(source)
                cells += 1
                if read(ipython_transform, source) != read(builtin_transform, source):
                    differ += 1
                    print("differs:", path, file=sys.stderr)
    print(json.dumps({"cells": cells, "differ": differ}))
    """
)


def compare_cells(src: Path, checkouts: list[Path]) -> None:
    env = dict(os.environ, PYTHONPATH=str(src.resolve()))
    result = subprocess.run(
        [sys.executable, "-c", _COMPARE, *map(str, checkouts)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=1800,
    )
    if result.returncode != 0:
        raise SystemExit(f"cell comparison failed:\n{result.stderr}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"notebook code cells: {data['cells']}; read differently by IPython and the built-in one: {data['differ']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="src folder of the old version")
    parser.add_argument("--after", type=Path, required=True, help="src folder of the new version")
    parser.add_argument("--out", type=Path, help="folder for the findings as JSON lines")
    parser.add_argument("--compare-cells", action="store_true", help="IPython vs built-in on every notebook cell")
    parser.add_argument("checkouts", type=Path, nargs="+")
    args = parser.parse_args(argv)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    totals: dict[str, dict[str, float]] = {"before": {}, "after": {}}
    header = f"{'repository':<24}{'files':>7}  {'version':<7}" + "".join(f"{rule:>17}" for rule in CODE_RULES)
    print(header + f"{'bad notebooks':>15}{'seconds':>9}")
    for checkout in args.checkouts:
        for version, src in (("before", args.before), ("after", args.after)):
            out = args.out / f"{version}-{checkout.name}.jsonl" if args.out else None
            data = scan(src, checkout, out)
            findings = data["findings"]
            assert isinstance(findings, dict)
            unparseable = data["unparseable_notebooks"]
            assert isinstance(unparseable, list)
            seconds = float(str(data["seconds"]))
            row = f"{checkout.name:<24}{data['files']!s:>7}  {version:<7}"
            row += "".join(f"{findings[rule]:>17}" for rule in CODE_RULES)
            print(row + f"{len(unparseable):>15}{seconds:>9.1f}", flush=True)
            total = totals[version]
            for rule in CODE_RULES:
                total[rule] = total.get(rule, 0) + findings[rule]
            total["unparseable"] = total.get("unparseable", 0) + len(unparseable)
            total["seconds"] = total.get("seconds", 0) + seconds
    for version, total in totals.items():
        cells = "".join(f"{int(total.get(rule, 0)):>17}" for rule in CODE_RULES)
        print(f"{'TOTAL':<24}{'':>7}  {version:<7}{cells}{int(total['unparseable']):>15}{total['seconds']:>9.1f}")
    if args.compare_cells:
        compare_cells(args.after, args.checkouts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
