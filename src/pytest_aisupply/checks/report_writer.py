"""Controller-only writers for SARIF and the CycloneDX ML-BOM (built from report data).

``--aisupply-sarif=PATH`` and ``--aisupply-bom=PATH`` are written at the end of the session from
the ``aisupply`` data that every check attaches to its test report, so under pytest-xdist the
controller alone writes them. ``--aisupply-bom-check=PATH`` compares the committed BOM with the
one this run would write; on drift it prints an ``aisupply BOM drift`` section and turns a
passing session's exit status into 1 (the BOM is only known once every check has run, so the
drift cannot be the outcome of a test item).

What can be known at start-up is checked there, before any test runs, as a usage error (exit
status 4, one line): cyclonedx-python-lib missing, a report path that cannot be written. A write
that still fails at the end prints an error and ends the session with exit status 4; a generated
BOM that does not pass the CycloneDX validator is a bug and ends it with exit status 3.

A session that did not run to its end (interrupted, a collection error, ``-x``/``--maxfail``)
writes a SARIF file that says so (``invocations[0].executionSuccessful: false``, the reason as a
notification) and no BOM: a partial BOM would read as the project's whole inventory.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from .. import __version__
from ..lockfile.hashing import HashCache
from ..lockfile.lock import ArtifactEntry, HubEntry, Lock, entry_from_json
from ..settings.config import Settings
from .items import CheckGroupItem, CheckItem, selection_is_narrowed
from .keys import engine_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_HUB_SUBJECT_KINDS = ("hub",)


class ReportWriter:
    """Collects the ``aisupply`` data carried on test reports and writes the requested reports
    at the end of the session (under xdist, only the controller has this plugin)."""

    name = "aisupply-reports"

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        option = config.option
        self.sarif_path = _absolute(option.aisupply_sarif)
        self.bom_path = _absolute(option.aisupply_bom)
        self.check_path = _absolute(option.aisupply_bom_check)
        self.records: list[dict[str, Any]] = []
        self.hashes: dict[str, str] = {}
        self.deselected_checks = False
        self.summary: list[tuple[str, dict[str, bool]]] = []
        self.drift_lines: list[str] = []
        self.exit_status: int | None = None
        self.collection_errors = 0
        self.interruption: str | None = None
        for flag, path in (
            ("--aisupply-sarif", self.sarif_path),
            ("--aisupply-bom", self.bom_path),
        ):
            problem = unwritable(path) if path is not None else None
            if problem:
                raise pytest.UsageError(f"{flag}={option_value(config, flag)}: cannot write {path}: {problem}")
        if self.bom_path is not None or self.check_path is not None:
            from ..reports.bom import BomDependencyError, require_lib

            try:
                require_lib()
            except BomDependencyError as exc:
                raise pytest.UsageError(str(exc)) from None

    # -- gathering ----------------------------------------------------------------------------

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        if any(isinstance(item, (CheckItem, CheckGroupItem)) for item in items):
            self.deselected_checks = True

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # Ctrl-C, pytest.exit() and pytest's own "Interrupted: 1 error during collection"
        self.interruption = str(excinfo.value).strip() or type(excinfo.value).__name__

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        # A test module that fails to import stops the session (exit status 2, counted there) or,
        # under --continue-on-collection-errors, costs no check; a failed collector of ours does.
        if report.failed and report.nodeid.split("::")[0] == "aisupply":
            self.collection_errors += 1

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "aisupply", None)
        if data and report.when == "call":
            from .items import report_records

            self.records.extend(report_records(data))  # per subject, also for a grouped check
            if data.get("hashes"):
                self.hashes.update(data["hashes"])

    # -- writing ------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        reasons = self._unfinished(session)
        partial = bool(reasons) or self.deselected_checks or selection_is_narrowed(self.config, session)
        if self.sarif_path is not None:
            self._write_sarif(reasons, partial)
        if reasons and (self.bom_path is not None or self.check_path is not None):
            self.summary.append(
                (
                    f"BOM: not written nor checked: the session did not run to its end ({'; '.join(reasons)})",
                    {"red": True},
                )
            )
        elif self.bom_path is not None or self.check_path is not None:
            self._bom(partial)
        if self.exit_status is not None:
            if session.exitstatus in (
                pytest.ExitCode.OK,
                pytest.ExitCode.TESTS_FAILED,
                pytest.ExitCode.NO_TESTS_COLLECTED,
            ):
                session.exitstatus = self.exit_status
        elif self.drift_lines and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _fail(self, message: str, status: int = pytest.ExitCode.USAGE_ERROR) -> None:
        self.summary.append((f"ERROR: {message}", {"red": True, "bold": True}))
        if self.exit_status is None or status == pytest.ExitCode.INTERNAL_ERROR:
            self.exit_status = status

    def _unfinished(self, session: pytest.Session) -> list[str]:
        """Why the session did not run every check it collected (empty when it did)."""
        reasons = []
        status = session.exitstatus
        if status == pytest.ExitCode.INTERRUPTED or self.interruption:
            cause = f": {self.interruption}" if self.interruption else ""
            reasons.append(f"the session was interrupted{cause} (pytest exit status {int(status)})")
        elif status == pytest.ExitCode.INTERNAL_ERROR:
            reasons.append("pytest stopped with an internal error (exit status 3)")
        elif status == pytest.ExitCode.USAGE_ERROR:
            reasons.append("pytest stopped with a usage error (exit status 4)")
        if self.collection_errors:
            count = self.collection_errors
            reasons.append(f"{count} error{'s' if count != 1 else ''} during collection")
        for stop in (session.shouldstop, session.shouldfail):
            if stop:
                reasons.append(f"stopped early: {stop}")
        return reasons

    def _write_sarif(self, reasons: list[str], partial: bool) -> None:
        from ..reports.sarif import Execution, RuleInfo, build_sarif

        path = self.sarif_path
        if path is None:  # pragma: no cover - checked by the caller
            return
        engine = self.config.stash.get(engine_key, None)
        rules = [
            RuleInfo(rule.id, getattr(rule, "summary", "") or "", self.settings.severity(rule.id))
            for rule in (engine.rules.values() if engine is not None else ())
        ]
        notes = (
            (
                "partial run: checks were deselected (-k, -m, node ids or --deselect); the results cover only "
                "the checks that ran",
            )
            if partial and not reasons
            else ()
        )
        execution = Execution(successful=not reasons, reasons=tuple(reasons), notes=notes)
        document = build_sarif(self._sarif_records(), rules, tool_version=__version__, execution=execution)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        try:
            write_atomic(path, text)
        except OSError as exc:
            self._fail(f"cannot write the SARIF report {path}: {exc.strerror or exc}")
            return
        run = document["runs"][0]
        note = " (truncated to GitHub's limit)" if run["properties"]["truncated"] else ""
        if reasons:
            note += "; marked as an unsuccessful execution: the session did not run to its end"
        self.summary.append((f"SARIF: wrote {self._shown(path)} ({len(run['results'])} results{note})", {}))

    def _sarif_records(self) -> list[dict[str, Any]]:
        """Records with repository-relative paths; findings about a missing file (the lockfile)
        point at ``pyproject.toml``, and Hub findings located in the lockfile at their table."""
        from ..reports.sarif import hub_table_line, toml_key_line

        root = self.config.rootpath
        prefix = _repository_prefix(root)
        lock_path = (self.settings.root / self.settings.lockfile) if self.settings.lockfile else None
        lock_text = _read_text(lock_path) if lock_path is not None else None
        pyproject = self.settings.source
        pyproject_text = _read_text(pyproject) if pyproject is not None else None
        result = []
        for record in self.records:
            record = dict(record)
            path = str(record.get("path") or "")
            absolute = (root / path) if path else None
            if absolute is not None and lock_path is not None and lock_text is not None and _same(absolute, lock_path):
                repo_type, _, rest = str(record.get("subject", "")).partition(":")
                repo_id, _, revision = rest.rpartition("@")
                line = hub_table_line(lock_text, repo_type, repo_id, revision) if repo_id else None
                if line is not None:
                    record["line"] = line
            elif absolute is not None and not absolute.exists() and pyproject is not None and pyproject_text:
                key = "lockfile" if record.get("kind") == "lockfile" or record.get("rule") == "integrity" else None
                record["path"] = _relative(pyproject, root)
                record["kind"] = "config"
                line = toml_key_line(pyproject_text, "tool.aisupply", key)
                if line is not None:
                    record["line"] = line
            if prefix and record.get("path") and not str(record["path"]).startswith("/"):
                record["path"] = f"{prefix}/{record['path']}"
            result.append(record)
        return result

    def _bom(self, partial: bool) -> None:
        from ..reports.bom import BomDependencyError, BomError, build_bom, compare_boms

        try:
            text = build_bom(self._bom_input())
        except BomDependencyError as exc:
            self._fail(str(exc))
            return
        except BomError as exc:
            self._fail(str(exc), pytest.ExitCode.INTERNAL_ERROR)
            return
        current = json.loads(text)
        if self.check_path is not None:
            self._check(current, partial, compare_boms)
        if self.bom_path is not None:
            try:
                changed = write_atomic(self.bom_path, text)
            except OSError as exc:
                self._fail(f"cannot write the BOM {self.bom_path}: {exc.strerror or exc}")
                return
            shown = self._shown(self.bom_path)
            message = f"wrote {shown}" if changed else f"{shown} unchanged"
            self.summary.append((f"BOM: {message} ({_components(current)})", {}))
            if partial:
                self.summary.append(
                    ("BOM: partial run (deselected or stopped checks): it lists only what this run checked", {})
                )

    def _check(self, current: dict[str, Any], partial: bool, compare: Any) -> None:
        path = self.check_path
        if path is None:  # pragma: no cover - checked by the caller
            return
        shown = self._shown(path)
        try:
            committed = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            committed = {}
            self.drift_lines.append(f"{shown} does not exist")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.drift_lines.append(f"{shown} cannot be read as JSON: {exc}")
            return
        if not isinstance(committed, dict):
            self.drift_lines.append(f"{shown} is not a CycloneDX JSON document")
            return
        drift = compare(committed, current, report_removed=not partial)
        self.drift_lines.extend(drift.lines())
        if self.drift_lines:
            return
        note = " (partial run: components it did not check are not compared)" if partial else ""
        self.summary.append((f"BOM check: {shown} matches this run ({_components(current)}){note}", {"green": True}))

    def _bom_input(self) -> Any:
        from ..inventory.core import parse_hub_file_id
        from ..reports.bom import ArtifactInfo, BomInput, CodeReference, hub_ref, timestamp_from_env

        engine = self.config.stash.get(engine_key, None)
        inventory = engine.inventory if engine is not None else None
        lock: Lock | None = getattr(inventory, "lock", None)
        hub: dict[tuple[str, str, str], HubEntry] = dict(lock.hub) if lock is not None else {}
        recorded_artifacts: dict[str, ArtifactEntry] = {}
        for record in self.records:
            for value in (record.get("recorded") or {}).values():
                entry = entry_from_json(value)
                if isinstance(entry, HubEntry):
                    hub[entry.key] = entry
                else:
                    recorded_artifacts[entry.path] = entry

        artifacts: dict[str, dict[str, Any]] = {}
        hub_verdicts: dict[str, dict[str, str]] = {}
        unlocked: set[tuple[str, str, str]] = set()
        for record in sorted(self.records, key=lambda r: (str(r.get("rule")), str(r.get("subject")))):
            rule, status, subject = str(record.get("rule")), str(record.get("status")), str(record.get("subject"))
            hub_file = parse_hub_file_id(subject) if record.get("kind") == "artifact" else None
            if hub_file is not None:  # a file of a locked Hub commit (issue 13): a verdict of its model
                file_type, file_repo, file_revision, file_path = hub_file
                hub_verdicts.setdefault(hub_ref(file_type, file_repo, file_revision), {})[f"{rule}:{file_path}"] = (
                    status
                )
            elif record.get("kind") == "artifact":
                path = str(record.get("path") or subject)
                info = artifacts.setdefault(path, {"format": None, "verdicts": {}})
                if record.get("format") and (rule == "no-pickle" or info["format"] is None):
                    info["format"] = str(record["format"])
                info["verdicts"][rule] = status
            elif record.get("kind") in _HUB_SUBJECT_KINDS:
                repo_type, _, rest = subject.partition(":")
                repo_id, at, revision = rest.rpartition("@")
                if at and repo_id:
                    hub_verdicts.setdefault(subject, {})[rule] = status
                    if (repo_type, repo_id, revision) not in hub and _is_commit(revision):
                        unlocked.add((repo_type, repo_id, revision))
                else:  # per repository, any revision (the source rule)
                    for key in hub:
                        if key[0] == repo_type and key[1] == rest:
                            hub_verdicts.setdefault(hub_ref(*key), {})[rule] = status
        for repo_type, repo_id, revision in list(unlocked):
            for record in self.records:
                if record.get("kind") in _HUB_SUBJECT_KINDS and record.get("subject") == f"{repo_type}:{repo_id}":
                    ref = hub_ref(repo_type, repo_id, revision)
                    hub_verdicts.setdefault(ref, {})[str(record.get("rule"))] = str(record.get("status"))

        hashes = self._artifact_hashes(artifacts, recorded_artifacts, lock)
        name, version = self._project_name()
        return BomInput(
            project_name=name,
            project_version=version,
            tool_version=__version__,
            hub=[hub[key] for key in sorted(hub)],
            unlocked=sorted(unlocked),
            artifacts=[
                ArtifactInfo(path, info["format"], hashes.get(path), dict(info["verdicts"]))
                for path, info in sorted(artifacts.items())
            ],
            verdicts=hub_verdicts,
            timestamp=timestamp_from_env(os.environ.get("SOURCE_DATE_EPOCH")),
            code_references=self._code_references(inventory, CodeReference),
            signers={
                str(record.get("subject")): str(record["signer"])
                for record in self.records
                if record.get("rule") == "signature" and record.get("signer")
            },
        )

    def _code_references(self, inventory: Any, make: Any) -> list[Any]:
        """Every Hub reference the code holds (one per repository and revision), so the BOM lists
        what the code loads before any lockfile exists."""
        found: dict[tuple[str, str, str | None, str | None], list[str]] = {}
        for use in getattr(inventory, "hub_uses", None) or ():
            reference = use.reference
            if reference.repo_type not in ("model", "dataset", "space") or not isinstance(reference.repo_id, str):
                continue
            revision = reference.revision if isinstance(reference.revision, str) else None
            pinned = revision if revision is not None and _is_commit(revision) else None
            requested = None if pinned else revision
            key = (reference.repo_type, reference.repo_id, pinned, requested)
            found.setdefault(key, []).append(f"{use.relpath}:{use.place}")
        return [
            make(repo_type, repo_id, revision, requested, tuple(places))
            for (repo_type, repo_id, revision, requested), places in sorted(
                found.items(), key=lambda item: tuple(part or "" for part in item[0])
            )
        ]

    def _artifact_hashes(
        self, artifacts: dict[str, dict[str, Any]], recorded: dict[str, ArtifactEntry], lock: Lock | None
    ) -> dict[str, str]:
        """sha256 per artifact: recorded by this run's update, else the lockfile's when this run's
        integrity check confirmed it, else from the hash cache (hashing only what nobody hashed)."""
        root = self.config.rootpath
        result: dict[str, str] = {}
        missing: list[tuple[str, Path]] = []
        for path, info in artifacts.items():
            if path in recorded:
                result[path] = recorded[path].sha256
            elif lock is not None and path in lock.artifacts and info["verdicts"].get("integrity") == "passed":
                result[path] = lock.artifacts[path].sha256
            elif not Path(path).is_absolute():
                missing.append((path, root / path))
        if missing:
            cache = HashCache()
            engine = self.config.stash.get(engine_key, None)
            engine_cache = getattr(getattr(engine, "inventory", None), "hash_cache", None)
            if isinstance(engine_cache, HashCache):
                cache.known.update(engine_cache.known)
                cache.known.update(engine_cache.fresh)
            cache.known.update(self.hashes)
            cache.prefetch(absolute for _, absolute in missing)
            for path, absolute in missing:
                try:
                    result[path] = cache.sha256(absolute)
                except OSError:
                    continue
        return result

    def _project_name(self) -> tuple[str, str | None]:
        pyproject = self.settings.source or (self.config.rootpath / "pyproject.toml")
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            data = {}
        project = data.get("project") if isinstance(data.get("project"), dict) else {}
        name = project.get("name") if isinstance(project.get("name"), str) and project["name"].strip() else None
        version = project.get("version") if isinstance(project.get("version"), str) else None
        return (name or self.settings.root.resolve().name or "project"), version

    def _shown(self, path: Path) -> str:
        for base in (Path.cwd(), self.config.rootpath):
            try:
                return path.relative_to(base.resolve()).as_posix()
            except ValueError:
                continue
        return str(path)

    # -- terminal -----------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.summary:
            failed = any(markup.get("red") for _, markup in self.summary)
            terminalreporter.section("aisupply reports", **({"red": True} if failed else {"green": True}))
            for line, markup in self.summary:
                terminalreporter.write_line(line, **markup)
        if self.drift_lines:
            terminalreporter.section("aisupply BOM drift", red=True, bold=True)
            for line in self.drift_lines:
                terminalreporter.write_line(f"  {line}", red=True)
            target = self._shown(self.check_path) if self.check_path is not None else "PATH"
            terminalreporter.write_line(
                f"the committed BOM is out of date: regenerate it with pytest --aisupply-bom={target}, "
                "review the diff and commit it",
                red=True,
            )


def _absolute(value: str | None) -> Path | None:
    return Path(os.path.abspath(os.path.expanduser(value))) if value else None


def _read_text(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _same(first: Path, second: Path) -> bool:
    try:
        return first.resolve() == second.resolve()
    except OSError:
        return False


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return path.as_posix()


def _repository_prefix(root: Path) -> str:
    """The project root relative to the enclosing git work tree ('' when they are the same or
    there is none): code scanning resolves result URIs against the repository root."""
    resolved = root.resolve()
    for parent in (resolved, *resolved.parents):
        if (parent / ".git").exists():
            relative = resolved.relative_to(parent).as_posix()
            return "" if relative == "." else relative
    return ""


def _is_commit(revision: str) -> bool:
    return len(revision) == 40 and all(char in "0123456789abcdef" for char in revision)


def _components(document: dict[str, Any]) -> str:
    def count(items: Iterable[Any]) -> int:
        return sum(1 + count(item.get("components") or ()) for item in items if isinstance(item, dict))

    total = count(document.get("components") or ())
    return f"{total} component{'' if total == 1 else 's'}"


def option_value(config: pytest.Config, flag: str) -> str:
    return str(getattr(config.option, flag.lstrip("-").replace("-", "_"), ""))


def unwritable(path: Path) -> str | None:
    """Why a report cannot be written to ``path`` (checked at start-up), or None."""
    if path.is_dir():
        return "it is a directory"
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{ancestor} is not writable"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only"
    return None


def new_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file under the user's umask (0644 under 022):
    ``mkstemp`` creates 0600, which would hide a committed report or lockfile from the group."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, text: str) -> bool:
    """Write ``text`` atomically (temporary file, then ``os.replace``); False when unchanged."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.chmod(temporary, new_file_mode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True
