"""Rules: facts and policy in, findings out. No pytest here.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from .base import Rule
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
    "IntegrityRule",
    "LicenseRule",
    "NoPickleRule",
    "PinnedRevisionRule",
    "RemoteCodeRule",
    "Rule",
    "SafetensorsRule",
    "SignatureRule",
    "SourceRule",
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
        UnsafeFormatRule(),
        IntegrityRule(),
        LicenseRule(),
        SourceRule(),
        SignatureRule(),
    ]
