"""[tool.aisupply] parsing: every key accepted, every bad value a one-line usage error (exit 4)."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from pytest_aisupply.settings.config import ConfigError, Settings, load_settings


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / "pyproject.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_every_design_key_is_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [project]
        name = "demo"

        [tool.aisupply]
        artifacts = ["models", "data/*.bin"]
        code = ["src"]
        exclude = ["third_party/**"]
        pickle = "scan"
        pickle_allowed_globals = ["sklearn.*", "collections.OrderedDict"]
        allowed_licenses = ["Apache-2.0", "mit"]
        allowed_sources = ["sentence-transformers/*", "google/*"]
        denied_sources = []
        trust_remote_code = ["org/model"]
        lockfile = "aisupply.lock"
        max_review_age_days = 365

        [tool.aisupply.rules]
        no-pickle = "warn"

        [[tool.aisupply.waive]]
        rule = "no-pickle"
        path = "legacy/old_model.pt"
        sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
        reason = "vendor model, replaced by Q3"
        expires = 2027-03-31
        """,
    )
    settings = load_settings(path, tmp_path)
    assert settings.artifacts == ("models", "data/*.bin")
    assert settings.pickle == "scan"
    assert settings.allowed_licenses == ("apache-2.0", "mit")
    assert settings.max_review_age_days == 365
    assert settings.severity("no-pickle") == "warn"
    assert settings.severity("safetensors") == "error"
    (waiver,) = settings.waivers
    assert waiver.expires == dt.date(2027, 3, 31)
    assert waiver.reason == "vendor model, replaced by Q3"
    assert waiver.source_line == 21


def test_missing_table_gives_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "[project]\nname = 'x'\n")
    assert load_settings(path, tmp_path) == Settings(root=tmp_path, source=path)


BAD_VALUES = [
    ("artefacts = ['models']", "pyproject.toml:2: [tool.aisupply] artefacts: unknown key (did you mean 'artifacts'?)"),
    ("pickle = 'maybe'", 'pyproject.toml:2: [tool.aisupply] pickle: expected "forbid" or "scan", got \'maybe\''),
    ("artifacts = 'models'", "pyproject.toml:2: [tool.aisupply] artifacts: expected a list of strings, got 'models'"),
    ("artifacts = ['nope']", "pyproject.toml:2: [tool.aisupply] artifacts: 'nope' does not exist"),
    ("exclude = ['[abc']", "pyproject.toml:2: [tool.aisupply] exclude: bad glob '[abc': unclosed '['"),
    (
        "exclude = ['../x']",
        "pyproject.toml:2: [tool.aisupply] exclude: bad glob '../x': must not leave the project root",
    ),
    ("max_review_age_days = 0", "[tool.aisupply] max_review_age_days: expected a positive integer, got 0 (int)"),
    ("max_review_age_days = true", "max_review_age_days: expected a positive integer, got true (boolean)"),
    ("pickle_allowed_globals = ['os system']", "pickle_allowed_globals: bad global 'os system'"),
    ("trust_remote_code = ['notarepo']", "trust_remote_code: bad repo id 'notarepo'"),
    ("lockfile = 3", "lockfile: expected a path string, got 3 (int)"),
    ("rules = {no-pickle = 'fatal'}", '[tool.aisupply.rules] no-pickle: expected "error", "warn" or "off"'),
]


@pytest.mark.parametrize(("line", "message"), BAD_VALUES, ids=[line.split(" =")[0] for line, _ in BAD_VALUES])
def test_bad_values_name_the_key_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, f"[tool.aisupply]\n{line}\n")
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, tmp_path)
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


BAD_WAIVERS = [
    ("path = 'x'\nreason = 'r'", "[[tool.aisupply.waive]] rule: missing"),
    ("rule = 'no-pickle'\npath = 'x'", "[[tool.aisupply.waive]] reason: missing"),
    ("rule = 'no-pickle'\npath = 'x'\nreason = ''", "reason: expected a non-empty string"),
    (
        "rule = 'no-pickle'\npath = 'x'\nreason = 'r'\nexpires = 'tomorrow'",
        "expires: expected a date such as 2027-03-31, got 'tomorrow'",
    ),
    ("rule = 'no-pickle'\npath = 'x'\nreason = 'r'\nsha256 = 'ABC'", "sha256: expected 64 lowercase hex characters"),
    ("rule = 'no-pickle'\npath = 'x'\nreason = 'r'\nwhy = 'r'", "why: unknown key"),
]


@pytest.mark.parametrize(("body", "message"), BAD_WAIVERS)
def test_bad_waivers(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, f"[tool.aisupply]\n\n[[tool.aisupply.waive]]\n{body}\n")
    with pytest.raises(ConfigError, match=r"pyproject\.toml:\d+: ") as excinfo:
        load_settings(path, tmp_path)
    assert message in str(excinfo.value)


def test_invalid_toml_is_reported_with_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, "[tool.aisupply]\npickle = \n")
    with pytest.raises(ConfigError, match=r"pyproject\.toml: invalid TOML: .*line 2"):
        load_settings(path, tmp_path)


def test_unknown_rule_id_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "[tool.aisupply.rules]\nno-pikle = 'warn'\n")
    settings = load_settings(path, tmp_path)
    with pytest.raises(ConfigError) as excinfo:
        settings.check_rule_ids(["no-pickle", "safetensors"])
    assert str(excinfo.value) == (
        "pyproject.toml:2: [tool.aisupply.rules] unknown rule id 'no-pikle'; known rules: no-pickle, safetensors"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[tool.aisupply]\npickle = 'maybe'\n", "ERROR: pyproject.toml:2: [tool.aisupply] pickle: expected"),
        (
            "[tool.aisupply.rules]\nno-pikle = 'warn'\n",
            "ERROR: pyproject.toml:2: [tool.aisupply.rules] unknown rule id 'no-pikle'",
        ),
        # pytest itself rejects invalid TOML first, also naming the file
        ("[tool.aisupply]\npickle = \n", "pyproject.toml: Invalid value"),
    ],
    ids=["bad-value", "unknown-rule", "invalid-toml"],
)
def test_bad_config_exits_4_without_traceback(pytester: pytest.Pytester, body: str, expected: str) -> None:
    pytester.makepyprojecttoml(body)
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert expected in result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_config_is_read_from_the_rootdir_not_the_working_directory(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\nartifacts = ['models']\n")
    (pytester.mkdir("models") / "evil.pkl").write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    tests = pytester.mkdir("tests")
    (tests / "test_a.py").write_text("def test_ok(): pass\n")
    pytester.chdir()
    import os

    os.chdir(tests)
    result = pytester.runpytest_subprocess("--rootdir", str(pytester.path), "-v")
    result.stdout.fnmatch_lines(["*aisupply::no-pickle::models/evil.pkl FAILED*"])
