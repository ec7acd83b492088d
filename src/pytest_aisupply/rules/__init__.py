"""Rules: facts and policy in, findings out. No pytest here.

The built-in rules are listed here by id and summary, with the kind of subject each one checks;
a rule's module (and the format readers and code analysis it uses) is imported only when the
project has something of that kind, so a run with nothing to check stays at pytest's start-up.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from .base import Rule

if TYPE_CHECKING:
    from ..findings import Finding, Subject
    from ..inventory.core import Inventory
    from .integrity import IntegrityRule
    from .license import LicenseRule
    from .no_pickle import NoPickleRule
    from .pinned_revision import PinnedRevisionRule
    from .remote_code import RemoteCodeRule
    from .safetensors import SafetensorsRule
    from .signature import SignatureRule
    from .source import SourceRule
    from .unsafe_format import UnsafeFormatRule
    from .unsafe_load import UnsafeLoadRule

__all__ = [
    "BUILTIN_RULES",
    "IntegrityRule",
    "LazyRule",
    "LicenseRule",
    "NoPickleRule",
    "PinnedRevisionRule",
    "RemoteCodeRule",
    "Rule",
    "RuleEntry",
    "SafetensorsRule",
    "SignatureRule",
    "SourceRule",
    "UnsafeFormatRule",
    "UnsafeLoadRule",
    "builtin_rules",
]


# -- what each rule's subjects come from (each answer errs towards "maybe": then the rule is asked) --


def _artifacts(inventory: Inventory) -> bool:
    """Files under the artifact roots, or Hub files that pinned references load (lockfile entries)."""
    return bool(inventory.artifact_root_files) or _hub_entries(inventory)


def _hub_entries(inventory: Inventory) -> bool:
    return inventory.lock is not None and bool(inventory.lock.hub)


def _code(inventory: Inventory) -> bool:
    return inventory.has_code_files


def _lockfile(inventory: Inventory) -> bool:
    """A missing lockfile (one check says so), else the artifacts and the Hub references of the code."""
    lock = inventory.lock
    if lock is None:
        return False
    if not lock.exists and not inventory.update:
        return True
    return bool(inventory.artifact_root_files) or inventory.has_code_files


def _licensed(inventory: Inventory) -> bool:
    """Hub entries of the lockfile, or model cards among the files under the artifact roots."""
    return _hub_entries(inventory) or bool(inventory.artifact_root_files)


def _sources(inventory: Inventory) -> bool:
    return bool(inventory.settings.allowed_sources or inventory.settings.denied_sources)


def _signed(inventory: Inventory) -> bool:
    return bool(inventory.settings.signed)


class RuleEntry(NamedTuple):
    """A built-in rule as the registry knows it before its module is imported (a named tuple: a
    frozen dataclass would generate and compile its methods on every start-up)."""

    id: str
    summary: str
    module: str
    class_name: str
    #: False only when the rule cannot have a subject in this inventory (then its module stays unloaded).
    may_have_subjects: Callable[[Inventory], bool]


#: The built-in rules in collection order. ``summary`` repeats the class's (a test keeps them equal).
BUILTIN_RULES = (
    RuleEntry(
        "no-pickle",
        "artifacts hold no pickle stream (decided by content, never by file name)",
        "no_pickle",
        "NoPickleRule",
        _artifacts,
    ),
    RuleEntry(
        "safetensors",
        "safetensors headers are well-formed and describe the data exactly",
        "safetensors",
        "SafetensorsRule",
        _artifacts,
    ),
    RuleEntry(
        "pinned-revision",
        "Hub models, datasets and torch.hub repos are pinned to a 40-hex commit",
        "pinned_revision",
        "PinnedRevisionRule",
        _code,
    ),
    RuleEntry(
        "remote-code",
        "trust_remote_code and custom pipelines only for allow-listed repos pinned to a commit",
        "remote_code",
        "RemoteCodeRule",
        _code,
    ),
    RuleEntry(
        "unsafe-load",
        "no pickle-based loading (torch.load without weights_only=True, pickle, joblib, ...)",
        "unsafe_load",
        "UnsafeLoadRule",
        _code,
    ),
    RuleEntry(
        "unsafe-format",
        "Keras, SavedModel, ONNX and GGUF files carry no code: no Lambda layers or foreign functions, "
        "no file/shell/Python ops, no external data outside the model, no chat-template injection",
        "unsafe_format",
        "UnsafeFormatRule",
        _artifacts,
    ),
    RuleEntry(
        "integrity",
        "artifacts and pinned Hub references match the reviewed lockfile",
        "integrity",
        "IntegrityRule",
        _lockfile,
    ),
    RuleEntry(
        "license",
        "models and datasets carry a license in allowed_licenses; base models too",
        "license",
        "LicenseRule",
        _licensed,
    ),
    RuleEntry(
        "source",
        "repo ids match allowed_sources and not denied_sources",
        "source",
        "SourceRule",
        _sources,
    ),
    RuleEntry(
        "signature",
        "model folders named in [[tool.aisupply.signed]] carry a valid OpenSSF model signature",
        "signature",
        "SignatureRule",
        _signed,
    ),
)


class LazyRule:
    """A built-in rule that imports its module at first use: when it is asked to check, for anything
    beyond its id and summary, or for its subjects when the inventory may hold any."""

    def __init__(self, entry: RuleEntry) -> None:
        self.entry = entry
        self.id = entry.id
        self.summary = entry.summary
        self._rule: Rule | None = None

    @property
    def rule(self) -> Rule:
        """The rule itself (its module imported now if it was not yet)."""
        if self._rule is None:
            module = importlib.import_module(f"{__name__}.{self.entry.module}")
            self._rule = getattr(module, self.entry.class_name)()
        return self._rule

    @property
    def loaded(self) -> bool:
        return self._rule is not None

    def subjects(self, inventory: Inventory) -> Iterable[Subject]:
        if self._rule is None and not self.entry.may_have_subjects(inventory):
            return []
        return self.rule.subjects(inventory)

    def check(self, subject: Subject, inventory: Inventory) -> Iterable[Finding]:
        return self.rule.check(subject, inventory)

    def __getattr__(self, name: str) -> Any:
        # only reached for attributes this proxy lacks: a rule's own helpers (``call_sites`` ...)
        if name.startswith("_") or name in ("entry", "id", "summary"):
            raise AttributeError(name)
        return getattr(self.rule, name)

    def __repr__(self) -> str:
        return f"<LazyRule {self.id} ({'loaded' if self._rule is not None else 'not loaded'})>"


def builtin_rules() -> list[Rule]:
    return [LazyRule(entry) for entry in BUILTIN_RULES]


_CLASSES = {entry.class_name: entry.module for entry in BUILTIN_RULES}


def __getattr__(name: str) -> Any:
    """``from pytest_aisupply.rules import NoPickleRule`` still works: the class, imported on demand."""
    module = _CLASSES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
