"""The ``[tool.aisupply]`` table of ``pyproject.toml``: read once, validated, typed.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from .values import REPO_ID, describe, did_you_mean
from .values import TABLE as TABLE
from .values import ConfigError as ConfigError
from .values import glob_problem as glob_problem
from .values import has_magic as has_magic

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from ..findings import Severity
    from .limits import Limits
    from .tables import SignedSpec, Waiver

PickleMode = Literal["forbid", "scan"]
Granularity = Literal["file", "folder", "rule"]
GRANULARITIES: tuple[Granularity, ...] = ("file", "folder", "rule")

# Patterns, not compiled ones: ``re`` compiles (and caches) each the first time a key needs it, so a
# configuration without these keys costs no regex compilation at start-up.
_GLOBAL_PATTERN = r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(\.\*)?\Z"
_SOURCE_PATTERN = r"[\w.*?-]+(/[\w.*?-]+)?\Z"
_DOTTED_NAME = r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z"


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
    # What a project declares about its own code (code rules): see settings/schema.py, CODE_KEYS.
    local_path_names: tuple[str, ...] = ()
    pinning_functions: tuple[str, ...] = ()
    argparse_defaults: bool = False
    #: How many files one collected check covers (issue 18): "file", "folder" or "rule".
    granularity: Granularity = "file"

    @property
    def limits(self) -> Limits:
        """The resource caps every reader works within."""
        from .limits import Limits

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
    def table_start(self, header: str, index: int = 0) -> int | None:
        pattern = re.compile(r"^\s*\[{1,2}\s*" + re.escape(header) + r"\s*\]{1,2}\s*(#.*)?$")
        seen = -1
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                seen += 1
                if seen == index:
                    return number
        return None

    def line_of(self, key: str, header: str = TABLE, index: int = 0) -> int | None:
        start = self.table_start(header, index)
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
            raise self.error(key, f"expected a list of strings, got {describe(value)}", header)
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
                hint = did_you_mean(key, known)
                raise self.error(key, f"unknown key{hint}; known keys: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        for key in ("artifacts", "code", "exclude"):
            if key in table:
                values[key] = self.glob_list(table, key)
        if "pickle" in table:
            mode = table["pickle"]
            if mode not in ("forbid", "scan"):
                raise self.error("pickle", f'expected "forbid" or "scan", got {describe(mode)}')
            values["pickle"] = mode
        # -- granularity (issue 18) --
        if "granularity" in table:
            granularity = table["granularity"]
            if granularity not in GRANULARITIES:
                raise self.error("granularity", f'expected "file", "folder" or "rule", got {describe(granularity)}')
            values["granularity"] = granularity
        if "pickle_allowed_globals" in table:
            patterns = self.string_list(table, "pickle_allowed_globals")
            for pattern in patterns:
                if not re.match(_GLOBAL_PATTERN, pattern):
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
                    if not re.match(_SOURCE_PATTERN, pattern):
                        raise self.error(key, f"bad pattern {pattern!r}: expected 'org/name' globs such as 'google/*'")
                values[key] = patterns
        if "trust_remote_code" in table:
            repos = self.string_list(table, "trust_remote_code")
            for repo in repos:
                if not re.match(REPO_ID, repo):
                    raise self.error("trust_remote_code", f"bad repo id {repo!r}: expected 'org/name'")
            values["trust_remote_code"] = repos
        if "lockfile" in table:
            lockfile = table["lockfile"]
            if not isinstance(lockfile, str):
                raise self.error("lockfile", f"expected a path string, got {describe(lockfile)}")
            values["lockfile"] = lockfile
        if "max_review_age_days" in table:
            days = table["max_review_age_days"]
            if isinstance(days, bool) or not isinstance(days, int) or days < 1:
                raise self.error("max_review_age_days", f"expected a positive integer, got {describe(days)}")
            values["max_review_age_days"] = days
        if "rules" in table:
            values["rules"], values["rule_lines"] = self.parse_rules(table["rules"])
        if "waive" in table:
            from .tables import parse_waivers

            values["waivers"] = parse_waivers(self, table["waive"])
        if "limits" in table:
            from .tables import parse_limits

            values["limit_overrides"] = parse_limits(self, table["limits"])
        if "signed" in table:
            from .tables import parse_signed

            values["signed"] = parse_signed(self, table["signed"])
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
                    if not re.match(_DOTTED_NAME, name):
                        raise self.error(key, f"bad name {name!r}: expected a Python name such as 'a.b'")
                values[key] = names
        if "argparse_defaults" in table:
            flag = table["argparse_defaults"]
            if not isinstance(flag, bool):
                raise self.error("argparse_defaults", f"expected true or false, got {describe(flag)}")
            values["argparse_defaults"] = flag
        return values

    def parse_rules(self, rules: Any) -> tuple[dict[str, Severity], dict[str, int]]:
        if not isinstance(rules, dict):
            raise self.error("rules", f"expected a table of rule = severity, got {describe(rules)}")
        from ..findings import SEVERITIES  # only with a rules table: the value types stay unloaded

        severities: dict[str, Severity] = {}
        lines: dict[str, int] = {}
        for rule_id, severity in rules.items():
            if severity not in SEVERITIES:
                raise self.error(
                    rule_id,
                    f'expected "error", "warn" or "off", got {describe(severity)}',
                    header=f"{TABLE}.rules",
                )
            severities[rule_id] = cast("Severity", severity)
            line = self.line_of(rule_id, f"{TABLE}.rules")
            if line is not None:
                lines[rule_id] = line
        return severities, lines

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
