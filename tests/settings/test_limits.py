"""``[tool.aisupply.limits]``: validated like every key, handed to every reader, and each cap hit is a
finding that names the cap and how to raise it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from pytest_aisupply.settings.config import ConfigError, load_settings
from pytest_aisupply.settings.limits import Limits
from test_plugin import outcomes_by_nodeid


def _settings(tmp_path: Path, text: str) -> Limits:
    (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
    return load_settings(tmp_path / "pyproject.toml", tmp_path).limits


def test_defaults_and_overrides(tmp_path: Path) -> None:
    assert _settings(tmp_path, "[tool.aisupply]\n") == Limits()
    limits = _settings(tmp_path, "[tool.aisupply.limits]\nmax_members = 5\nbomb_ratio = 1000\n")
    assert (limits.max_members, limits.bomb_ratio, limits.max_depth) == (5, 1000, Limits().max_depth)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_members = 0", "pyproject.toml:2: [tool.aisupply.limits] max_members: expected a positive integer"),
        ("max_depth = -1", "max_depth: expected a positive integer, got -1 (int)"),
        ("max_depth = true", "max_depth: expected a positive integer, got true (boolean)"),
        ('bomb_ratio = "200"', "bomb_ratio: expected a positive integer, got '200'"),
        ("max_header_bytes = 1.5", "max_header_bytes: expected a positive integer, got 1.5 (float)"),
        ("max_membrs = 3", "max_membrs: unknown key (did you mean 'max_members'?); known keys: bomb_min_bytes"),
    ],
)
def test_bad_values_are_configuration_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        _settings(tmp_path, f"[tool.aisupply.limits]\n{text}\n")
    assert message in str(excinfo.value)


def test_limits_must_be_a_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[tool.aisupply\] limits: expected a table"):
        _settings(tmp_path, "[tool.aisupply]\nlimits = 3\n")


def _zip(members: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(members):
            archive.writestr(f"m{index}.txt", b"text\n")
    return buffer.getvalue()


def test_caps_from_the_configuration_reach_the_readers(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        "[tool.aisupply]\nlockfile = ''\n[tool.aisupply.limits]\nmax_members = 2\nmax_code_file_bytes = 100\n"
    )
    (pytester.path / "small.zip").write_bytes(_zip(2))
    (pytester.path / "large.zip").write_bytes(_zip(3))
    (pytester.path / "train.py").write_text("import torch\n" + "x = 1\n" * 30, encoding="utf-8")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    outcomes = outcomes_by_nodeid(result)
    assert outcomes["aisupply::no-pickle::small.zip"] == "PASSED"
    assert outcomes["aisupply::no-pickle::large.zip"] == "FAILED"
    assert outcomes["aisupply::unsafe-load::train.py"] == "FAILED"
    result.stdout.fnmatch_lines(
        [
            "*cannot be inspected: zip archive has 3 members, over the cap of 2 (the max_members cap; to allow "
            "more, raise it with [[]tool.aisupply.limits[]] max_members = ...); not inspected",
        ]
    )
    result.stdout.fnmatch_lines(["*larger than 100 bytes (the max_code_file_bytes cap; to allow more, raise it with*"])
