"""Containment at the pytest boundary: an exception in a rule, or a worker that dies, fails the
check it happened in (saying so, and asking for a report) and never ends the session or passes."""

from __future__ import annotations

import pickle

import pytest

from test_plugin import outcomes_by_nodeid

CONFTEST = """
import os

from pytest_aisupply import Finding, Subject


class Fragile:
    id = "fragile"
    summary = "a project rule with a bug"

    def subjects(self, inventory):
        for name in ("a.bin", "boom.bin", "c.bin"):
            yield Subject(name, inventory.root / name, kind="file")

    def check(self, subject, inventory):
        if subject.id == "boom.bin":
            {action}
        return []


class Broken:
    id = "broken"
    summary = "a project rule whose subjects fail"

    def subjects(self, inventory):
        raise RuntimeError("cannot list")

    def check(self, subject, inventory):
        return []


def pytest_aisupply_rules():
    return [Fragile(), Broken()]
"""


def _project(pytester: pytest.Pytester, action: str) -> None:
    pytester.makepyprojecttoml("[tool.aisupply]\nlockfile = ''\n")
    pytester.makeconftest(CONFTEST.replace("{action}", action))
    (pytester.path / "evil.pkl").write_bytes(pickle.dumps(print))
    pytester.makepyfile("def test_plain():\n    pass\n")


@pytest.mark.parametrize("xdist_args", [[], ["-n", "2"]], ids=["serial", "xdist-2"])
def test_exceptions_in_a_rule_fail_their_items_and_the_session_goes_on(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    _project(pytester, 'raise ValueError("bad subject")')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", *xdist_args)
    outcomes = outcomes_by_nodeid(result)
    assert outcomes["aisupply::fragile::boom.bin"] == "FAILED"
    assert outcomes["aisupply::fragile::a.bin"] == "PASSED"
    assert outcomes["aisupply::fragile::c.bin"] == "PASSED"
    assert outcomes["aisupply::broken::<collection>"] == "FAILED"
    assert outcomes["aisupply::no-pickle::evil.pkl"] == "FAILED"
    assert outcomes["test_exceptions_in_a_rule_fail_their_items_and_the_session_goes_on.py::test_plain"] == "PASSED"
    result.stdout.fnmatch_lines(
        [
            "*internal error in rule fragile: ValueError: bad subject*",
            "*internal error in rule broken while collecting its subjects: RuntimeError: cannot list;"
            " *please report it*",
            "5 checks: 2 passed, 3 failed",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_an_exception_outside_the_rule_is_an_internal_error_naming_the_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(pytester, "return []")
    pytester.makeconftest(
        CONFTEST.replace("{action}", "return []")
        + "\nimport pytest_aisupply.checks.items as items\n"
        + "def _broken(*args, **kwargs):\n    raise KeyError('renderer')\n"
        + "items.render_verdict = _broken\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    assert outcomes_by_nodeid(result)["aisupply::no-pickle::evil.pkl"] == "FAILED"
    result.stdout.fnmatch_lines(
        ["*no-pickle: evil.pkl: internal error while checking *evil.pkl: KeyError: 'renderer'; *please report it*"]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_worker_that_dies_on_one_file_is_reported_against_that_file(pytester: pytest.Pytester) -> None:
    _project(pytester, "os._exit(1)")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "-n", "2")
    outcomes = outcomes_by_nodeid(result)
    assert outcomes["aisupply::fragile::boom.bin"] == "FAILED"
    assert outcomes["aisupply::fragile::a.bin"] == "PASSED"
    assert outcomes["aisupply::fragile::c.bin"] == "PASSED"
    assert outcomes["aisupply::no-pickle::evil.pkl"] == "FAILED"
    result.stdout.fnmatch_lines(
        ["*worker 'gw*' crashed while running 'aisupply::fragile::boom.bin'*", "5 checks: 2 passed, 3 failed"]
    )
    assert "aisupply::fragile::boom.bin" in result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
