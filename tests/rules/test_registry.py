"""The rule registry: built-in rules known by id, summary and subject kind before their modules are
imported, and the same subjects as the rules themselves in every project shape (differential)."""

from __future__ import annotations

import importlib
import os
import pickle
import pkgutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import pytest_aisupply.rules
from pytest_aisupply.formats import builtin_readers
from pytest_aisupply.lockfile.lock import read_lock
from pytest_aisupply.rules import BUILTIN_RULES, LazyRule, builtin_rules
from pytest_aisupply.settings.config import load_settings
from pytest_aisupply.verdicts.engine import Engine

PINNED = "0123456789abcdef0123456789abcdef01234567"


def _real_rule_classes() -> dict[str, type]:
    """Every class in rules/ with a rule's id, summary, subjects and check, by id."""
    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(pytest_aisupply.rules.__path__):
        module = importlib.import_module(f"pytest_aisupply.rules.{info.name}")
        for value in vars(module).values():
            rule_id: object = getattr(value, "id", None)
            if (
                isinstance(value, type)
                and value.__module__ == module.__name__
                and isinstance(rule_id, str)
                and rule_id
                and callable(getattr(value, "check", None))
                and callable(getattr(value, "subjects", None))
            ):
                found[rule_id] = value
    return found


def test_the_registry_lists_every_rule_with_its_own_id_summary_and_class() -> None:
    classes = _real_rule_classes()
    assert sorted(entry.id for entry in BUILTIN_RULES) == sorted(classes)
    for entry in BUILTIN_RULES:
        rule = LazyRule(entry).rule
        assert type(rule) is classes[entry.id]
        assert (rule.id, rule.summary) == (entry.id, entry.summary)


def test_a_rule_class_can_still_be_imported_from_the_package() -> None:
    from pytest_aisupply.rules import NoPickleRule

    assert NoPickleRule().id == "no-pickle"
    with pytest.raises(ImportError):
        from pytest_aisupply.rules import NoSuchRule  # noqa: F401


# -- project shapes: each rule's subjects through the registry equal the rule's own -------------------


def _empty(root: Path) -> str:
    (root / "models").mkdir()
    (root / "src").mkdir()
    return 'lockfile = ""\n'


def _artifacts_only(root: Path) -> str:
    _empty(root)
    save_file({"w": np.zeros((2, 2), np.float32)}, str(root / "models" / "w.safetensors"))
    (root / "models" / "clf.pkl").write_bytes(pickle.dumps(os.system))
    (root / "models" / "notes.txt").write_text("not an artifact\n")
    return 'lockfile = ""\n'


def _model_card_only(root: Path) -> str:
    _empty(root)
    (root / "models" / "README.md").write_text("---\nlicense: mit\nbase_model: org/base\n---\n# A model\n")
    return 'lockfile = ""\nallowed_licenses = ["mit"]\nallowed_sources = ["org/*"]\n'


def _code_only(root: Path) -> str:
    _empty(root)
    (root / "src" / "train.py").write_text(
        "import torch\nfrom transformers import AutoModel\n\n"
        f"model = AutoModel.from_pretrained('org/model', revision='{PINNED}', trust_remote_code=True)\n"
        "other = AutoModel.from_pretrained('org/other')\nstate = torch.load('x.pt')\n"
    )
    return 'lockfile = ""\ndenied_sources = ["evil/*"]\n'


def _missing_lockfile(root: Path) -> str:
    _empty(root)
    return ""


def _empty_lockfile(root: Path) -> str:
    _empty(root)
    (root / "aisupply.lock").write_text("version = 1\n")
    return ""


def _lockfile_and_artifact(root: Path) -> str:
    _empty(root)
    (root / "models" / "x.npy").write_bytes(b"\x93NUMPY\x01\x00" + bytes(10))
    (root / "aisupply.lock").write_text("version = 1\n")
    return ""


def _lockfile_with_hub_entries(root: Path) -> str:
    _code_only(root)
    (root / "aisupply.lock").write_text(
        f"version = 1\n\n[[hub]]\nrepo_type = 'model'\nrepo_id = 'org/model'\nrevision = '{PINNED}'\n"
        "license = ['mit']\ngated = 'false'\nbase_models = ['org/base']\nreachable_from = ['refs/heads/main']\n"
        "reviewed = 2026-01-01\nfiles = []\n"
    )
    return 'allowed_licenses = ["apache-2.0"]\n'


def _signed_folder(root: Path) -> str:
    _empty(root)
    (root / "models" / "bert").mkdir()
    (root / "signer.pub").write_text("-----BEGIN PUBLIC KEY-----\nMFk=\n-----END PUBLIC KEY-----\n")
    return 'lockfile = ""\n[[tool.aisupply.signed]]\npath = "models/*"\npublic_key = "signer.pub"\n'


SHAPES: dict[str, Callable[[Path], str]] = {
    "empty": _empty,
    "artifacts only": _artifacts_only,
    "model card only": _model_card_only,
    "code only": _code_only,
    "missing lockfile": _missing_lockfile,
    "empty lockfile": _empty_lockfile,
    "lockfile and an artifact": _lockfile_and_artifact,
    "lockfile with hub entries": _lockfile_with_hub_entries,
    "signed folder": _signed_folder,
}


def _engine(root: Path, rules: list[object]) -> Engine:
    settings = load_settings(root / "pyproject.toml", root)
    lock = read_lock(root / settings.lockfile) if settings.lockfile else None
    return Engine(settings, rules, builtin_readers(), lock=lock)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_registry_subjects_equal_the_rules_own_and_unloaded_means_none(tmp_path: Path, shape: str) -> None:
    extra = SHAPES[shape](tmp_path)
    (tmp_path / "pyproject.toml").write_text(f'[tool.aisupply]\nartifacts = ["models"]\ncode = ["src"]\n{extra}')
    lazy = builtin_rules()
    real = [type(LazyRule(entry).rule)() for entry in BUILTIN_RULES]
    through_registry, directly = _engine(tmp_path, list(lazy)), _engine(tmp_path, list(real))

    for proxy, rule in zip(lazy, real, strict=True):
        expected = [(s.id, s.kind, s.format) for s in directly.subjects_of(rule)]
        assert [(s.id, s.kind, s.format) for s in through_registry.subjects_of(proxy)] == expected, rule.id
        assert isinstance(proxy, LazyRule)
        if not proxy.loaded:  # the registry said "nothing of this kind here" without asking the rule
            assert expected == [], rule.id


def test_each_kind_of_subject_loads_its_rules(tmp_path: Path) -> None:
    """The shapes above are not all "nothing": each one leaves some rule unloaded and loads others."""
    loaded: dict[str, set[str]] = {}
    for shape, build in SHAPES.items():
        root = tmp_path / shape.replace(" ", "-")
        root.mkdir()
        extra = build(root)
        (root / "pyproject.toml").write_text(f'[tool.aisupply]\nartifacts = ["models"]\ncode = ["src"]\n{extra}')
        rules = builtin_rules()
        engine = _engine(root, list(rules))
        engine.subjects()
        loaded[shape] = {rule.id for rule in rules if isinstance(rule, LazyRule) and rule.loaded}
    assert loaded["empty"] == set()
    assert loaded["artifacts only"] == {"no-pickle", "safetensors", "unsafe-format", "license"}
    assert loaded["code only"] == {"pinned-revision", "remote-code", "unsafe-load", "source"}
    assert "integrity" in loaded["missing lockfile"]
    assert loaded["empty lockfile"] == set()
    assert "integrity" in loaded["lockfile and an artifact"]
    assert loaded["signed folder"] == {"signature"}
