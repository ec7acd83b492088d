"""Rule ``no-pickle``: an artifact must not hold a pickle stream anywhere, decided by content."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ..findings import Finding, Subject
from ..formats import PickleFact
from .pickle_policy import PicklePolicy

if TYPE_CHECKING:
    from ..inventory import Inventory

RULE_ID = "no-pickle"

FORMAT_NAMES = {
    "pickle": "raw pickle",
    "joblib": "joblib dump",
    "pytorch-zip": "PyTorch zip checkpoint",
    "pytorch-legacy": "PyTorch legacy checkpoint",
    "pytorch-legacy-tar": "PyTorch legacy tar checkpoint",
    "numpy-object": "numpy object array",
    "numpy-npz": "numpy .npz archive",
    "keras": "Keras v3 archive",
}

_FIXES = {
    "pytorch": (
        "convert the weights to safetensors: "
        "safetensors.torch.save_file(torch.load(path, weights_only=True), 'model.safetensors'), "
        "and load them with safetensors.torch.load_file"
    ),
    "joblib": (
        "store arrays as .npy/safetensors and the model in a format without code "
        '(skops.io, ONNX); or set pickle = "scan" and allow the globals it needs'
    ),
    "numpy": "save numeric arrays only (np.save with a numeric dtype) or convert to safetensors",
    "generic": (
        "store the content in a format that cannot run code (safetensors, JSON, numeric .npy); "
        'or set pickle = "scan" and allow the globals it needs'
    ),
}
_WAIVE = "if the file is reviewed and trusted, add a [[tool.aisupply.waive]] entry with a reason"


def describe_format(name: str) -> str:
    base, _, rest = name.partition(" (")
    text = FORMAT_NAMES.get(base, base)
    return f"{text} ({rest}" if rest else text


def fix_for(format_name: str) -> str:
    if "pytorch" in format_name:
        return _FIXES["pytorch"]
    if "joblib" in format_name:
        return _FIXES["joblib"]
    if "numpy" in format_name:
        return _FIXES["numpy"]
    return _FIXES["generic"]


def describe_pickle(fact: PickleFact) -> tuple[str, tuple[str, ...]]:
    stream = fact.stream
    protocol = f"protocol {stream.protocol}"
    message = f"pickle stream ({protocol})"
    if fact.note:
        message += f": {fact.note}"
    names = stream.import_names()
    details = []
    if names:
        details.append("imports " + ", ".join(names))
    else:
        details.append("imports no globals")
    if stream.error:
        details.append(f"stream could not be read to its end: {stream.error}")
    return message, tuple(details)


def _scan_finding(fact: PickleFact, policy: PicklePolicy) -> tuple[str, tuple[str, ...]] | None:
    """The finding for ``pickle = "scan"``: globals outside the allowlist, or a stream that could
    not be read to its end (fail closed); None when the stream is allowed."""
    stream = fact.stream
    refused = [item for item in stream.imports if not policy.allows(item.dotted)]
    if not refused and stream.complete:
        return None
    details = []
    if refused:
        seen: dict[str, str] = {}
        for item in refused:
            seen.setdefault(item.dotted, f"{item.dotted} ({item.opcode} at offset {item.offset})")
        details.append("imports outside the allowlist: " + ", ".join(seen.values()))
        message = f"pickle stream (protocol {stream.protocol}) imports globals outside the allowlist"
    else:
        message = f"pickle stream (protocol {stream.protocol}) could not be fully analysed"
    if stream.error:
        details.append(f"stream could not be read to its end, so it cannot be shown safe: {stream.error}")
    return message, tuple(details)


class NoPickleRule:
    id = RULE_ID
    summary = "artifacts hold no pickle stream (decided by content, never by file name)"

    def subjects(self, inventory: Inventory) -> Iterable[Subject]:
        for artifact in inventory.artifacts:
            yield Subject(artifact.relpath, artifact.path, "artifact", artifact.format)

    def check(self, subject: Subject, inventory: Inventory) -> Iterator[Finding]:
        artifact = inventory.by_relpath.get(subject.id)
        if artifact is not None and artifact.problem:
            yield Finding(
                self.id,
                subject.id,
                artifact.problem,
                "replace it with a regular file inside the project, or exclude it in [tool.aisupply]",
            )
            return
        facts = inventory.facts(artifact) if artifact else None
        if facts is None:
            return
        fix = f"{fix_for(facts.format)}; {_WAIVE}"
        policy = (
            PicklePolicy.from_settings(inventory.settings.pickle_allowed_globals)
            if inventory.settings.pickle == "scan"
            else None
        )
        for fact in facts.pickles:
            message, details = describe_pickle(fact)
            if policy is not None:
                scan = _scan_finding(fact, policy)
                if scan is None:
                    continue
                message, details = scan
                fix = (
                    "if these globals are expected, add them to pickle_allowed_globals (exact names, or "
                    f"'package.*' patterns); otherwise treat the file as malicious; {_WAIVE}"
                )
            yield Finding(self.id, subject.id, message, fix, where=fact.where or None, details=details)
        for problem in facts.problems:
            yield Finding(
                self.id,
                subject.id,
                f"cannot be inspected: {problem.message}",
                "store the content in a format that can be inspected (safetensors, zip, tar, gzip), "
                f"or exclude the path if it is not a model or data file; {_WAIVE}",
                where=problem.where or None,
            )
