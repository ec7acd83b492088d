"""Rules: facts and policy in, findings out. No pytest here."""

from __future__ import annotations

from .base import Rule
from .no_pickle import NoPickleRule
from .safetensors import SafetensorsRule

__all__ = ["NoPickleRule", "Rule", "SafetensorsRule", "builtin_rules"]


def builtin_rules() -> list[Rule]:
    return [NoPickleRule(), SafetensorsRule()]
