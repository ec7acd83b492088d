"""The collected checks below the ``aisupply`` node (see collection.py): rule > subject, one item per

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import linecache
import os
import warnings
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from ..findings import Subject
from ..rules.base import Rule
from ..verdicts.engine import Engine, Verdict
from ..verdicts.render import render_verdict, render_waived
from .keys import REPORT_IT, ROOT_NAME, engine_key, group_verdicts_key, verdict_key


def selection_is_narrowed(config: pytest.Config, session: pytest.Session) -> bool:
    """Whether this run may have left checks out: ``-k``, ``-m``, node ids as arguments, or a
    stop before the end (``-x``, ``--maxfail``). Whole-project outputs (the lockfile, the BOM)
    must not be rewritten or judged from such a run."""
    option = config.option
    return bool(
        getattr(option, "keyword", "")
        or getattr(option, "markexpr", "")
        or session.shouldstop
        or session.shouldfail
        or any("::" in str(arg) for arg in config.args)
        or getattr(option, "aisupply_select", None)
    )


class AisupplyWarning(pytest.PytestWarning):
    """A supply-chain check set to "warn" found something."""


class InternalError(Exception):
    """An exception escaped the plugin or a rule: the check fails, saying so; the session goes on."""


class CheckFailed(Exception):
    """Raised by a check item; rendered by ``repr_failure`` without a traceback."""

    def __init__(self, verdict: Verdict, format_name: str | None) -> None:
        super().__init__(render_verdict(verdict, format_name))
        self.verdict = verdict


class RuleCollector(pytest.Collector):
    def __init__(self, *, rule: Rule, subjects: list[Subject], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule = rule
        self.subjects = subjects
        self.error: str | None = None

    def collect(self) -> Iterable[pytest.Item]:
        if self.error is not None:
            yield CollectionErrorItem.from_parent(self, name="<collection>", message=self.error)
        granularity = self.config.stash[engine_key].settings.granularity
        if granularity == "file":
            for subject in self.subjects:
                yield CheckItem.from_parent(self, name=subject.id, rule_id=self.rule.id, subject=subject)
            return
        groups: dict[str, list[Subject]] = {}
        for subject in self.subjects:
            groups.setdefault(group_name(subject.id, granularity), []).append(subject)
        for name in sorted(groups):
            yield CheckGroupItem.from_parent(self, name=name, rule_id=self.rule.id, subjects=groups[name])


ALL_SUBJECTS = "all"


def group_name(subject_id: str, granularity: str) -> str:
    """The item a subject is checked in when checks are grouped: its folder (``data/shard-07/``,
    ``./`` at the root) or, per rule, one item for all."""
    if granularity == "rule":
        return ALL_SUBJECTS
    folder, slash, _ = subject_id.rpartition("/")
    return folder + slash if slash else "./"


class _Check(pytest.Item):
    """What every collected check shares: the rule, the marker, the session's engine."""

    #: Tells the run-time guards (plugin.py) to stay out: a check unpickles and downloads nothing.
    aisupply_check = True

    def __init__(self, *, rule_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule_id = rule_id
        self.add_marker(ROOT_NAME)

    @property
    def engine(self) -> Engine:
        return self.config.stash[engine_key]


class CheckItem(_Check):
    """One rule checked on one subject."""

    def __init__(self, *, rule_id: str, subject: Subject, **kwargs: Any) -> None:
        super().__init__(rule_id=rule_id, **kwargs)
        self.subject = subject

    def runtest(self) -> None:
        try:
            self._runtest()
        except (CheckFailed, Warning):  # a verdict; a warning that "-W error" made an error
            raise
        except Exception as exc:
            raise InternalError(
                f"[aisupply] {self.rule_id}: {self.subject.id}: internal error while checking "
                f"{self.subject.path}: {type(exc).__name__}: {exc}; {REPORT_IT}"
            ) from exc

    def _runtest(self) -> None:
        verdict = self.engine.evaluate(self.rule_id, self.subject)
        self.stash[verdict_key] = verdict
        status = verdict.status
        if status == "failed":
            raise CheckFailed(verdict, self.engine.inventory.format_of(self.subject))
        if status == "warned":
            self._warn(verdict)
        if status == "waived":
            self.add_report_section("call", "aisupply", render_waived(verdict))

    def _warn(self, verdict: Verdict) -> None:
        _warn(verdict, self.engine.inventory.format_of(self.subject), self.config.rootpath)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | Any:
        if isinstance(excinfo.value, (CheckFailed, InternalError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.subject.path, None, f"[aisupply] {self.rule_id}: {self.subject.id}"

    @cached_property
    def location(self) -> tuple[str, int | None, str]:
        path, line, domain = self.reportinfo()
        return _location_path(self.session, path), line, domain


_folder_locations_key = pytest.StashKey["dict[str, str]"]()


def _location_path(session: pytest.Session, path: Path) -> str:
    """What pytest's ``Item.location`` says of ``path`` (bestrelpath from the rootdir), worked out
    once per folder: pytest caches it per path, and every check has a path of its own, where
    pytest's lookup costs more than the check of a small file."""
    absolute = os.path.abspath(path)
    folder, name = os.path.split(absolute)
    root = str(session.config.rootpath)
    if not name or absolute == root or root.startswith(absolute.rstrip(os.sep) + os.sep):
        return session._node_location_to_relpath(Path(absolute))  # the rootdir or a folder above it
    folders = session.stash.setdefault(_folder_locations_key, {})
    relative_folder = folders.get(folder)
    if relative_folder is None:
        relative_folder = folders[folder] = session._node_location_to_relpath(Path(folder))
    return name if relative_folder == os.curdir else os.path.join(relative_folder, name)


class GroupFailed(Exception):
    """Raised by a grouped check: names every subject that failed, each with its findings."""


class CheckGroupItem(_Check):
    """One rule checked on every subject of a folder (or of the whole rule): the same verdicts as
    one item per subject, reported per subject, for a fraction of pytest's per-item cost."""

    def __init__(self, *, rule_id: str, subjects: list[Subject], **kwargs: Any) -> None:
        super().__init__(rule_id=rule_id, **kwargs)
        self.subjects = subjects

    def runtest(self) -> None:
        engine = self.engine
        verdicts: list[Verdict | None] = []
        failures: list[str] = []
        waived: list[str] = []
        for subject in self.subjects:
            try:
                verdict: Verdict | None = engine.evaluate(self.rule_id, subject)
            except Exception as exc:
                verdict = None
                failures.append(
                    f"[aisupply] {self.rule_id}: {subject.id}: internal error while checking {subject.path}: "
                    f"{type(exc).__name__}: {exc}; {REPORT_IT}"
                )
            verdicts.append(verdict)
            if verdict is None:
                continue
            status = verdict.status
            if status == "failed":
                failures.append(render_verdict(verdict, engine.inventory.format_of(subject)))
            elif status == "warned":
                _warn(verdict, engine.inventory.format_of(subject), self.config.rootpath)
            elif status == "waived":
                waived.append(render_waived(verdict))
        self.stash[group_verdicts_key] = verdicts
        if waived:
            self.add_report_section("call", "aisupply", "\n".join(waived))
        if failures:
            count = len(self.subjects)
            head = (
                f"[aisupply] {self.rule_id}: {self.name}: {len(failures)} of {count} "
                f"subject{'s' if count != 1 else ''} failed"
            )
            raise GroupFailed("\n".join([head, *failures]))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | Any:
        if isinstance(excinfo.value, GroupFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        shown = f"{len(self.subjects)} subject{'s' if len(self.subjects) != 1 else ''}"
        return self.subjects[0].path, None, f"[aisupply] {self.rule_id}: {self.name} ({shown})"


def _warn(verdict: Verdict, format_name: str | None, rootpath: Path) -> None:
    """The warning points at the project file (and line) the finding is about, not at this
    module: that is where the user looks and what a ``filterwarnings`` entry can name."""
    subject = verdict.subject
    message = render_verdict(verdict, format_name)
    filename = _shown_path(subject.path, rootpath)
    line = next((finding.line for finding in verdict.findings if finding.line), None)
    if line is None or subject.kind != "code":
        # Whole-file finding: nothing to quote. Tell linecache so, or the warnings summary would
        # read the artifact (a model of gigabytes) to show "line 1" of it.
        linecache.cache[filename] = (0, None, [], filename)
    warnings.warn_explicit(AisupplyWarning(message), AisupplyWarning, filename, line or 1, module="aisupply")


def report_records(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-subject records a check's report carries (``report.aisupply``): one for a check of
    one subject, one per subject for a grouped check."""
    members = data.get("members")
    return list(members) if members is not None else [data]


def _shown_path(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)


class ProjectAnchor(pytest.File):
    """The project's configuration file, collected in place of the test paths when only checks
    run (see selection.py): it holds no tests, and collecting it imports nothing."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        return []


class CollectionErrorItem(pytest.Item):
    """Stands for the checks of a rule whose subjects could not be collected: it fails."""

    #: Tells the run-time guards (plugin.py) to stay out: a check unpickles and downloads nothing.
    aisupply_check = True

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message
        self.add_marker(ROOT_NAME)

    def runtest(self) -> None:
        raise InternalError(f"[aisupply] {self.message}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | Any:
        if isinstance(excinfo.value, InternalError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"[aisupply] {self.nodeid}"


def split_selection(
    items: list[pytest.Item], selected: list[str], *, only: bool
) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """The items a run that names check ids (``selected``) or runs only the checks keeps, and those
    it drops: a file's check id still selects the folder (or rule) check that covers it."""
    from .selection import matches

    def wanted(item: pytest.Item) -> bool:
        if isinstance(item, CheckGroupItem) and selected:
            return matches(item.nodeid, selected) or any(
                matches(f"{ROOT_NAME}::{item.rule_id}::{subject.id}", selected) for subject in item.subjects
            )
        if isinstance(item, (CheckItem, CheckGroupItem, CollectionErrorItem)):
            return not selected or matches(item.nodeid, selected)
        return not only

    keep = [item for item in items if wanted(item)]
    dropped = [item for item in items if not wanted(item)]
    return keep, dropped
