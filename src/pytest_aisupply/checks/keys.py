"""What the collection plugin, the items and the reporters share: the name of the checks' root
node and the session stash keys. A module of its own so that the items load only when a rule has
subjects, without an import circle between the plugin and the items.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ..verdicts.engine import Engine, Verdict

#: The checks' root node: ``pytest aisupply::no-pickle::models/a.pkl`` selects one check.
ROOT_NAME = "aisupply"

#: The session's engine (settings, inventory, rules), built once when the checks are enabled.
engine_key: pytest.StashKey[Engine] = pytest.StashKey()
#: A check item's verdict, for its report (and the reporters under xdist).
verdict_key: pytest.StashKey[Verdict] = pytest.StashKey()
#: A grouped check's verdicts, one per subject (None where the rule raised).
group_verdicts_key: pytest.StashKey[list[Verdict | None]] = pytest.StashKey()

REPORT_IT = "this is a bug in pytest-aisupply or in the rule; please report it (with the file, if you can share it)"
