"""What a rule is: an id, the subjects it checks, and a check from facts to findings.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..findings import Finding, Subject
    from ..inventory.core import Inventory


@runtime_checkable
class Rule(Protocol):
    """A supply-chain rule. Built-in rules and project rules (from ``pytest_aisupply_rules``)
    implement the same protocol and get the same items, severities, waivers and reports.

    ``subjects`` runs at collection time and must be cheap and deterministic (it may use the
    inventory's sniffed formats, not read whole files); ``check`` runs inside the test item.
    """

    id: str
    summary: str

    def subjects(self, inventory: Inventory) -> Iterable[Subject]: ...

    def check(self, subject: Subject, inventory: Inventory) -> Iterable[Finding]: ...
