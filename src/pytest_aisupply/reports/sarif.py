"""SARIF 2.1.0 for code-scanning dashboards (GitHub code scanning first), from the ``aisupply``
records that the checks attach to their test reports.

One run; ``tool.driver.rules`` holds every rule registered or seen; one result per finding
(waived findings as suppressed results). Locations are project-relative POSIX URIs under
``%SRCROOT%``; a region only for text (code, the lockfile, ``pyproject.toml``), never for binary
artifacts. A notebook cell's region is the line of the ``.ipynb`` file that holds the cell line
(the finding's ``line``); the cell and line are also named in the message.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/pytest-aisupply/pytest-aisupply"
SRCROOT = "%SRCROOT%"
#: GitHub code scanning accepts at most this many results per run.
MAX_RESULTS = 25_000
FINGERPRINT_KEY = "aisupply/v1"

Record = Mapping[str, Any]


@dataclass(frozen=True)
class RuleInfo:
    """A rule as the run knows it: id, one-line summary, configured severity."""

    id: str
    summary: str = ""
    severity: str = "error"


@dataclass(frozen=True)
class RuleDoc:
    security_severity: str
    precision: str
    description: str
    fix: str
    cwe: tuple[int, ...] = ()
    code: bool = False  # inline `# aisupply: ignore[rule] reason` comments apply


RULE_DOCS: dict[str, RuleDoc] = {
    "no-pickle": RuleDoc(
        "8.8",
        "very-high",
        "A pickle stream runs code while it is loaded (torch.load, pickle.load, joblib.load, numpy.load with "
        "allow_pickle). Every artifact is read by its content, never by its file name: raw pickles, PyTorch "
        "checkpoints, joblib dumps, numpy object arrays and pickles inside zip and tar members. The scanner names "
        "the globals the pickle would import and never unpickles anything.",
        "Convert the weights to safetensors (safetensors.torch.save_file(torch.load(path, weights_only=True), "
        "'model.safetensors')), store data as numeric .npy or JSON, and models without code (ONNX, skops); or set "
        'pickle = "scan" and list the globals the file needs in pickle_allowed_globals.',
        cwe=(502,),
    ),
    "unsafe-load": RuleDoc(
        "7.8",
        "high",
        "Code that loads with torch.load without weights_only=True, pickle, joblib, numpy.load(allow_pickle=True), "
        "pandas.read_pickle, dill, cloudpickle, shelve, Keras safe_mode=False or use_safetensors=False "
        "deserializes pickles, which run arbitrary code.",
        "Load with torch.load(path, weights_only=True) or safetensors.torch.load_file, numpy.load without "
        "allow_pickle, and file formats that cannot run code.",
        cwe=(502,),
        code=True,
    ),
    "remote-code": RuleDoc(
        "8.8",
        "high",
        "trust_remote_code=True and diffusers custom pipelines execute Python code from the Hub repository when "
        "the model is loaded; they are accepted only for repositories listed in trust_remote_code and pinned to "
        "a reviewed commit.",
        "Remove trust_remote_code=True; or review the repository's code, list it in [tool.aisupply] "
        "trust_remote_code and pin the reviewed commit with revision=.",
        cwe=(94,),
        code=True,
    ),
    "pinned-revision": RuleDoc(
        "6.5",
        "very-high",
        "A Hub model, dataset or torch.hub repository loaded without a 40-hex commit runs whatever the repository "
        "holds on the day it is loaded: a moved branch or tag silently changes the weights or the code.",
        'Pass revision="<40-hex commit>" (the commit you reviewed) to every from_pretrained, hf_hub_download, '
        "snapshot_download, load_dataset and torch.hub call; for APIs that cannot pin, download with "
        "hf_hub_download(..., revision=sha) and load the local path.",
        cwe=(494,),
        code=True,
    ),
    "integrity": RuleDoc(
        "7.5",
        "very-high",
        "Artifacts and pinned Hub references must match the reviewed lockfile (aisupply.lock): a different hash "
        "means the file is not the one that was reviewed; a pinned commit must be on a branch or tag.",
        "If the change is expected, run pytest --aisupply-update and review the lockfile diff before committing "
        "it; otherwise restore the reviewed file.",
        cwe=(494,),
    ),
    "unsafe-format": RuleDoc(
        "8.8",
        "high",
        "Keras Lambda layers and foreign functions, TensorFlow SavedModel file and Python ops, ONNX external data "
        "outside the model folder and GGUF chat templates with template-injection constructs run code or read "
        "files when the model is loaded or used.",
        "Rebuild the model without Lambda layers or custom Python objects, remove file and Python ops, keep ONNX "
        "external data next to the model, and use a reviewed chat template.",
    ),
    "safetensors": RuleDoc(
        "5.0",
        "very-high",
        "A safetensors file whose header does not describe its data exactly is corrupt or was tampered with, and a "
        "file named like safetensors that is not one may be something else in disguise.",
        "Export the tensors again with safetensors from a trusted source, or rename a file that is not safetensors.",
    ),
    "license": RuleDoc(
        "3.0",
        "high",
        "Models and datasets, and their base models, must carry a license listed in allowed_licenses.",
        "Use a model under an allowed license or, after legal review, add its license to allowed_licenses in "
        "[tool.aisupply].",
    ),
    "source": RuleDoc(
        "5.0",
        "very-high",
        "Repository ids must match allowed_sources and no denied_sources pattern.",
        "Use a model from an allowed publisher, or add the publisher to allowed_sources after review.",
    ),
}
# rule signature (issue 15)
RULE_DOCS["signature"] = RuleDoc(
    "7.5",
    "very-high",
    "Model folders and Hub repositories named in [[tool.aisupply.signed]] must carry a valid OpenSSF model "
    "signature by the configured key, certificate chain or Sigstore identity, over exactly the files they hold.",
    "Restore the signed files, or sign the folder again with model_signing sign and commit the signature; for a "
    "Hub repository, pin a signed commit and run pytest --aisupply-update.",
    cwe=(347, 494),
)
PROJECT_RULE = RuleDoc("5.0", "medium", "", "Follow the fix given with each result.")

_LEVELS = {"error": "error", "warn": "warning", "warning": "warning", "off": "none"}
_LEVEL_RANK = {"error": 0, "warning": 1, "note": 2, "none": 3}
_CELL = re.compile(r"(?P<path>.*?):cell (?P<cell>\d+):line (?P<line>\d+)\Z")
_PLACE = re.compile(r"(?P<path>.*?):(?P<line>\d+)(?::(?P<col>\d+))?\Z")
_HEX = re.compile(r"\b[0-9a-f]{7,}\b")
_DIGITS = re.compile(r"\d+")


def rule_doc(rule_id: str) -> RuleDoc:
    return RULE_DOCS.get(rule_id, PROJECT_RULE)


def _level(severity: str | None) -> str:
    return _LEVELS.get(severity or "error", "error")


def _rule_name(rule_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", rule_id) if part) or "Rule"


def _help(rule_id: str, doc: RuleDoc) -> tuple[str, str]:
    waiver = (
        "[[tool.aisupply.waive]]\n"
        f'rule = "{rule_id}"\n'
        'path = "models/legacy/*.bin"   # the project-relative path (gitignore-style glob)\n'
        'reason = "why it is acceptable"\n'
        'expires = 2027-03-31           # optional; sha256 = "..." pins the reviewed file'
    )
    inline = f"# aisupply: ignore[{rule_id}] <reason>"
    text = f"How to fix: {doc.fix}\n\nHow to waive a reviewed finding: add to pyproject.toml\n\n{waiver}\n"
    markdown = f"**How to fix:** {doc.fix}\n\n**How to waive** a reviewed finding: add to `pyproject.toml`\n\n"
    markdown += f"```toml\n{waiver}\n```\n"
    if doc.code:
        text += f"\nor put `{inline}` on the offending line (the reason is required).\n"
        markdown += f"\nor put `{inline}` on the offending line (the reason is required).\n"
    tail = "Waived findings stay in the report as suppressed results, with the waiver's reason."
    return text + "\n" + tail, markdown + "\n" + tail


def _rule_descriptor(rule: RuleInfo) -> dict[str, Any]:
    doc = rule_doc(rule.id)
    summary = (rule.summary or rule.id).strip()
    text, markdown = _help(rule.id, doc)
    tags = ["security", "supply-chain", *(f"external/cwe/cwe-{cwe}" for cwe in doc.cwe)]
    if rule.id not in RULE_DOCS:
        tags.append("project-rule")
    return {
        "id": rule.id,
        "name": _rule_name(rule.id),
        "shortDescription": {"text": summary[:1024]},
        "fullDescription": {"text": doc.description or summary},
        "help": {"text": text, "markdown": markdown},
        "helpUri": INFORMATION_URI,
        "defaultConfiguration": {"level": _level(rule.severity), "enabled": rule.severity != "off"},
        "properties": {"tags": tags, "precision": doc.precision, "security-severity": doc.security_severity},
    }


def _rules(rules: Iterable[RuleInfo], records: Sequence[Record]) -> list[RuleInfo]:
    known = {rule.id: rule for rule in rules}
    for record in records:
        rule_id = str(record.get("rule", ""))
        if rule_id and rule_id not in known:
            known[rule_id] = RuleInfo(rule_id, "", str(record.get("severity") or "error"))
    return [known[key] for key in sorted(known)]


def _uri(path: str) -> str:
    return quote(path.replace("\\", "/"), safe="/")


def _location(record: Record, finding: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, str]:
    """(physicalLocation, place shown in the message, logical location for the fingerprint)."""
    path = str(record.get("path") or record.get("subject") or "")
    kind = record.get("kind")
    text = kind != "artifact" and not path.endswith(".ipynb")
    where = finding.get("where")
    where = str(where) if where else None
    details = [str(item) for item in finding.get("details") or ()]
    region: dict[str, int] | None = None
    shown = where
    logical = where or ""
    cell = _CELL.match(where) if where is not None else None
    place = _PLACE.match(where) if where is not None else None
    if cell is not None:
        shown = f"cell {cell['cell']}, line {cell['line']}"
        logical = f"cell {cell['cell']}"
        notebook_line = finding.get("line")
        if isinstance(notebook_line, int) and not isinstance(notebook_line, bool) and notebook_line > 0:
            region = {"startLine": notebook_line}  # the line in the .ipynb JSON
    elif text and place is not None and int(place["line"]) > 0:
        region = {"startLine": int(place["line"])}
        if place["col"] and int(place["col"]) > 0:
            region["startColumn"] = int(place["col"])
        shown = None
    elif text:
        line = finding.get("line") or record.get("line")
        if isinstance(line, int) and not isinstance(line, bool) and line > 0:
            region = {"startLine": line}
    if region is not None and kind == "code":
        logical = details[0] if details else ""
    if logical.startswith("/") or re.match(r"[A-Za-z]:[\\/]", logical):
        logical = ""  # absolute paths (e.g. the local Hub cache) differ between machines
    if kind == "signed-folder" and where is not None and where.startswith(path.rstrip("/") + "/"):
        path, shown = where, None  # rule signature: the file of the signed folder that differs
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(path), "uriBaseId": SRCROOT}}
    if region is not None:
        physical["region"] = region
    return physical, shown, logical


def _message(finding: Mapping[str, Any], shown: str | None, waived: str | None) -> str:
    headline = str(finding.get("message") or "finding").strip()
    if shown:
        headline += f" ({shown})"
    if not headline.endswith((".", "!", "?")):
        headline += "."
    lines = [headline]
    lines.extend(str(item) for item in finding.get("details") or () if str(item).strip())
    if finding.get("fix"):
        lines.append(f"Fix: {finding['fix']}")
    if waived:
        lines.append(f"Waived: {waived}")
    return "\n".join(lines)


def _fingerprint(rule_id: str, path: str, logical: str, message: str) -> str:
    normalized = _DIGITS.sub("#", _HEX.sub("<hash>", message))
    digest = hashlib.sha256("\0".join((rule_id, path, logical, normalized)).encode("utf-8")).hexdigest()
    return digest[:32]


def _sorted_records(records: Iterable[Record]) -> list[Record]:
    return sorted(records, key=lambda r: (str(r.get("rule", "")), str(r.get("subject", "")), str(r.get("path", ""))))


def build_sarif(
    records: Iterable[Record],
    rules: Iterable[RuleInfo],
    *,
    tool_version: str,
    max_results: int = MAX_RESULTS,
    execution: Execution | None = None,
) -> dict[str, Any]:
    """The SARIF log (as JSON-able data) for the given check records; ``execution`` says whether
    the session ran to its end (an interrupted one must not read as a clean scan)."""
    ordered = _sorted_records(records)
    rule_list = _rules(rules, ordered)
    index = {rule.id: position for position, rule in enumerate(rule_list)}
    severity_of = {rule.id: float(rule_doc(rule.id).security_severity) for rule in rule_list}
    results: list[dict[str, Any]] = []
    occurrences: Counter[str] = Counter()
    for record in ordered:
        rule_id = str(record.get("rule", ""))
        findings: list[tuple[Mapping[str, Any], str | None]] = [(f, None) for f in record.get("findings") or ()]
        findings += [(f, str(f.get("reason") or "waived")) for f in record.get("waived_findings") or ()]
        if not findings and record.get("status") in ("failed", "warned"):
            findings.append(
                (
                    {
                        "message": "the check failed without a finding",
                        "fix": "run pytest and read the failure of this check",
                    },
                    None,
                )
            )
        for finding, reason in findings:
            physical, shown, logical = _location(record, finding)
            path = physical["artifactLocation"]["uri"]
            fingerprint = _fingerprint(rule_id, path, logical, str(finding.get("message") or ""))
            occurrences[fingerprint] += 1
            count = occurrences[fingerprint]
            result: dict[str, Any] = {
                "ruleId": rule_id,
                "ruleIndex": index[rule_id],
                "level": _level(str(record.get("severity") or "error")),
                "message": {"text": _message(finding, shown, reason)},
                "locations": [{"physicalLocation": physical}],
                "partialFingerprints": {
                    "primaryLocationLineHash": f"{fingerprint[:16]}:{count}",
                    FINGERPRINT_KEY: f"{fingerprint}:{count}",
                },
                "properties": {"subject": str(record.get("subject", "")), "kind": str(record.get("kind", ""))},
            }
            if record.get("format"):
                result["properties"]["format"] = str(record["format"])
            if reason is not None:
                result["suppressions"] = [{"kind": "external", "justification": reason}]
            results.append(result)
    found = len(results)
    kept = truncate(results, max_results, severity_of)
    statuses = Counter(str(record.get("status", "")) for record in ordered)
    properties: dict[str, Any] = {
        "checks": {status: statuses[status] for status in sorted(statuses)},
        "resultsFound": found,
        "resultsWritten": len(kept),
        "truncated": len(kept) < found,
    }
    if len(kept) < found:
        properties["truncation"] = (
            f"{found} results exceed the limit of {max_results} per run (GitHub code scanning accepts at most "
            f"{MAX_RESULTS}); kept the most severe: unsuppressed before waived, errors before warnings, then by "
            "the rule's security-severity, then in report order"
        )
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "pytest-aisupply",
                "version": tool_version,
                "semanticVersion": tool_version,
                "informationUri": INFORMATION_URI,
                "rules": [_rule_descriptor(rule) for rule in rule_list],
            }
        },
        "results": kept,
        "columnKind": "unicodeCodePoints",
        "properties": properties,
    }
    run["invocations"] = [_invocation(execution or Execution())]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


# -- the invocation: did the session run every check? (issue 16) ----------------------------


@dataclass(frozen=True)
class Execution:
    """How the session ended: ``successful`` is False when it was interrupted or stopped by an
    error, with the reasons; ``notes`` say what a complete run still left out (deselected checks)."""

    successful: bool = True
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def _invocation(execution: Execution) -> dict[str, Any]:
    invocation: dict[str, Any] = {"executionSuccessful": execution.successful}
    notifications = [{"level": "error", "message": {"text": reason}} for reason in execution.reasons]
    notifications += [{"level": "note", "message": {"text": note}} for note in execution.notes]
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation


def truncate(results: list[dict[str, Any]], limit: int, severity_of: Mapping[str, float]) -> list[dict[str, Any]]:
    """At most ``limit`` results, chosen deterministically by severity; kept in their original order."""
    if len(results) <= limit:
        return results

    def rank(position: int) -> tuple[int, int, float, int]:
        result = results[position]
        return (
            1 if result.get("suppressions") else 0,
            _LEVEL_RANK.get(result["level"], 3),
            -severity_of.get(result["ruleId"], 5.0),
            position,
        )

    keep = set(sorted(range(len(results)), key=rank)[: max(limit, 0)])
    return [result for position, result in enumerate(results) if position in keep]


def hub_table_line(lock_text: str, repo_type: str, repo_id: str, revision: str) -> int | None:
    """The line of the ``[[hub]]`` table of a lockfile that records this reference, or None."""
    start: int | None = None
    values: dict[str, str] = {}
    wanted = {"repo_type": repo_type, "repo_id": repo_id, "revision": revision}
    for number, line in enumerate([*lock_text.splitlines(), "[end]"], start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            if start is not None and all(values.get(key) == value for key, value in wanted.items()):
                return start
            start = number if re.match(r"\[\[\s*hub\s*\]\]", stripped) else None
            values = {}
            continue
        match = re.match(r"""(repo_type|repo_id|revision)\s*=\s*["']([^"']*)["']""", stripped)
        if start is not None and match:
            values[match[1]] = match[2]
    return None


def toml_key_line(text: str, table: str, key: str | None = None) -> int | None:
    """The line of ``key`` in ``[table]`` (or of the table header when the key is absent)."""
    header = re.compile(r"\s*\[\s*" + re.escape(table) + r"\s*\]\s*(#.*)?\Z")
    start: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if start is None:
            if header.match(line):
                start = number
            continue
        if re.match(r"\s*\[", line):
            break
        if key is not None and re.match(r"\s*[\"']?" + re.escape(key) + r"[\"']?\s*=", line):
            return number
    return start
