"""License ids as the Hub and SPDX write them, and whether a policy allows them.

Hugging Face ids are mapped to SPDX keys; SPDX expressions are parsed with ``license-expression``
(imported only when an expression needs parsing). ``A OR B`` is allowed when either side is,
``A AND B`` only when both are, ``A WITH exception`` when ``A`` is. Comparison ignores case.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Hub license ids whose SPDX key differs from the id (everything else maps to itself).
HF_TO_SPDX = {
    "agpl-3.0": "agpl-3.0-only",
    "gpl-2.0": "gpl-2.0-only",
    "gpl-3.0": "gpl-3.0-only",
    "lgpl-2.1": "lgpl-2.1-only",
    "lgpl-3.0": "lgpl-3.0-only",
    "c-uda": "c-uda-1.0",
    "odbl": "odbl-1.0",
    "odc-by": "odc-by-1.0",
    "pddl": "pddl-1.0",
    "lgpl-lr": "lgpllr",
}
#: Ids that say nothing definite about the terms.
UNKNOWN = frozenset({"unknown", "noassertion", "none", ""})


@dataclass(frozen=True)
class LicenseVerdict:
    allowed: bool
    shown: str
    reason: str = ""


def normalise(license_id: str) -> str:
    key = license_id.strip().lower()
    return HF_TO_SPDX.get(key, key)


def _allowed_keys(allowed: Iterable[str]) -> set[str]:
    return {normalise(item) for item in allowed}


def check_license(
    declared: tuple[str, ...],
    allowed: Iterable[str],
    *,
    license_name: str | None = None,
) -> LicenseVerdict:
    """Whether every declared license (a card may list several) is allowed."""
    keys = _allowed_keys(allowed)
    if not declared:
        return LicenseVerdict(False, "none declared", "the model card declares no license")
    for item in declared:
        verdict = _check_one(item, keys, license_name)
        if not verdict.allowed:
            return verdict
    return LicenseVerdict(True, ", ".join(declared))


def _check_one(declared: str, keys: set[str], license_name: str | None) -> LicenseVerdict:
    key = normalise(declared)
    if key in UNKNOWN:
        return LicenseVerdict(False, declared or "unknown", "the license is unknown")
    if key == "other":
        if not license_name:
            return LicenseVerdict(False, "other", "license 'other' without a license_name")
        name = license_name.strip().lower()
        ok = name in keys or f"licenseref-{name}" in keys or f"other:{name}" in keys
        return LicenseVerdict(ok, f"other ({license_name})", "" if ok else "not in allowed_licenses")
    if not keys:
        return LicenseVerdict(True, declared)
    if key in keys:
        return LicenseVerdict(True, declared)
    if any(operator in key for operator in (" or ", " and ", " with ", "(")):
        return _check_expression(declared, keys)
    return LicenseVerdict(False, declared, "not in allowed_licenses")


def _check_expression(declared: str, keys: set[str]) -> LicenseVerdict:
    from license_expression import ExpressionError, get_spdx_licensing  # type: ignore[import-untyped]

    licensing = get_spdx_licensing()
    try:
        expression = licensing.parse(declared, validate=False)
        ok = _evaluate(expression, keys)
    except ExpressionError as exc:
        return LicenseVerdict(False, declared, f"not a valid SPDX expression: {exc}")
    except Exception as exc:
        # The expression parser is not made for hostile text: unbalanced parentheses and stray
        # numbers make it fail with IndexError, AssertionError ... (found by fuzzing).
        return LicenseVerdict(False, declared, f"not a valid SPDX expression ({type(exc).__name__})")
    return LicenseVerdict(ok, declared, "" if ok else "no alternative of the expression is in allowed_licenses")


def _evaluate(node: object, keys: set[str]) -> bool:
    from license_expression import AND, OR, LicenseSymbol, LicenseWithExceptionSymbol

    if isinstance(node, LicenseWithExceptionSymbol):
        return normalise(str(node.license_symbol.key)) in keys
    if isinstance(node, LicenseSymbol):
        return normalise(str(node.key)) in keys
    if isinstance(node, OR):
        return any(_evaluate(arg, keys) for arg in node.args)
    if isinstance(node, AND):
        return all(_evaluate(arg, keys) for arg in node.args)
    return False
