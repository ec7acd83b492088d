"""Rule ``unsafe-format``: model formats that carry code without pickle carry none.

Subjects are files whose content is one of: a Keras v3 archive (zip with ``config.json`` and
``metadata.json`` at its root), an HDF5 file (legacy Keras H5), a TensorFlow ``saved_model.pb``,
an ONNX model or a GGUF file. Findings: Keras Lambda layers, serialized lambdas and functions or
custom objects from modules outside Keras (at any depth of the config); SavedModel graphs with
ops that reach files, the shell or Python; ONNX external data outside the model's folder; GGUF
chat templates with template-injection constructs. Whatever cannot be read fails (fail closed).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ..findings import Finding, Subject
from ..formats import ArtifactFacts, FormatReader, analyze_path
from ..inventory.core import is_hub_file

# Each format's reader module is imported by the check of that format: listing the subjects of a
# project that holds none (pickles, .npy, safetensors) must not import the Keras, protobuf and GGUF
# readers.
if TYPE_CHECKING:
    from ..formats.gguf import ChatTemplate, TemplateConstruct
    from ..formats.keras import KerasCode, KerasConfig
    from ..formats.onnx import ExternalTensor
    from ..formats.savedmodel import OpUse
    from ..inventory.core import Artifact, Inventory

RULE_ID = "unsafe-format"
SAVED_MODEL_NAME = "saved_model.pb"

_WAIVE = "if the file is reviewed and trusted, add a [[tool.aisupply.waive]] entry with a reason"
_FIXES = {
    "lambda-layer": (
        "replace the Lambda with built-in layers or a custom layer class in your own package, and re-save; "
        "until then load it only with safe_mode=True (the default) and keep it on"
    ),
    "lambda": (
        "replace the lambda with a built-in Keras function or a named function in your own package, and "
        "re-save; until then load it only with safe_mode=True (the default) and keep it on"
    ),
    "function": (
        "use a built-in Keras function instead; if the function is your own reviewed code, "
        "pass it through custom_objects when loading"
    ),
    "custom-object": (
        "make sure the module is your own reviewed code (the model file chooses what is imported), "
        "or rebuild the model from built-in Keras layers"
    ),
    "unknown-object": "re-save the model with Keras from trusted code; the config was not written by Keras as is",
    "keras-unreadable": "re-save the model with Keras (model.save('model.keras')) from trusted code",
    "h5py": (
        "install pytest-aisupply[h5] (h5py) so that the model_config attribute can be checked; if the file is not "
        "a Keras model, exclude it in [tool.aisupply]"
    ),
    "savedmodel": (
        "re-export the model from code whose saved functions only compute on tensors (no tf.io.read_file, "
        "tf.io.write_file, tf.io.matching_files, tf.py_function or tf.numpy_function)"
    ),
    "savedmodel-unreadable": "re-export the model with tf.saved_model.save from trusted code",
    "onnx": (
        "keep external data files next to the model with plain relative names: "
        "onnx.save_model(model, path, save_as_external_data=True, location='model.onnx.data'), or embed the data"
    ),
    "onnx-unreadable": "re-export the model with onnx.save_model from trusted code",
    "gguf": (
        "remove the construct: a chat template only needs messages, roles and special tokens; take the template "
        "from the original model's tokenizer_config.json, or re-convert the model from trusted weights"
    ),
    "gguf-unreadable": "re-convert the model with llama.cpp's convert scripts (gguf-py) from trusted weights",
}


def subject_kind(artifact: Artifact, inventory: Inventory | None = None) -> str | None:
    """Which inspection an artifact gets (None: not a subject). Cheap: the sniffed format and,
    for zips, the archive's central directory."""
    if is_hub_file(artifact.relpath):
        return _hub_subject_kind(artifact, inventory)
    name = artifact.path.name
    if artifact.format == "savedmodel" or (
        name == SAVED_MODEL_NAME and artifact.format in ("onnx", "unknown", "savedmodel")
    ):
        return "savedmodel"
    if artifact.format in ("gguf", "onnx"):
        return artifact.format
    if artifact.format == "hdf5":
        return "h5"
    if artifact.format == "zip":
        from ..formats.archives import is_keras_archive

        return "keras" if is_keras_archive(artifact.path) else None
    return None


def _hub_subject_kind(artifact: Artifact, inventory: Inventory | None) -> str | None:
    """A Hub file has no local copy: its kind comes from its name and the facts the update recorded
    (``hub_remote`` records the Keras facts this rule needs)."""
    if artifact.format == "savedmodel" or (
        artifact.relpath.rpartition("/")[2] == SAVED_MODEL_NAME and artifact.format in ("onnx", "unknown")
    ):
        return "savedmodel"
    if artifact.format in ("gguf", "onnx"):
        return artifact.format
    if artifact.format == "hdf5":
        return "h5"
    if artifact.format == "keras":
        return "keras"
    if artifact.format == "zip" and artifact.problem is None and inventory is not None:
        return "keras" if inventory.facts(artifact).detail("keras_archive") else None
    return None


class UnsafeFormatRule:
    id = RULE_ID
    summary = (
        "Keras, SavedModel, ONNX and GGUF files carry no code: no Lambda layers or foreign functions, "
        "no file/shell/Python ops, no external data outside the model, no chat-template injection"
    )

    def subjects(self, inventory: Inventory) -> Iterable[Subject]:
        for artifact in inventory.artifacts:
            if artifact.problem:
                continue
            kind = subject_kind(artifact, inventory)
            if kind is not None:
                shown = "keras" if kind == "keras" else artifact.format
                yield Subject(artifact.relpath, artifact.path, "artifact", shown)

    def check(self, subject: Subject, inventory: Inventory) -> Iterator[Finding]:
        artifact = inventory.by_relpath.get(subject.id)
        if artifact is None:
            return
        if artifact.problem:
            fix = artifact.fix or "replace it with a regular file inside the project"
            yield Finding(self.id, subject.id, artifact.problem, fix)
            return
        kind = subject_kind(artifact, inventory)
        check = _CHECKS.get(kind or "")
        if check is None:
            yield Finding(
                self.id,
                subject.id,
                f"no longer an inspected format (its content is {artifact.format}); the file changed during the run",
                "run the checks again",
            )
            return
        for message, fix, where, details in check(artifact, inventory):
            yield Finding(self.id, subject.id, message, f"{fix}; {_WAIVE}", where=where or None, details=details)


_Result = tuple[str, str, str, tuple[str, ...]]
_T = TypeVar("_T")


def _details_of(facts: ArtifactFacts, key: str, kind: type[_T]) -> list[_T]:
    return [value for value in facts.detail(key) if isinstance(value, kind)]


def _own(
    artifact: Artifact, inventory: Inventory, key: str, kind: type[_T], reader: FormatReader
) -> tuple[list[_T], ArtifactFacts]:
    """The file's own (not nested) details of one kind from the session's facts; when the
    built-in readers recorded none (a project reader took the file), read it with ``reader``."""
    facts = inventory.facts(artifact)
    own = [value for value in _details_of(facts, key, kind) if getattr(value, "where", None) == ""]
    if own or is_hub_file(artifact.relpath):
        return own, facts
    facts = analyze_path(artifact.path, [reader], inventory.limits)
    return [value for value in _details_of(facts, key, kind) if getattr(value, "where", None) == ""], facts


def _unread(facts: ArtifactFacts, what: str, fix: str) -> Iterator[_Result]:
    """Fail closed: the reader recorded nothing usable."""
    problems = [problem for problem in facts.problems if not problem.where]
    for problem in problems:
        yield (f"{what} cannot be inspected: {problem.message}", fix, "", ())
    if not problems:
        yield (f"{what} cannot be inspected: the reader recorded nothing", fix, "", ())


# --------------------------------------------------------------------------------------------
# Keras
# --------------------------------------------------------------------------------------------


def _read_with(artifact: Artifact, inventory: Inventory, reader: FormatReader) -> ArtifactFacts:
    """The file read with ``reader``; a Hub file's facts as the update recorded them."""
    if is_hub_file(artifact.relpath):
        return inventory.facts(artifact)
    return analyze_path(artifact.path, [reader], inventory.limits)


def _check_keras(artifact: Artifact, inventory: Inventory) -> Iterator[_Result]:
    from ..formats.keras import KerasArchiveReader, KerasConfig

    facts = _read_with(artifact, inventory, KerasArchiveReader())
    configs = _details_of(facts, "keras_config", KerasConfig)
    if not configs:
        yield from _unread(facts, "Keras archive", _FIXES["keras-unreadable"])
        return
    for config in configs:
        yield from _keras_results(config, "Keras config")


def _check_h5(artifact: Artifact, inventory: Inventory) -> Iterator[_Result]:
    from ..formats.keras import KerasConfig, KerasH5Reader

    facts = _read_with(artifact, inventory, KerasH5Reader())
    if facts.detail("keras_h5_unread"):
        yield (
            "legacy Keras H5 file cannot be inspected without h5py (an HDF5 file may hold a Keras "
            "model_config with Lambda layers)",
            _FIXES["h5py"],
            "",
            (),
        )
        return
    configs = _details_of(facts, "keras_config", KerasConfig)
    if not configs and any(not problem.where for problem in facts.problems):
        yield from _unread(facts, "HDF5 file", _FIXES["keras-unreadable"])
    for config in configs:
        yield from _keras_results(config, "legacy Keras H5")


def _keras_results(config: KerasConfig, label: str) -> Iterator[_Result]:
    for code in config.code:
        yield _keras_code(code, label)
    for problem in config.problems:
        yield (f"{label} cannot be inspected: {problem}", _FIXES["keras-unreadable"], config.source, ())


def _keras_code(code: KerasCode, label: str) -> _Result:
    named = f" {code.name!r}" if code.name else ""
    module = next((detail[len("module: ") :] for detail in code.details if detail.startswith("module: ")), "")
    if code.kind == "lambda-layer":
        message = f"Keras Lambda layer{named} (runs Python code when the model loads)"
        details = code.details
    elif code.kind == "lambda":
        message = f"serialized Python lambda{named} in the {label} (its bytecode runs when the model loads)"
        details = ()
    elif code.kind == "function":
        message = f"function{named} from module {module} (loading imports the module and calls the function)"
        details = ()
    elif code.kind == "custom-object":
        message = f"Keras custom object{named} from module {module} (loading imports that module and runs its code)"
        details = ()
    else:
        message = f"unknown special object{named} in the {label} (not plain data that Keras writes)"
        details = ()
    return message, _FIXES[code.kind], code.path, details


# --------------------------------------------------------------------------------------------
# TensorFlow SavedModel
# --------------------------------------------------------------------------------------------


def _check_savedmodel(artifact: Artifact, inventory: Inventory) -> Iterator[_Result]:
    from ..formats.savedmodel import UNSAFE_OPS, SavedModelGraph, SavedModelReader

    graphs, facts = _own(artifact, inventory, "savedmodel", SavedModelGraph, SavedModelReader(any_content=True))
    if not graphs:
        yield from _unread(facts, "SavedModel", _FIXES["savedmodel-unreadable"])
        return
    graph = graphs[0]
    by_op: dict[str, list[OpUse]] = {}
    for use in graph.unsafe:
        by_op.setdefault(use.op, []).append(use)
    for op, uses in by_op.items():
        first = uses[0]
        count = len(uses) if graph.unsafe_count == len(graph.unsafe) else f"{len(uses)}+"
        message = f"TensorFlow op {op} ({UNSAFE_OPS[op]}) in {count} node{'s' if len(uses) != 1 else ''} of the graph"
        others = tuple(f"also in {use.where} {use.node!r}" for use in uses[1:6])
        if len(uses) > 6:
            others += (f"and {len(uses) - 6} more",)
        yield message, _FIXES["savedmodel"], f"{first.where} {first.node!r}", others
    for problem in graph.problems:
        yield f"SavedModel cannot be inspected: {problem}", _FIXES["savedmodel-unreadable"], "", ()


# --------------------------------------------------------------------------------------------
# ONNX
# --------------------------------------------------------------------------------------------


def _check_onnx(artifact: Artifact, inventory: Inventory) -> Iterator[_Result]:
    from ..formats.onnx import OnnxModel, OnnxReader

    models, facts = _own(artifact, inventory, "onnx", OnnxModel, OnnxReader())
    if not models:
        yield from _unread(facts, "ONNX model", _FIXES["onnx-unreadable"])
        return
    model = models[0]
    by_location: dict[str | None, list[ExternalTensor]] = {}
    for tensor in model.external:
        by_location.setdefault(tensor.location, []).append(tensor)
    for location, tensors in by_location.items():
        # a Hub file has no folder on disk: its external data is judged by the location's text alone
        reason = _location_reason(location, None if is_hub_file(artifact.relpath) else artifact.path)
        if reason is None:
            continue
        first = tensors[0]
        names = ", ".join(repr(tensor.name) for tensor in tensors[:5]) + (" ..." if len(tensors) > 5 else "")
        if location is None:
            message = "ONNX tensor stored as external data without a location (it cannot be checked)"
        else:
            message = (
                f"ONNX external data location {location!r} {reason} (loading the model reads that file into a tensor)"
            )
        where = f"{first.where} {first.name!r}" if first.name else first.where
        yield message, _FIXES["onnx"], where, (f"tensors: {names} ({len(tensors)})",)
    for problem in model.problems:
        yield f"ONNX model cannot be inspected: {problem}", _FIXES["onnx-unreadable"], "", ()


def _location_reason(location: str | None, model: Path | None) -> str | None:
    """Why the external data at ``location`` is not a file inside the model's folder (None: it
    is). Beyond the text itself, symlinks on the way are followed (for a local ``model``)."""
    if location is None:
        return "has no location"
    from ..formats.onnx import location_problem

    reason = location_problem(location)
    if reason is not None or model is None:
        return reason
    folder = model.parent
    try:
        resolved = (folder / location.replace("\\", "/")).resolve()
        inside = resolved.is_relative_to(folder.resolve())
    except (OSError, RuntimeError, ValueError):
        return "cannot be resolved (a symlink loop or an unreadable folder)"
    return None if inside else f"resolves through a symlink to {resolved}, outside the model folder"


# --------------------------------------------------------------------------------------------
# GGUF
# --------------------------------------------------------------------------------------------


def _check_gguf(artifact: Artifact, inventory: Inventory) -> Iterator[_Result]:
    from ..formats.gguf import GgufHeader, GgufReader

    headers, facts = _own(artifact, inventory, "gguf", GgufHeader, GgufReader())
    if not headers:
        yield from _unread(facts, "GGUF file", _FIXES["gguf-unreadable"])
        return
    header = headers[0]
    for template in header.templates:
        yield from _template_results(template)
    for problem in header.problems:
        yield f"GGUF metadata cannot be inspected: {problem}", _FIXES["gguf-unreadable"], "", ()


def _template_results(template: ChatTemplate) -> Iterator[_Result]:
    blocks: dict[tuple[int, int], list[TemplateConstruct]] = {}
    for construct in template.constructs:
        blocks.setdefault((construct.block_line, construct.block_column), []).append(construct)
    for (line, column), constructs in blocks.items():
        listed = ", ".join(dict.fromkeys(item.construct for item in constructs))
        details = tuple(
            f"{item.construct} (line {item.line}, column {item.column}): {item.description}" for item in constructs
        )
        yield (
            f"chat template uses template-injection constructs: {listed}",
            _FIXES["gguf"],
            f"GGUF metadata {template.key}, line {line}, column {column}",
            (f"template: {constructs[0].excerpt}", *details),
        )


_CHECKS = {
    "keras": _check_keras,
    "h5": _check_h5,
    "savedmodel": _check_savedmodel,
    "onnx": _check_onnx,
    "gguf": _check_gguf,
}
