"""Rules: facts and policy in, findings out. No pytest here."""

from __future__ import annotations

from .base import Rule
from .no_pickle import NoPickleRule
from .pinned_revision import PinnedRevisionRule
from .remote_code import RemoteCodeRule
from .safetensors import SafetensorsRule
from .unsafe_load import UnsafeLoadRule

__all__ = [
    "NoPickleRule",
    "PinnedRevisionRule",
    "RemoteCodeRule",
    "Rule",
    "SafetensorsRule",
    "UnsafeLoadRule",
    "builtin_rules",
]


def builtin_rules() -> list[Rule]:
    return [
        NoPickleRule(),
        SafetensorsRule(),
        PinnedRevisionRule(),
        RemoteCodeRule(),
        UnsafeLoadRule(),
    ]
