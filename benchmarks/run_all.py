"""Run every benchmark in one command and print their tables in order.

    python benchmarks/run_all.py [--peers DIR ...]

``--peers`` names a virtualenv holding some of picklescan, modelscan and modelaudit for the
comparison in bench_pickle.py, and may be given more than once; each is passed on to it
(``python3 -m venv /tmp/peers && /tmp/peers/bin/pip install picklescan modelscan``,
``python3 -m venv /tmp/peers-modelaudit && /tmp/peers-modelaudit/bin/pip install modelaudit``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "bench_artifacts.py",
    "bench_pickle.py",
    "bench_code.py",
    "bench_lockfile.py",
    "bench_runtime.py",
    "bench_hostile.py",
    "bench_signature.py",
    "bench_scale.py",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", action="append", default=[])
    args = parser.parse_args()
    failed = []
    for script in SCRIPTS:
        command = [sys.executable, str(HERE / script)]
        if script == "bench_pickle.py":
            for peers in args.peers:
                command += ["--peers", peers]
        print(f"\n## {script}\n", flush=True)
        if subprocess.run(command, check=False).returncode:
            failed.append(script)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
