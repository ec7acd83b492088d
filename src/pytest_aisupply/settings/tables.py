"""The rarely used tables of ``[tool.aisupply]``: ``[[waive]]``, ``[[signed]]`` and ``[limits]``,
their types and their parsers. ``config`` loads this module only when a project has one of them
(or when a caller asks for ``Waiver``/``SignedSpec``), so a plain configuration is validated
without compiling it.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from ..lockfile.digests import SHA256_HEX
from .limits import Limits
from .values import REPO_ID, TABLE, ConfigError, TableParser, describe, did_you_mean, glob_problem, has_magic


@dataclass(frozen=True)
class Waiver:
    """An exception to a rule for matching subjects, with the reason it was granted."""

    rule: str
    path: str
    reason: str
    sha256: str | None = None
    expires: dt.date | None = None
    line: int | None = None
    source_line: int | None = None

    def describe(self) -> str:
        where = f"pyproject.toml:{self.source_line}" if self.source_line else "pyproject.toml"
        return f"waiver for {self.rule} on {self.path!r} ({where})"


SignerMode = Literal["key", "certificate", "sigstore"]
#: The keys of one ``[[tool.aisupply.signed]]`` table.
SIGNED_KEYS = (
    "path",
    "hub",
    "signature",
    "public_key",
    "certificate_chain",
    "identity",
    "issuer",
    "trust_config",
    "allow_unsigned",
)
DEFAULT_SIGNATURE = "model.sig"


@dataclass(frozen=True)
class SignedSpec:
    """One ``[[tool.aisupply.signed]]`` entry: a model folder glob (``path``) or a Hub repository
    (``hub``) that must carry a valid OpenSSF model signature made by the given signer."""

    path: str | None = None
    hub: str | None = None
    signature: str = DEFAULT_SIGNATURE
    public_key: str | None = None
    certificate_chain: tuple[str, ...] = ()
    identity: str | None = None
    issuer: str | None = None
    trust_config: str | None = None
    allow_unsigned: tuple[str, ...] = ()
    source_line: int | None = None

    @property
    def mode(self) -> SignerMode:
        if self.public_key is not None:
            return "key"
        if self.certificate_chain:
            return "certificate"
        return "sigstore"

    def describe(self) -> str:
        where = f"pyproject.toml:{self.source_line}" if self.source_line else "pyproject.toml"
        target = f"path {self.path!r}" if self.path is not None else f"hub {self.hub!r}"
        return f"[[tool.aisupply.signed]] {target} ({where})"


def parse_limits(parser: TableParser, limits: Any) -> dict[str, int]:
    header = f"{TABLE}.limits"
    if not isinstance(limits, dict):
        raise parser.error("limits", f"expected a table of cap = positive integer, got {describe(limits)}")
    known = Limits.keys()
    values: dict[str, int] = {}
    for key, value in limits.items():
        if key not in known:
            hint = did_you_mean(key, known)
            raise parser.error(key, f"unknown key{hint}; known keys: {', '.join(sorted(known))}", header=header)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise parser.error(key, f"expected a positive integer, got {describe(value)}", header=header)
        values[key] = value
    return values


def parse_waivers(parser: TableParser, entries: Any) -> tuple[Waiver, ...]:
    header = f"{TABLE}.waive"
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise parser.error("waive", "expected [[tool.aisupply.waive]] tables")
    waivers = []
    allowed = {"rule", "path", "reason", "sha256", "expires", "line"}
    for index, entry in enumerate(entries):

        def fail(key: str, message: str, index: int = index) -> ConfigError:
            return parser.error(key, message, header, index)

        for key in entry:
            if key not in allowed:
                raise fail(key, f"unknown key{did_you_mean(key, allowed)}; known keys: {', '.join(sorted(allowed))}")
        for key in ("rule", "path", "reason"):
            if key not in entry:
                raise fail(key, "missing (every waiver needs rule, path and reason)")
            if not isinstance(entry[key], str) or not entry[key].strip():
                raise fail(key, f"expected a non-empty string, got {describe(entry[key])}")
        problem = glob_problem(entry["path"])
        if problem:
            raise fail("path", f"bad glob {entry['path']!r}: {problem}")
        sha256 = entry.get("sha256")
        if sha256 is not None and (not isinstance(sha256, str) or not SHA256_HEX.match(sha256)):
            raise fail("sha256", f"expected 64 lowercase hex characters, got {describe(sha256)}")
        expires = entry.get("expires")
        if expires is not None:
            expires = _parse_date(expires)
            if expires is None:
                raise fail("expires", f"expected a date such as 2027-03-31, got {describe(entry['expires'])}")
        line = entry.get("line")
        if line is not None and (isinstance(line, bool) or not isinstance(line, int) or line < 1):
            raise fail("line", f"expected a line number (1 or more), got {describe(line)}")
        waivers.append(
            Waiver(
                rule=entry["rule"],
                path=entry["path"],
                reason=entry["reason"].strip(),
                sha256=sha256,
                expires=expires,
                line=line,
                source_line=parser.table_start(header, index),
            )
        )
    return tuple(waivers)


def parse_signed(parser: TableParser, entries: Any) -> tuple[SignedSpec, ...]:
    header = f"{TABLE}.signed"
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise parser.error("signed", "expected [[tool.aisupply.signed]] tables")
    specs = []
    for index, entry in enumerate(entries):

        def fail(key: str, message: str, index: int = index) -> ConfigError:
            return parser.error(key, message, header, index)

        for key in entry:
            if key not in SIGNED_KEYS:
                raise fail(
                    key,
                    f"unknown key{did_you_mean(key, SIGNED_KEYS)}; known keys: {', '.join(sorted(SIGNED_KEYS))}",
                )
        for key in ("path", "hub", "signature", "public_key", "identity", "issuer", "trust_config"):
            if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
                raise fail(key, f"expected a non-empty string, got {describe(entry[key])}")
        if ("path" in entry) == ("hub" in entry):
            raise fail("path", "give exactly one of path (a model folder in the project) or hub ('org/name')")
        if "path" in entry:
            problem = glob_problem(entry["path"])
            if problem:
                raise fail("path", f"bad glob {entry['path']!r}: {problem}")
        if "hub" in entry and not re.match(REPO_ID, entry["hub"]):
            raise fail("hub", f"bad repo id {entry['hub']!r}: expected 'org/name'")
        signature = entry.get("signature", DEFAULT_SIGNATURE)
        problem = _inner_path_problem(signature)
        if problem:
            raise fail("signature", f"bad path {signature!r}: {problem} (it is relative to the model folder)")
        chain: tuple[str, ...] = ()
        if "certificate_chain" in entry:
            value = entry["certificate_chain"]
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise fail(
                    "certificate_chain",
                    f"expected a PEM file or a non-empty list of PEM files, got {describe(entry['certificate_chain'])}",
                )
            chain = tuple(value)
        modes = [key for key in ("public_key", "certificate_chain", "identity") if key in entry]
        if len(modes) != 1:
            found = ", ".join(modes) if modes else "none"
            raise fail(
                modes[1] if len(modes) > 1 else "public_key",
                "give exactly one signer: public_key (a PEM public key), certificate_chain (PEM certificates) "
                f"or identity + issuer (Sigstore); found {found}",
            )
        if ("identity" in entry) != ("issuer" in entry):
            raise fail("issuer" if "identity" in entry else "identity", "identity and issuer go together (Sigstore)")
        if "trust_config" in entry and "identity" not in entry:
            raise fail("trust_config", "trust_config only applies to Sigstore signers (identity + issuer)")
        for key, paths in (
            ("public_key", [entry["public_key"]] if "public_key" in entry else []),
            ("certificate_chain", list(chain)),
            ("trust_config", [entry["trust_config"]] if "trust_config" in entry else []),
        ):
            for value in paths:
                problem = _inner_path_problem(value)
                if problem:
                    raise fail(key, f"bad path {value!r}: {problem} (it is relative to the project root)")
        allow_unsigned: tuple[str, ...] = ()
        if "allow_unsigned" in entry:
            value = entry["allow_unsigned"]
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise fail("allow_unsigned", f"expected a list of strings, got {describe(value)}")
            for pattern in value:
                problem = glob_problem(pattern)
                if problem:
                    raise fail("allow_unsigned", f"bad glob {pattern!r}: {problem}")
            allow_unsigned = tuple(value)
        specs.append(
            SignedSpec(
                path=entry.get("path"),
                hub=entry.get("hub"),
                signature=signature,
                public_key=entry.get("public_key"),
                certificate_chain=chain,
                identity=entry.get("identity"),
                issuer=entry.get("issuer"),
                trust_config=entry.get("trust_config"),
                allow_unsigned=allow_unsigned,
                source_line=parser.table_start(header, index),
            )
        )
    return tuple(specs)


def _inner_path_problem(value: str) -> str | None:
    """Why ``value`` is not a plain relative path that stays where it is anchored, or None."""
    if not value.strip():
        return "empty path"
    if value.startswith("/") or re.match(r"[A-Za-z]:[\\/]", value):
        return "must be relative"
    if "\\" in value:
        return "use '/' as the path separator"
    if any(part == ".." for part in value.split("/")):
        return "must not contain '..'"
    if has_magic(value):
        return "must be a plain path, not a glob"
    return None


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None
