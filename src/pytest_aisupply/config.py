"""The ``[tool.aisupply]`` table of ``pyproject.toml``: read once, validated, typed.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from .digests import SHA256_HEX
from .findings import SEVERITIES, Severity
from .limits import Limits

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

TABLE = "tool.aisupply"
PickleMode = Literal["forbid", "scan"]
Granularity = Literal["file", "folder", "rule"]
GRANULARITIES: tuple[Granularity, ...] = ("file", "folder", "rule")

_GLOBAL_PATTERN = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(\.\*)?\Z")
_REPO_ID = re.compile(r"[\w.-]+/[\w.-]+\Z")
_SOURCE_PATTERN = re.compile(r"[\w.*?-]+(/[\w.*?-]+)?\Z")


class ConfigError(Exception):
    """The configuration is invalid; the message names the file, line and key."""


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


# -- [[tool.aisupply.signed]] (issue 15) -----------------------------------------------------------

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


@dataclass(frozen=True)
class Settings:
    """Validated ``[tool.aisupply]`` settings. Paths are relative to ``root``."""

    root: Path
    source: Path | None = None
    artifacts: tuple[str, ...] = (".",)
    code: tuple[str, ...] = (".",)
    exclude: tuple[str, ...] = ()
    pickle: PickleMode = "forbid"
    pickle_allowed_globals: tuple[str, ...] = ()
    allowed_licenses: tuple[str, ...] = ()
    allowed_sources: tuple[str, ...] = ()
    denied_sources: tuple[str, ...] = ()
    trust_remote_code: tuple[str, ...] = ()
    lockfile: str = "aisupply.lock"
    max_review_age_days: int | None = None
    rules: Mapping[str, Severity] = field(default_factory=dict)
    waivers: tuple[Waiver, ...] = ()
    rule_lines: Mapping[str, int] = field(default_factory=dict)
    #: ``[tool.aisupply.limits]``: the caps set explicitly (the others keep their defaults).
    limit_overrides: Mapping[str, int] = field(default_factory=dict)
    #: ``[[tool.aisupply.signed]]``: what must carry an OpenSSF model signature, and by whom.
    signed: tuple[SignedSpec, ...] = ()
    # What a project declares about its own code (code rules): see config_schema.CODE_KEYS.
    local_path_names: tuple[str, ...] = ()
    pinning_functions: tuple[str, ...] = ()
    argparse_defaults: bool = False
    #: How many files one collected check covers (issue 18): "file", "folder" or "rule".
    granularity: Granularity = "file"

    @property
    def limits(self) -> Limits:
        """The resource caps every reader works within."""
        return Limits(**self.limit_overrides)

    def severity(self, rule_id: str, default: Severity = "error") -> Severity:
        return self.rules.get(rule_id, default)

    def check_rule_ids(self, known: Iterable[str]) -> None:
        """Reject rule ids (in ``rules`` and waivers) that no registered rule has."""
        known_ids = sorted(set(known))
        listed = ", ".join(known_ids)
        for rule_id in self.rules:
            if rule_id not in known_ids:
                raise ConfigError(
                    f"{self._where(self.rule_lines.get(rule_id))}[{TABLE}.rules] unknown rule id "
                    f"{rule_id!r}; known rules: {listed}"
                )
        for waiver in self.waivers:
            if waiver.rule not in known_ids:
                raise ConfigError(
                    f"{self._where(waiver.source_line)}[[{TABLE}.waive]] rule: unknown rule id "
                    f"{waiver.rule!r}; known rules: {listed}"
                )

    def _where(self, line: int | None) -> str:
        name = self.source.name if self.source else "pyproject.toml"
        return f"{name}:{line}: " if line else f"{name}: "


def has_table(pyproject: Path) -> bool:
    """True when the file exists and has a ``[tool.aisupply]`` table (invalid TOML counts as True
    when the table header is present, so the syntax error is reported rather than ignored)."""
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if "aisupply" not in text:
        return False
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return bool(re.search(r"^\s*\[+\s*tool\.aisupply\b", text, re.M))
    return isinstance(data.get("tool"), dict) and "aisupply" in data["tool"]


def load_settings(pyproject: Path | None, root: Path) -> Settings:
    """Read ``[tool.aisupply]`` from ``pyproject`` (or defaults when it is None or absent)."""
    if pyproject is None or not pyproject.is_file():
        return Settings(root=root)
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{pyproject}: cannot read: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject.name}: invalid TOML: {exc}") from exc
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ConfigError(f"{pyproject.name}: invalid TOML: values nested too deeply") from None
    table = data.get("tool", {}).get("aisupply", {}) if isinstance(data.get("tool"), dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject.name}: [{TABLE}] must be a table")
    return _Parser(pyproject, text, pyproject.parent).parse(table)


class _Parser:
    def __init__(self, source: Path, text: str, root: Path) -> None:
        self.source = source
        self.lines = text.splitlines()
        self.root = root

    # -- locating keys in the text, for messages ------------------------------------------------
    def _table_start(self, header: str, index: int = 0) -> int | None:
        pattern = re.compile(r"^\s*\[{1,2}\s*" + re.escape(header) + r"\s*\]{1,2}\s*(#.*)?$")
        seen = -1
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                seen += 1
                if seen == index:
                    return number
        return None

    def line_of(self, key: str, header: str = TABLE, index: int = 0) -> int | None:
        start = self._table_start(header, index)
        if start is None:
            return None
        key_pattern = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=")
        for number in range(start + 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if re.match(r"^\s*\[", line):
                break
            if key_pattern.match(line):
                return number
        return start

    def error(self, key: str, message: str, header: str = TABLE, index: int = 0) -> ConfigError:
        line = self.line_of(key, header, index)
        where = f"{self.source.name}:{line}" if line else self.source.name
        table = f"[[{header}]]" if header.endswith(("waive", "signed")) else f"[{header}]"
        return ConfigError(f"{where}: {table} {key}: {message}")

    # -- value checks -------------------------------------------------------------------------
    def string_list(self, table: Mapping[str, Any], key: str, *, header: str = TABLE) -> tuple[str, ...]:
        value = table[key]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.error(key, f"expected a list of strings, got {_describe(value)}", header)
        return tuple(value)

    def glob_list(self, table: Mapping[str, Any], key: str) -> tuple[str, ...]:
        values = self.string_list(table, key)
        for value in values:
            problem = glob_problem(value)
            if problem:
                raise self.error(key, f"bad glob {value!r}: {problem}")
        return values

    def parse(self, table: Mapping[str, Any]) -> Settings:
        known = {field_name for field_name in _TOP_LEVEL_KEYS}
        for key in table:
            if key not in known:
                hint = _did_you_mean(key, known)
                raise self.error(key, f"unknown key{hint}; known keys: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        for key in ("artifacts", "code", "exclude"):
            if key in table:
                values[key] = self.glob_list(table, key)
        if "pickle" in table:
            mode = table["pickle"]
            if mode not in ("forbid", "scan"):
                raise self.error("pickle", f'expected "forbid" or "scan", got {_describe(mode)}')
            values["pickle"] = mode
        # -- granularity (issue 18) --
        if "granularity" in table:
            granularity = table["granularity"]
            if granularity not in GRANULARITIES:
                raise self.error("granularity", f'expected "file", "folder" or "rule", got {_describe(granularity)}')
            values["granularity"] = granularity
        if "pickle_allowed_globals" in table:
            patterns = self.string_list(table, "pickle_allowed_globals")
            for pattern in patterns:
                if not _GLOBAL_PATTERN.match(pattern):
                    raise self.error(
                        "pickle_allowed_globals",
                        f"bad global {pattern!r}: use a dotted name such as "
                        "'collections.OrderedDict' or a package pattern such as 'sklearn.*'",
                    )
            values["pickle_allowed_globals"] = patterns
        if "allowed_licenses" in table:
            licenses = self.string_list(table, "allowed_licenses")
            if any(not item.strip() for item in licenses):
                raise self.error("allowed_licenses", "license ids must not be empty")
            values["allowed_licenses"] = tuple(item.strip().lower() for item in licenses)
        for key in ("allowed_sources", "denied_sources"):
            if key in table:
                patterns = self.string_list(table, key)
                for pattern in patterns:
                    if not _SOURCE_PATTERN.match(pattern):
                        raise self.error(key, f"bad pattern {pattern!r}: expected 'org/name' globs such as 'google/*'")
                values[key] = patterns
        if "trust_remote_code" in table:
            repos = self.string_list(table, "trust_remote_code")
            for repo in repos:
                if not _REPO_ID.match(repo):
                    raise self.error("trust_remote_code", f"bad repo id {repo!r}: expected 'org/name'")
            values["trust_remote_code"] = repos
        if "lockfile" in table:
            lockfile = table["lockfile"]
            if not isinstance(lockfile, str):
                raise self.error("lockfile", f"expected a path string, got {_describe(lockfile)}")
            values["lockfile"] = lockfile
        if "max_review_age_days" in table:
            days = table["max_review_age_days"]
            if isinstance(days, bool) or not isinstance(days, int) or days < 1:
                raise self.error("max_review_age_days", f"expected a positive integer, got {_describe(days)}")
            values["max_review_age_days"] = days
        if "rules" in table:
            values["rules"], values["rule_lines"] = self.parse_rules(table["rules"])
        if "waive" in table:
            values["waivers"] = self.parse_waivers(table["waive"])
        if "limits" in table:
            values["limit_overrides"] = self.parse_limits(table["limits"])
        if "signed" in table:
            values["signed"] = self.parse_signed(table["signed"])
        values.update(self.parse_code_declarations(table))
        self.check_roots(values)
        return Settings(root=self.root, source=self.source, **values)

    def parse_code_declarations(self, table: Mapping[str, Any]) -> dict[str, Any]:
        """``local_path_names``, ``pinning_functions``, ``argparse_defaults`` (code rules)."""
        values: dict[str, Any] = {}
        for key in ("local_path_names", "pinning_functions"):
            if key in table:
                names = self.string_list(table, key)
                for name in names:
                    if not _DOTTED_NAME.match(name):
                        raise self.error(key, f"bad name {name!r}: expected a Python name such as 'a.b'")
                values[key] = names
        if "argparse_defaults" in table:
            flag = table["argparse_defaults"]
            if not isinstance(flag, bool):
                raise self.error("argparse_defaults", f"expected true or false, got {_describe(flag)}")
            values["argparse_defaults"] = flag
        return values

    def parse_rules(self, rules: Any) -> tuple[dict[str, Severity], dict[str, int]]:
        if not isinstance(rules, dict):
            raise self.error("rules", f"expected a table of rule = severity, got {_describe(rules)}")
        severities: dict[str, Severity] = {}
        lines: dict[str, int] = {}
        for rule_id, severity in rules.items():
            if severity not in SEVERITIES:
                raise self.error(
                    rule_id,
                    f'expected "error", "warn" or "off", got {_describe(severity)}',
                    header=f"{TABLE}.rules",
                )
            severities[rule_id] = cast(Severity, severity)
            line = self.line_of(rule_id, f"{TABLE}.rules")
            if line is not None:
                lines[rule_id] = line
        return severities, lines

    def parse_limits(self, limits: Any) -> dict[str, int]:
        header = f"{TABLE}.limits"
        if not isinstance(limits, dict):
            raise self.error("limits", f"expected a table of cap = positive integer, got {_describe(limits)}")
        known = Limits.keys()
        values: dict[str, int] = {}
        for key, value in limits.items():
            if key not in known:
                hint = _did_you_mean(key, known)
                raise self.error(key, f"unknown key{hint}; known keys: {', '.join(sorted(known))}", header=header)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise self.error(key, f"expected a positive integer, got {_describe(value)}", header=header)
            values[key] = value
        return values

    def parse_waivers(self, entries: Any) -> tuple[Waiver, ...]:
        header = f"{TABLE}.waive"
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise self.error("waive", "expected [[tool.aisupply.waive]] tables")
        waivers = []
        allowed = {"rule", "path", "reason", "sha256", "expires", "line"}
        for index, entry in enumerate(entries):

            def fail(key: str, message: str, index: int = index) -> ConfigError:
                return self.error(key, message, header, index)

            for key in entry:
                if key not in allowed:
                    raise fail(
                        key, f"unknown key{_did_you_mean(key, allowed)}; known keys: {', '.join(sorted(allowed))}"
                    )
            for key in ("rule", "path", "reason"):
                if key not in entry:
                    raise fail(key, "missing (every waiver needs rule, path and reason)")
                if not isinstance(entry[key], str) or not entry[key].strip():
                    raise fail(key, f"expected a non-empty string, got {_describe(entry[key])}")
            problem = glob_problem(entry["path"])
            if problem:
                raise fail("path", f"bad glob {entry['path']!r}: {problem}")
            sha256 = entry.get("sha256")
            if sha256 is not None and (not isinstance(sha256, str) or not SHA256_HEX.match(sha256)):
                raise fail("sha256", f"expected 64 lowercase hex characters, got {_describe(sha256)}")
            expires = entry.get("expires")
            if expires is not None:
                expires = _parse_date(expires)
                if expires is None:
                    raise fail("expires", f"expected a date such as 2027-03-31, got {_describe(entry['expires'])}")
            line = entry.get("line")
            if line is not None and (isinstance(line, bool) or not isinstance(line, int) or line < 1):
                raise fail("line", f"expected a line number (1 or more), got {_describe(line)}")
            waivers.append(
                Waiver(
                    rule=entry["rule"],
                    path=entry["path"],
                    reason=entry["reason"].strip(),
                    sha256=sha256,
                    expires=expires,
                    line=line,
                    source_line=self._table_start(header, index),
                )
            )
        return tuple(waivers)

    def check_roots(self, values: Mapping[str, Any]) -> None:
        for key in ("artifacts", "code"):
            for entry in values.get(key, ()):
                if has_magic(entry):
                    continue
                path = self.root / entry
                try:
                    exists = path.exists()
                except (OSError, ValueError) as exc:  # a name too long, a NUL byte ...
                    raise self.error(key, f"{entry!r} cannot be used as a path: {exc}") from None
                if not exists:
                    raise self.error(key, f"{entry!r} does not exist (relative to {self.root})")

    # -- [[tool.aisupply.signed]] (issue 15) ------------------------------------------------------
    def parse_signed(self, entries: Any) -> tuple[SignedSpec, ...]:
        header = f"{TABLE}.signed"
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise self.error("signed", "expected [[tool.aisupply.signed]] tables")
        specs = []
        for index, entry in enumerate(entries):

            def fail(key: str, message: str, index: int = index) -> ConfigError:
                return self.error(key, message, header, index)

            for key in entry:
                if key not in SIGNED_KEYS:
                    raise fail(
                        key,
                        f"unknown key{_did_you_mean(key, SIGNED_KEYS)}; known keys: {', '.join(sorted(SIGNED_KEYS))}",
                    )
            for key in ("path", "hub", "signature", "public_key", "identity", "issuer", "trust_config"):
                if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
                    raise fail(key, f"expected a non-empty string, got {_describe(entry[key])}")
            if ("path" in entry) == ("hub" in entry):
                raise fail("path", "give exactly one of path (a model folder in the project) or hub ('org/name')")
            if "path" in entry:
                problem = glob_problem(entry["path"])
                if problem:
                    raise fail("path", f"bad glob {entry['path']!r}: {problem}")
            if "hub" in entry and not _REPO_ID.match(entry["hub"]):
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
                        "expected a PEM file or a non-empty list of PEM files, "
                        f"got {_describe(entry['certificate_chain'])}",
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
                raise fail(
                    "issuer" if "identity" in entry else "identity", "identity and issuer go together (Sigstore)"
                )
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
                    raise fail("allow_unsigned", f"expected a list of strings, got {_describe(value)}")
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
                    source_line=self._table_start(header, index),
                )
            )
        return tuple(specs)


_TOP_LEVEL_KEYS: tuple[str, ...] = (
    "artifacts",
    "code",
    "exclude",
    "pickle",
    "pickle_allowed_globals",
    "allowed_licenses",
    "allowed_sources",
    "denied_sources",
    "trust_remote_code",
    "lockfile",
    "max_review_age_days",
    "rules",
    "waive",
    "limits",
    "signed",
)
# code rules: what a project declares about its own code
_TOP_LEVEL_KEYS = (*_TOP_LEVEL_KEYS, "local_path_names", "pinning_functions", "argparse_defaults")
# how many files one collected check covers (issue 18)
_TOP_LEVEL_KEYS = (*_TOP_LEVEL_KEYS, "granularity")
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z")


def has_magic(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def glob_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable project-relative glob, or None."""
    if not pattern.strip():
        return "empty pattern"
    if pattern.startswith("/") or re.match(r"[A-Za-z]:[\\/]", pattern):
        return "must be relative to the project root"
    if "\\" in pattern:
        return "use '/' as the path separator"
    if any(part == ".." for part in pattern.split("/")):
        return "must not leave the project root ('..')"
    depth = 0
    for char in pattern:
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
    if depth:
        return "unclosed '['"
    if re.search(r"[^/]\*\*|\*\*[^/]", pattern):
        return "'**' must be a whole path segment, as in 'data/**' or '**/tmp'"
    return None


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


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return f"{str(value).lower()} (boolean)"
    if isinstance(value, (int, float)):
        return f"{value} ({type(value).__name__})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _did_you_mean(key: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
