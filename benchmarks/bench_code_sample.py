"""A stratified random sample of the code rules' findings on real repositories, for hand-checking.

    python benchmarks/bench_code_repos.py --before OLD/src --after src --out /tmp/code-bench CHECKOUTS...
    python benchmarks/bench_code_sample.py /tmp/code-bench --size 300 --seed 20261203 \\
        --out benchmarks/code_repos_sample.csv

Reads the ``after-<repo>.jsonl`` files ``bench_code_repos.py --out`` wrote, puts every finding in a
group (its rule and its message with the names and values taken out: the finding's kind), prints
the groups with their counts, and draws ``--size`` findings spread over the groups in proportion to
their size (largest remainders), plus enough more from each small group that every group has at
least ``--floor`` findings in the sample (or all of them). The CSV has one row per sampled finding
with an empty ``verdict`` column for the reviewer (``true``/``false``) and a ``note``; ``--check``
prints the counts of a filled-in CSV per group instead.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

FIELDS = ("group", "extra", "repo", "where", "rule", "message", "code", "verdict", "note")


def kind(rule: str, message: str) -> str:
    """The finding's message with the API, repo id and values replaced by placeholders."""
    repo = r"\((?:'[^']*'|\"[^\"]*\"|a repo id that is not a constant)\)"
    text, found = re.subn(rf"^.*?{repo}", "<api>(<repo>)", message, count=1)
    if not found:
        text = re.sub(r"^[^\s:]+(?=:)", "<api>", message, count=1)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "<v>", text)
    text = re.sub(r"does not parse as Python \(.*", "does not parse as Python (<error>)", text)
    return f"{rule}: {text}"


def load(folder: Path) -> list[dict[str, str]]:
    findings = []
    for path in sorted(folder.glob("after-*.jsonl")):
        repo = path.stem.removeprefix("after-")
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            findings.append(
                {
                    "group": kind(item["rule"], item["message"]),
                    "repo": repo,
                    "where": item["where"] or item["file"],
                    "rule": item["rule"],
                    "message": item["message"],
                    "code": (item["details"] or [""])[0],
                }
            )
    return findings


def draw(findings: list[dict[str, str]], size: int, floor: int, seed: int) -> list[dict[str, str]]:
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for finding in findings:
        groups[finding["group"]].append(finding)
    shares = {name: size * len(items) / len(findings) for name, items in groups.items()}
    quota = {name: int(share) for name, share in shares.items()}
    for name in sorted(shares, key=lambda n: shares[n] - quota[n], reverse=True)[: size - sum(quota.values())]:
        quota[name] += 1
    rng = random.Random(seed)
    sample = []
    for name in sorted(groups):
        picked = rng.sample(groups[name], min(len(groups[name]), max(quota[name], floor)))
        for index, finding in enumerate(picked):
            sample.append({**finding, "extra": "yes" if index >= quota[name] else "", "verdict": "", "note": ""})
    return sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the --out folder of bench_code_repos.py, or the CSV with --check")
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--floor", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--check", action="store_true", help="count the verdicts of a filled-in CSV")
    args = parser.parse_args(argv)
    if args.check:
        with args.folder.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        table: dict[str, Counter[str]] = defaultdict(Counter)
        for row in rows:
            table[row["group"]][row["verdict"] or "unchecked"] += 1
            table[row["group"]]["proportional" if not row["extra"] else "extra"] += 1
        for name, counts in sorted(table.items(), key=lambda entry: -sum(entry[1].values())):
            print(f"{dict(counts)}  {name}")
        total = Counter(row["verdict"] or "unchecked" for row in rows)
        proportional = Counter(row["verdict"] or "unchecked" for row in rows if not row["extra"])
        print(f"all {len(rows)}: {dict(total)}; proportional part: {dict(proportional)}")
        return 0
    findings = load(args.folder)
    counts = Counter(finding["group"] for finding in findings)
    for name, count in counts.most_common():
        print(f"{count:6}  {name}")
    print(f"{len(findings):6}  findings in {len(counts)} groups")
    sample = draw(findings, args.size, args.floor, args.seed)
    if args.out:
        with args.out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, FIELDS)
            writer.writeheader()
            writer.writerows(sample)
        print(f"{len(sample)} sampled findings written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
