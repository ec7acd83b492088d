"""The documentation cannot drift from the code: the configuration reference is generated from
the settings schema, which must list exactly the keys the parser accepts; every built-in rule has
a page in the navigation; every command-line option is documented; the site builds strictly."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_aisupply.rules import builtin_rules
from pytest_aisupply.settings import config
from pytest_aisupply.settings import schema as config_schema
from pytest_aisupply.settings.config import ConfigError, Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
MKDOCS_YML = REPO / "mkdocs.yml"
REGENERATE = f"run `{config_schema.GENERATOR}` and commit {config_schema.REFERENCE_PATH}"


def _error_for(tmp_path: Path, text: str) -> str:
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(tmp_path / "pyproject.toml", tmp_path)
    return str(excinfo.value)


def _known_keys(message: str) -> set[str]:
    match = re.search(r"known keys: (.*)$", message)
    assert match, message
    return set(match.group(1).split(", "))


def _nav_files(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [path for item in nav for path in _nav_files(item)]
    if isinstance(nav, dict):
        return [path for value in nav.values() for path in _nav_files(value)]
    return []


def _nav() -> list[str]:
    data = yaml.safe_load(MKDOCS_YML.read_text(encoding="utf-8"))
    return _nav_files(data["nav"])


# -- (a) the schema lists exactly the keys config.py accepts ------------------------------------


def test_schema_documents_every_top_level_key_and_no_other() -> None:
    documented = [key.name for key in config_schema.TOP_LEVEL]
    assert len(documented) == len(set(documented)), "a key is documented twice"
    accepted = set(config._TOP_LEVEL_KEYS)
    assert set(documented) - accepted == set(), "documented in config_schema.py but not accepted by config.py"
    assert accepted - set(documented) == set(), "accepted by config.py but not documented in config_schema.py"


def test_schema_top_level_keys_match_what_the_parser_reports(tmp_path: Path) -> None:
    message = _error_for(tmp_path, "[tool.aisupply]\nnot_a_key = 1\n")
    assert _known_keys(message) == {key.name for key in config_schema.TOP_LEVEL}


def test_schema_documents_every_waiver_key_and_no_other(tmp_path: Path) -> None:
    message = _error_for(tmp_path, '[[tool.aisupply.waive]]\nrule = "no-pickle"\nnot_a_key = 1\n')
    assert "[[tool.aisupply.waive]]" in message
    documented = {key.name for key in config_schema.WAIVER_KEYS}
    assert documented == _known_keys(message)
    required = {key.name for key in config_schema.WAIVER_KEYS if key.required}
    missing = _error_for(tmp_path, "[[tool.aisupply.waive]]\n")
    assert "every waiver needs rule, path and reason" in missing
    assert required == {"rule", "path", "reason"}


def test_schema_documents_every_limit_and_its_default(tmp_path: Path) -> None:
    from pytest_aisupply.settings.limits import Limits

    message = _error_for(tmp_path, "[tool.aisupply.limits]\nnot_a_cap = 1\n")
    assert "[tool.aisupply.limits]" in message
    documented = {key.name: key.default for key in config_schema.LIMIT_KEYS}
    assert set(documented) == _known_keys(message) == set(Limits.keys())
    defaults = Limits()
    for name, default in documented.items():
        assert default == getattr(defaults, name), f"[tool.aisupply.limits] {name}: documented default differs"


def test_schema_defaults_are_the_settings_defaults() -> None:
    defaults = {}
    for field in dataclasses.fields(Settings):
        if field.default is not dataclasses.MISSING:
            defaults[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            defaults[field.name] = field.default_factory()
    for key in config_schema.TOP_LEVEL:
        assert key.field is not None, key.name
        assert key.field in defaults, f"{key.name}: Settings has no field {key.field!r}"
        assert key.default == defaults[key.field], f"{key.name}: documented default differs from Settings"


def test_rule_severities_are_the_documented_ones() -> None:
    from pytest_aisupply.findings import SEVERITIES

    for severity in SEVERITIES:
        assert f'"{severity}"' in config_schema.RULE_KEY.toml_type
    assert config_schema.RULE_KEY.default == "error"


def _project(tmp_path: Path, text: str) -> Path:
    for folder in ("models", "data", "src", "notebooks", "legacy"):
        (tmp_path / folder).mkdir(exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    return tmp_path / "pyproject.toml"


def _examples() -> list[tuple[str, str]]:
    cases = [
        (f"[tool.aisupply] {key.name}", config_schema.example_document(key, "[tool.aisupply]"))
        for key in config_schema.TOP_LEVEL
    ]
    rules_table = "[tool.aisupply.rules]"
    cases.append((rules_table, config_schema.example_document(config_schema.RULE_KEY, rules_table)))
    for key in config_schema.LIMIT_KEYS:
        cases.append(
            (f"[tool.aisupply.limits] {key.name}", config_schema.example_document(key, config_schema.LIMITS_TABLE))
        )
    for key in config_schema.WAIVER_KEYS:
        cases.append(
            (f"[[tool.aisupply.waive]] {key.name}", config_schema.example_document(key, config_schema.WAIVE_TABLE))
        )
    cases.append(("full example", config_schema.full_example()))
    return cases


EXAMPLES = _examples()


@pytest.mark.parametrize(("name", "document"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_every_example_is_valid_configuration(tmp_path: Path, name: str, document: str) -> None:
    if not document.startswith("[tool.aisupply]"):
        document = "[tool.aisupply]\n" + document
    settings = load_settings(_project(tmp_path, document), tmp_path)
    settings.check_rule_ids(rule.id for rule in builtin_rules())


def test_documented_error_is_the_real_one(tmp_path: Path) -> None:
    assert _error_for(tmp_path, config_schema.EXAMPLE_ERROR_TOML) == config_schema.EXAMPLE_ERROR


# -- (b) the committed reference is the generated one --------------------------------------------


def test_configuration_reference_is_up_to_date() -> None:
    path = REPO / config_schema.REFERENCE_PATH
    assert path.is_file(), f"{config_schema.REFERENCE_PATH} is missing: {REGENERATE}"
    expected = config_schema.render_markdown([(rule.id, rule.summary) for rule in builtin_rules()])
    assert path.read_text(encoding="utf-8") == expected, f"{config_schema.REFERENCE_PATH} is out of date: {REGENERATE}"


def test_generator_script_check_mode() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_config_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- (c) one page per built-in rule, in the navigation -------------------------------------------


def test_every_builtin_rule_has_a_page_in_the_nav() -> None:
    nav = _nav()
    for rule in builtin_rules():
        page = f"rules/{rule.id}.md"
        assert (DOCS / page).is_file(), f"docs/{page} is missing: every built-in rule needs a page"
        assert page in nav, f"docs/{page} is not in the nav of mkdocs.yml"
        text = (DOCS / page).read_text(encoding="utf-8")
        assert text.startswith(f"# `{rule.id}`"), f"docs/{page} must start with the heading # `{rule.id}`"
        for section in ("## What it checks", "## Why", "## Example failure", "## How to fix", "## How to waive"):
            assert section in text, f"docs/{page} has no '{section}' section"


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    nav = _nav()
    pages = sorted(path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md"))
    assert sorted(set(nav)) == pages
    assert "benchmarks.md" in nav


def test_every_command_line_option_is_documented() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    options = set(re.findall(r"(--(?:no-)?aisupply[\w-]*)", result.stdout))
    assert {"--aisupply", "--no-aisupply", "--aisupply-update", "--aisupply-only"} <= options, result.stdout
    text = "\n".join(path.read_text(encoding="utf-8") for path in DOCS.rglob("*.md"))
    undocumented = sorted(option for option in options if f"`{option}" not in text)
    assert undocumented == [], "options not mentioned in docs/ (as `--option`)"


# -- (d) the site builds with --strict -----------------------------------------------------------


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[test]' installs it; CI does)")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(MKDOCS_YML), "--site-dir",
         str(tmp_path / "site")],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for rule in builtin_rules():
        assert (tmp_path / "site" / "rules" / rule.id / "index.html").is_file()
    assert (tmp_path / "site" / "configuration" / "index.html").is_file()
