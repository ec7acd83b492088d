"""Rule ``no-pickle``: an artifact must not hold a pickle stream anywhere, decided by content.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ..findings import Finding, Subject
from ..formats import PickleFact
from ..formats.pickle import PickleImport, PickleStream
from .pickle_policy import DEFAULT_POLICY, PicklePolicy, policy_for

if TYPE_CHECKING:
    from ..inventory.core import Inventory

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


#: Most globals named in one detail line; more are counted.
_LISTED = 12
#: fickling explains streams of at most this many opcodes, and a decompiled tree of at most this
#: many nodes (shared subtrees counted each time they are printed).
_EXPLAIN_OPCODES = 20_000
_EXPLAIN_NODES = 20_000
_EXPLAIN_LINES = 8
_EXPLAIN_WIDTH = 160
#: Streams explained per artifact.
_EXPLAINED_STREAMS = 3


def _uses(stream: PickleStream, dotted: str) -> str:
    uses = stream.uses_of(dotted)
    return "".join(f"; {use.action} by {use.opcode} at offset {use.offset}" for use in uses[:3])


def _listing(items: list[PickleImport], stream: PickleStream) -> str:
    """``name (OPCODE at offset N; called by REDUCE at offset M)`` for each distinct global."""
    seen: dict[str, str] = {}
    for item in items:
        if item.label not in seen:
            reached = f"{item.opcode} at offset {item.offset}"
            seen[item.label] = f"{item.label} ({reached}{_uses(stream, item.dotted)})"
    listed = list(seen.values())
    more = f", and {len(listed) - _LISTED} more" if len(listed) > _LISTED else ""
    return ", ".join(listed[:_LISTED]) + more


def _unsafe_lines(stream: PickleStream) -> list[str]:
    """What the stream does that no allowlist makes safe."""
    lines = [f"unsafe: {hazard.message}" for hazard in stream.hazards]
    lines += [
        f"unsafe: the {payload.where} (which that callable unpickles) were not analysed"
        for payload in stream.nested
        if not payload.analysed
    ]
    return lines


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
    details.extend(_unsafe_lines(stream))
    if stream.error:
        details.append(f"stream could not be read to its end: {stream.error}")
    return message, tuple(details)


def _scan_finding(fact: PickleFact, policy: PicklePolicy) -> tuple[str, tuple[str, ...]] | None:
    """The finding for ``pickle = "scan"``: globals outside the allowlist (imported, or reached
    through getattr-like callables), what no allowlist makes safe (state set on a global, calls
    that cannot be resolved, unpickled bytes that were not analysed), or a stream that could not
    be read to its end (fail closed); None when the stream is allowed."""
    stream = fact.stream
    refused = [item for item in stream.imports if not policy.allows(item.dotted)]
    unsafe = _unsafe_lines(stream)
    if not refused and not unsafe and stream.complete:
        return None
    details = []
    if refused:
        details.append("imports outside the allowlist: " + _listing(refused, stream))
        message = f"pickle stream (protocol {stream.protocol}) imports globals outside the allowlist"
    elif unsafe:
        message = f"pickle stream (protocol {stream.protocol}) does what no allowlist makes safe"
    else:
        message = f"pickle stream (protocol {stream.protocol}) could not be fully analysed"
    if fact.note:
        message += f" ({fact.note})"
    details.extend(unsafe)
    if stream.error:
        details.append(f"stream could not be read to its end, so it cannot be shown safe: {stream.error}")
    return message, tuple(details)


def explain(stream: PickleStream) -> list[str]:
    """Up to a few lines of what the stream would run, as fickling decompiles it, when fickling
    is installed (the ``explain`` extra) and the stream is small. For explanation only: the
    verdict never depends on it, and any failure of fickling's is ignored."""
    if stream.raw is None or stream.opcodes > _EXPLAIN_OPCODES:
        return []
    # fickling builds and prints a tree in which shared values (DUP, memo GET) are repeated: a
    # few opcodes can make it exponential. Its size is bounded first, without fickling.
    size = _printed_size(stream.raw)
    if size is None or size > _EXPLAIN_NODES:
        return []
    try:
        from fickling.fickle import Pickled
    except Exception:  # not installed, or broken: no explanation
        return []
    try:
        text = ast.unparse(Pickled.load(stream.raw, fail_on_decode_error=True).ast)
    except Exception:  # fickling cannot decompile it; RecursionError for deep nesting
        return []
    lines = [line if len(line) <= _EXPLAIN_WIDTH else line[: _EXPLAIN_WIDTH - 3] + "..." for line in text.splitlines()]
    shown = lines[:_EXPLAIN_LINES]
    if len(lines) > _EXPLAIN_LINES:
        shown.append(f"... ({len(lines) - _EXPLAIN_LINES} more lines)")
    return ["what it would run (fickling's decompilation, for explanation only):", *(f"  | {line}" for line in shown)]


def _printed_size(raw: bytes) -> int | None:
    """How many values a decompiler prints for the stream when every shared value (DUP, memo
    GET) is printed in full: each value's size is one plus its parts'. None when the stream
    cannot be parsed; stops counting past the cap."""
    import pickletools  # (and pickle) only to explain a stream that imports globals outside the allowlist

    stack: list[int | None] = []  # None: a MARK
    memo: dict[object, int] = {}
    total = 0
    try:
        for opcode, argument, _ in pickletools.genops(raw):
            name = opcode.name
            if name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
                memo[argument if name != "MEMOIZE" else len(memo)] = stack[-1] or 1
                continue
            if name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo.get(argument, 1))
                continue
            if name == "DUP":
                stack.append(stack[-1])
                continue
            size = 1
            before = opcode.stack_before
            if pickletools.markobject in before:
                while stack and stack[-1] is not None:
                    size += stack.pop() or 0
                if stack:
                    stack.pop()
            for item in before:
                if item is not pickletools.markobject and item is not pickletools.stackslice and stack:
                    size += stack.pop() or 0
            for item in opcode.stack_after:
                stack.append(None if item is pickletools.markobject else size)
            total = max(total, size)
            if total > _EXPLAIN_NODES:
                return total
    except Exception:  # not parseable by pickletools (it is stricter than the walker)
        return None
    return total


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
                artifact.fix or "replace it with a regular file inside the project, or exclude it in [tool.aisupply]",
            )
            return
        facts = inventory.facts(artifact) if artifact else None
        if facts is None:
            return
        fix = f"{fix_for(facts.format)}; {_WAIVE}"
        policy = policy_for(inventory.settings.pickle_allowed_globals) if inventory.settings.pickle == "scan" else None
        explained = 0
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
            # Explain what the stream would run when it does more than the default allowlist's
            # data rebuilding (a plain state dict needs no decompiled listing).
            if explained < _EXPLAINED_STREAMS and _scan_finding(fact, DEFAULT_POLICY) is not None:
                lines = explain(fact.stream)
                if lines:
                    explained += 1
                    details = (*details, *lines)
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
