"""Model-card metadata: the YAML front matter of a README.md, read as the Hub reads it.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The Hub's own rule: the block opens the file with '---' and ends at the next line of '---'.
_FRONT_MATTER = re.compile(r"\A\s*---[ \t]*(?:\r\n|\r|\n)(.*?)(?:\r\n|\r|\n)---[ \t]*(?:\r\n|\n|\Z)", re.S)
_MAX_CARD_BYTES = 1 << 20


@dataclass(frozen=True)
class CardFacts:
    metadata: dict[str, Any]
    error: str | None = None

    def licenses(self) -> tuple[str, ...]:
        value = self.metadata.get("license")
        if value is None:
            return ()
        if isinstance(value, list):
            return tuple(str(item) for item in value)
        return (str(value),)

    def base_models(self) -> tuple[str, ...]:
        value = self.metadata.get("base_model")
        if isinstance(value, list):
            return tuple(str(item) for item in value)
        return (str(value),) if value else ()


def _type_problem(metadata: dict[Any, Any]) -> str | None:
    """Why the keys the checks read do not have the types the Hub gives them, or None."""
    for key in ("license", "base_model"):
        value = metadata.get(key)
        items = value if isinstance(value, list) else [value]
        if value is not None and not all(isinstance(item, (str, int, float)) for item in items):
            return f"'{key}' must be a string or a list of strings"
    name = metadata.get("license_name")
    if name is not None and not isinstance(name, str):
        return "'license_name' must be a string"
    return None


def read_card(readme: Path) -> CardFacts | None:
    """Front matter of a README.md (None when it has none), plus ``adapter_config.json``'s
    ``base_model_name_or_path`` next to it."""
    try:
        raw = readme.read_bytes()[:_MAX_CARD_BYTES]
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return CardFacts({}, f"model card cannot be read: {exc}")
    match = _FRONT_MATTER.match(text)
    metadata: dict[str, Any] = {}
    if match:
        import yaml  # type: ignore[import-untyped]

        try:
            # LibYAML's parser when PyYAML has it: the pure-Python one takes quadratic time on
            # deep nesting (a few KiB of '[' take a second) before it fails.
            loaded = yaml.load(match[1], Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            return CardFacts({}, f"model card metadata is not valid YAML: {exc}")
        except RecursionError:
            return CardFacts({}, "model card metadata is nested too deeply to be read")
        except Exception as exc:  # PyYAML's constructors: ValueError for 2020-13-45, IndexError for !!float ''
            return CardFacts({}, f"model card metadata has a value that cannot be read: {type(exc).__name__}: {exc}")
        if loaded is not None and not isinstance(loaded, dict):
            return CardFacts({}, "model card metadata is not a mapping")
        metadata = dict(loaded or {})
        problem = _type_problem(metadata)
        if problem:
            return CardFacts({}, f"model card metadata: {problem}")
    adapter = readme.parent / "adapter_config.json"
    if adapter.is_file():
        try:
            base = json.loads(adapter.read_text(encoding="utf-8")).get("base_model_name_or_path")
        except (OSError, ValueError, AttributeError):
            base = None
        if isinstance(base, str) and base and "base_model" not in metadata:
            metadata["base_model"] = base
    if not match and not metadata:
        return None
    return CardFacts(metadata)
