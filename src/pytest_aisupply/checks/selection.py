"""Command-line arguments that name checks rather than files, read before pytest collects.

``--aisupply-only`` must not import a single test module or a conftest below the rootdir (a
supply-chain CI job does not install the project's test dependencies), and a FAILED check's node
id copied from the terminal (``aisupply::no-pickle::models/x.pt``, or with the path pytest prints
it relative to: ``../aisupply::...``, ``examples/demo/aisupply::...``) must select that check.
Neither is a path pytest can collect, so before pytest decides what to collect the arguments are
rewritten: each check id becomes a hidden ``--aisupply-select=ID`` option (an option value, so
pytest-xdist ships it to the workers), and the only path left to collect is the project's
configuration file, an anchor that holds no tests. pytest loads initial conftests from the
directories of the paths it is given (and their ``test*`` subdirectories): a file anchor keeps
that to the rootdir's own conftest.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import os
from pathlib import Path

from .keys import ROOT_NAME

SELECT_OPTION = "--aisupply-select"


class CheckIdError(Exception):
    """A check id that belongs to a project pytest was not started in."""


def check_id_of(argument: str, rootpath: Path, invocation_dir: Path) -> str | None:
    """The node id of the checks an argument names, or None when it is not one of ours."""
    path_part, separator, rest = argument.partition("::")
    if not path_part or Path(path_part).name != ROOT_NAME:
        return None
    candidate = Path(os.path.abspath(invocation_dir / path_part))
    if candidate.exists():
        return None  # a real file or folder called "aisupply": pytest's to collect
    if candidate == Path(os.path.abspath(rootpath / ROOT_NAME)):
        return ROOT_NAME + separator + rest
    project = candidate.parent
    if (project / "pyproject.toml").is_file():
        shown = os.path.relpath(project, invocation_dir)
        raise CheckIdError(
            f"{argument} is a check of the project in {shown}, but pytest's rootdir is {rootpath}; "
            f"run it from there: cd {shown} && pytest {ROOT_NAME + separator + rest}"
        )
    return None


def rewrite_arguments(
    args: list[str],
    positional: list[str],
    *,
    only_checks: bool,
    anchor: Path | None,
    rootpath: Path,
    invocation_dir: Path,
) -> list[str]:
    """Rewrite ``args`` in place as the module docstring says; returns the positional arguments
    left (what pytest will collect and take its initial conftests from)."""
    selected: list[str] = []
    others: list[str] = []
    for value in positional:
        check_id = check_id_of(value, rootpath, invocation_dir)
        if check_id is None:
            others.append(value)
            continue
        selected.append(check_id)
        _remove_last(args, value)
        args.append(f"{SELECT_OPTION}={check_id}")
    if only_checks and anchor is not None:
        # Paths given with --aisupply-only chose the rootdir already; collected, they would be
        # imported. The checks cover the whole project, so they go.
        for value in others:
            _remove_last(args, value)
        others = []
    if (selected or only_checks) and not others and anchor is not None:
        args.append(str(anchor))
        others.append(str(anchor))
    return others


def _remove_last(args: list[str], value: str) -> None:
    """Positional arguments come after the options they could be mistaken for: remove the last."""
    for index in range(len(args) - 1, -1, -1):
        if args[index] == value:
            del args[index]
            return


def matches(nodeid: str, selected: list[str]) -> bool:
    return any(nodeid == check_id or nodeid.startswith(check_id + "::") for check_id in selected)
