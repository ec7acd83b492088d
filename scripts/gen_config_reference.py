"""Write docs/configuration.md from the settings schema (src/pytest_aisupply/settings/schema.py).

    python scripts/gen_config_reference.py          # write the page
    python scripts/gen_config_reference.py --check  # exit 1 when the page is out of date

tests/test_docs.py fails when the committed page differs from what this script writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from pytest_aisupply.rules import builtin_rules  # noqa: E402
from pytest_aisupply.settings.schema import REFERENCE_PATH, render_markdown  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the page is up to date")
    args = parser.parse_args(argv)
    target = ROOT / REFERENCE_PATH
    text = render_markdown([(rule.id, rule.summary) for rule in builtin_rules()])
    current = target.read_text(encoding="utf-8") if target.is_file() else None
    if args.check:
        if current != text:
            print(f"{REFERENCE_PATH} is out of date: run python scripts/gen_config_reference.py", file=sys.stderr)
            return 1
        print(f"{REFERENCE_PATH} is up to date")
        return 0
    if current == text:
        print(f"{REFERENCE_PATH} unchanged")
        return 0
    target.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {REFERENCE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
