"""False alarms of the pickle probe on real files: every regular file of an installed
site-packages tree is sniffed as the plugin sniffs it (the probe from byte 0 included), and the
files it takes for pickles are listed. Not part of the tests (it reads tens of thousands of files).

    python benchmarks/scan_site_packages.py [SITE_PACKAGES] [--show N]

Reports how many files were read, how many are real pickles by their own format (a PROTO header,
or a pickle file suffix), and how many others the probe calls pickles (each one printed, to be
looked at: a real pickle without a pickle suffix, or a false alarm).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import sysconfig
import time
from pathlib import Path

from pytest_aisupply.formats import analyze_path, builtin_readers, sniff_path

PICKLE_SUFFIXES = (".pkl", ".pickle", ".pck", ".joblib", ".pt", ".pth", ".bin", ".npy", ".npz", ".sav", ".p")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", nargs="?", default=sysconfig.get_paths()["purelib"])
    parser.add_argument("--show", type=int, default=50, help="list at most this many flagged files")
    args = parser.parse_args()
    readers = builtin_readers()
    counts: collections.Counter[str] = collections.Counter()
    flagged: list[tuple[str, str]] = []
    #: Artifacts (other than 'unknown' binaries such as .pyc) read whole: their members and
    #: decompressed streams get the probe too.
    inner: list[tuple[str, str]] = []
    analysed = 0
    started = time.perf_counter()
    total = 0
    for directory, _, files in os.walk(args.root):
        for name in files:
            path = Path(directory, name)
            if path.is_symlink() or not path.is_file():
                continue
            total += 1
            try:
                head = path.open("rb").read(2)
                fmt, _artifact = sniff_path(path, readers)
            except OSError:
                counts["unreadable"] += 1
                continue
            counts[fmt or "empty"] += 1
            real_pickle = head[:1] == b"\x80" or name.endswith(PICKLE_SUFFIXES)
            if fmt in ("pickle", "pickle-polyglot") and not real_pickle:
                flagged.append((str(path.relative_to(args.root)), fmt))
            if _artifact and fmt not in ("unknown", "pickle", "pickle-polyglot") and not real_pickle:
                analysed += 1
                facts = analyze_path(path, readers)
                for fact in facts.pickles:
                    inner.append((str(path.relative_to(args.root)), f"pickle at {fact.where or 'offset 0'}"))
                for problem in facts.problems:
                    inner.append((str(path.relative_to(args.root)), f"problem at {problem.where}: {problem.message}"))
    elapsed = time.perf_counter() - started
    print(f"{total} files under {args.root} sniffed in {elapsed:.1f} s")
    for fmt, count in counts.most_common():
        print(f"  {fmt:24} {count}")
    print(f"{len(flagged)} files without a pickle header or suffix taken for pickles:")
    for rel, fmt in flagged[: args.show]:
        print(f"  {fmt:16} {rel}")
    print(f"{analysed} other artifacts read whole (members, decompressed streams); {len(inner)} findings:")
    for rel, what in inner[: args.show]:
        print(f"  {rel}: {what[:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
