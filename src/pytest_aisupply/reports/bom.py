"""The CycloneDX 1.6 ML-BOM: the project, every Hub model and dataset of the lockfile, and every
local artifact the checks saw, with hashes, licenses, base-model lineage and the checks' verdicts.

Built and validated with cyclonedx-python-lib (the ``bom`` extra), imported only when a BOM is
asked for. The output is deterministic: everything is sorted, the serial number is a UUIDv5 of the
content, and there is no timestamp unless ``SOURCE_DATE_EPOCH`` gives one, so a re-run with the
same inputs writes the same bytes.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..lockfile.lock import HubEntry

BOM_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/pytest-aisupply/pytest-aisupply/bom")
INSTALL_HINT = 'pip install "pytest-aisupply[bom]"'
PROPERTY = "aisupply"

#: Local formats (as read by the format readers) that hold a model, and those that hold data.
MODEL_FORMATS = frozenset(
    {
        "safetensors",
        "pytorch-zip",
        "pytorch-legacy",
        "pytorch-legacy-tar",
        "joblib",
        "keras",
        "hdf5",
        "onnx",
        "gguf",
        "savedmodel",
    }
)
DATA_FORMATS = frozenset({"numpy", "numpy-object", "numpy-npz", "parquet", "arrow"})
_TOP_LEVEL_ORDER = ("$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata", "components")


class BomError(Exception):
    """The BOM could not be built or is invalid (a bug: the message says what the validator found)."""


class BomDependencyError(BomError):
    """cyclonedx-python-lib (the ``bom`` extra) is not installed."""


@dataclass(frozen=True)
class ArtifactInfo:
    """A local artifact: project-relative path, format as read, sha256 (None if unreadable), verdicts."""

    path: str
    format: str | None
    sha256: str | None
    verdicts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BomInput:
    project_name: str
    tool_version: str
    project_version: str | None = None
    hub: Sequence[HubEntry] = ()
    #: Pinned references (repo_type, repo_id, revision) seen in code but not (yet) in the lockfile.
    unlocked: Sequence[tuple[str, str, str]] = ()
    artifacts: Sequence[ArtifactInfo] = ()
    #: bom-ref of a Hub component -> rule -> status
    verdicts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    timestamp: dt.datetime | None = None
    #: Every Hub reference found in code, lockfile or not (issue 16): what the code loads.
    code_references: Sequence[CodeReference] = ()
    #: Rule ``signature``: signed subject (a model folder, or a Hub component's bom-ref) -> signer.
    signers: Mapping[str, str] = field(default_factory=dict)

    def signer_of(self, ref: str, path: str | None = None) -> str | None:
        """Who signed a Hub component (by bom-ref) or the folder holding a local artifact."""
        if ref in self.signers:
            return self.signers[ref]
        if path is not None:
            for folder in sorted(self.signers, key=len, reverse=True):
                if path.startswith(folder.rstrip("/") + "/"):
                    return self.signers[folder]
        return None


@dataclass(frozen=True)
class CodeReference:
    """A Hub repository the code loads: pinned to a commit (``revision``) or not (``requested``
    is the branch or tag asked for, None for the default branch or a value not known statically)."""

    repo_type: str
    repo_id: str
    revision: str | None
    requested: str | None
    places: tuple[str, ...]


def hub_ref(repo_type: str, repo_id: str, revision: str | None = None) -> str:
    """The bom-ref of a Hub repository: the integrity rule's subject id (``model:org/name@sha``)."""
    return f"{repo_type}:{repo_id}@{revision}" if revision else f"{repo_type}:{repo_id}"


def artifact_ref(path: str) -> str:
    return f"file:{path}"


def artifact_type(format_name: str | None) -> str:
    """CycloneDX component type of a local artifact: machine-learning-model, data or file."""
    base = (format_name or "").partition(" (")[0]
    if base in MODEL_FORMATS:
        return "machine-learning-model"
    if base in DATA_FORMATS:
        return "data"
    return "file"


def timestamp_from_env(value: str | None) -> dt.datetime | None:
    """``SOURCE_DATE_EPOCH`` (seconds since 1970, UTC) as a datetime, or None when unset or invalid."""
    if not value or not value.strip().isdigit():
        return None
    return dt.datetime.fromtimestamp(int(value.strip()), tz=dt.timezone.utc)


def _require_lib() -> None:
    try:
        import cyclonedx.model.bom  # noqa: F401
        import packageurl  # noqa: F401
    except ImportError as exc:
        raise BomDependencyError(
            f"--aisupply-bom and --aisupply-bom-check need cyclonedx-python-lib: {INSTALL_HINT} ({exc})"
        ) from exc


def require_lib() -> None:
    """Raise BomDependencyError at start-up, before any check runs, when the extra is missing."""
    _require_lib()


def build_bom(data: BomInput) -> str:
    """The BOM as JSON text (CycloneDX 1.6), validated against the CycloneDX schema."""
    _require_lib()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = _render(data)
    validate_bom(text)
    return text


def _render(data: BomInput) -> str:
    from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output import make_outputter
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from packageurl import PackageURL

    def properties(pairs: Iterator[tuple[str, str]]) -> list[Property]:
        return [Property(name=f"{PROPERTY}:{name}", value=value) for name, value in pairs]

    def verdicts(items: Mapping[str, str]) -> Iterator[tuple[str, str]]:
        for rule in sorted(items):
            yield f"verdict:{rule}", items[rule]

    def purl(repo_id: str, revision: str | None) -> PackageURL:
        namespace, _, name = repo_id.rpartition("/")
        return PackageURL(type="huggingface", namespace=namespace or None, name=name, version=revision)

    def website(repo_type: str, repo_id: str) -> ExternalReference:
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        return ExternalReference(
            type=ExternalReferenceType.WEBSITE, url=XsUri(f"https://huggingface.co/{prefix}{repo_id}")
        )

    def component_type(repo_type: str) -> ComponentType:
        return ComponentType.MACHINE_LEARNING_MODEL if repo_type == "model" else ComponentType.DATA

    bom = Bom(serial_number=uuid.UUID(int=0))
    project = Component(
        type=ComponentType.APPLICATION,
        name=data.project_name,
        version=data.project_version,
        bom_ref=f"project:{data.project_name}",
    )
    bom.metadata.component = project
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="pytest-aisupply", version=data.tool_version)
    )
    if data.timestamp is not None:
        bom.metadata.timestamp = data.timestamp

    by_ref: dict[str, Component] = {}
    top_level: list[str] = []
    for entry in sorted(data.hub, key=lambda e: e.key):
        ref = hub_ref(entry.repo_type, entry.repo_id, entry.revision)
        pairs = [("repo_type", entry.repo_type), ("locked", "true"), ("gated", entry.gated)]
        pairs += [("base_model", base) for base in entry.base_models]
        pairs += [("reachable_from", item) for item in entry.reachable_from]
        if entry.scan:
            pairs.append(("scan", entry.scan))
        signer = entry.signer or data.signer_of(ref)
        if signer:
            pairs.append(("signer", signer))
        files = [
            Component(
                type=ComponentType.FILE,
                name=item.path,
                bom_ref=f"{ref}#{item.path}",
                hashes=[HashType(alg=HashAlgorithm.SHA_256, content=item.sha256)] if item.sha256 else None,
                properties=properties(
                    iter([("size", str(item.size)), *([("git_blob_sha1", item.git_sha1)] if item.git_sha1 else [])])
                ),
            )
            for item in sorted(entry.files, key=lambda f: f.path)
        ]
        by_ref[ref] = Component(
            type=component_type(entry.repo_type),
            name=entry.repo_id,
            version=entry.revision,
            bom_ref=ref,
            purl=purl(entry.repo_id, entry.revision),
            publisher=entry.author,
            licenses=_licenses(entry),
            external_references=[website(entry.repo_type, entry.repo_id)],
            properties=properties(iter([*pairs, *verdicts(data.verdicts.get(ref, {}))])),
            components=files,
        )
        top_level.append(ref)
    for repo_type, repo_id, revision in sorted(set(data.unlocked)):
        ref = hub_ref(repo_type, repo_id, revision)
        if ref in by_ref:
            continue
        by_ref[ref] = Component(
            type=component_type(repo_type),
            name=repo_id,
            version=revision,
            bom_ref=ref,
            purl=purl(repo_id, revision),
            external_references=[website(repo_type, repo_id)],
            properties=properties(
                iter([("repo_type", repo_type), ("locked", "false"), *verdicts(data.verdicts.get(ref, {}))])
            ),
        )
        top_level.append(ref)

    # What the code loads, with or without a lockfile: pinned references by commit, unpinned ones
    # without a version (the Hub decides at run time), each saying where the code asks for it.
    for reference in sorted(data.code_references, key=lambda r: (r.repo_type, r.repo_id, r.revision or "")):
        ref = hub_ref(reference.repo_type, reference.repo_id, reference.revision)
        if ref not in by_ref:
            pairs = [("repo_type", reference.repo_type), ("locked", "false")]
            if reference.revision is None and reference.requested:
                pairs.append(("requested_revision", reference.requested))
            by_ref[ref] = Component(
                type=component_type(reference.repo_type),
                name=reference.repo_id,
                version=reference.revision,
                bom_ref=ref,
                purl=purl(reference.repo_id, reference.revision),
                external_references=[website(reference.repo_type, reference.repo_id)],
                properties=properties(iter([*pairs, *verdicts(data.verdicts.get(ref, {}))])),
            )
        component = by_ref[ref]
        extra = [("pinned", "true" if reference.revision else "false")]
        extra += [("referenced_at", place) for place in sorted(set(reference.places))]
        for item in properties(iter(extra)):
            component.properties.add(item)
        if ref not in top_level:
            top_level.append(ref)

    lineage: dict[str, list[str]] = {}
    for entry in sorted(data.hub, key=lambda e: e.key):
        ref = hub_ref(entry.repo_type, entry.repo_id, entry.revision)
        for base in sorted(set(entry.base_models)):
            if base.startswith(("./", "/", "../")) or not base.strip():
                continue
            target = _find_base(by_ref, base)
            if target is None and hub_ref("model", base) in by_ref:
                target = hub_ref("model", base)  # the code loads the base unpinned
            if target is None:
                target = hub_ref("model", base)
                by_ref[target] = Component(
                    type=ComponentType.MACHINE_LEARNING_MODEL,
                    name=base,
                    bom_ref=target,
                    purl=purl(base, None),
                    external_references=[website("model", base)],
                    properties=properties(iter([("repo_type", "model"), ("locked", "false")])),
                )
            if target != ref:
                lineage.setdefault(ref, []).append(target)

    for artifact in sorted(data.artifacts, key=lambda a: a.path):
        ref = artifact_ref(artifact.path)
        pairs = [("format", artifact.format)] if artifact.format else []
        folder_signer = data.signer_of(ref, artifact.path)
        if folder_signer:
            pairs.append(("signer", folder_signer))
        by_ref[ref] = Component(
            type=ComponentType(artifact_type(artifact.format)),
            name=artifact.path,
            bom_ref=ref,
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=artifact.sha256)] if artifact.sha256 else None,
            properties=properties(iter([*pairs, *verdicts(artifact.verdicts)])),
        )
        top_level.append(ref)

    for ref in sorted(by_ref):
        bom.components.add(by_ref[ref])
    if top_level:
        bom.register_dependency(project, [by_ref[ref] for ref in sorted(top_level)])
    for ref in sorted(lineage):
        bom.register_dependency(by_ref[ref], [by_ref[target] for target in sorted(set(lineage[ref]))])

    raw = make_outputter(bom, OutputFormat.JSON, SchemaVersion.V1_6).output_as_string(indent=2)
    document = json.loads(raw)
    if data.timestamp is None:
        document.get("metadata", {}).pop("timestamp", None)
    document.pop("serialNumber", None)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    serial = uuid.uuid5(BOM_NAMESPACE, hashlib.sha256(canonical.encode("utf-8")).hexdigest())
    document["serialNumber"] = serial.urn
    ordered = {key: document[key] for key in _TOP_LEVEL_ORDER if key in document}
    ordered.update((key, document[key]) for key in sorted(document) if key not in ordered)
    return json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"


def _find_base(by_ref: Mapping[str, Any], base: str) -> str | None:
    prefix = hub_ref("model", base) + "@"
    matches = sorted(ref for ref in by_ref if ref.startswith(prefix))
    return matches[0] if matches else None


def _licenses(entry: HubEntry) -> list[Any]:
    from cyclonedx.model import XsUri
    from cyclonedx.model.license import DisjunctiveLicense
    from cyclonedx.spdx import fixup_id

    link = entry.license_link if entry.license_link and re.match(r"https?://", entry.license_link) else None
    result: dict[tuple[str, str], Any] = {}
    for value in entry.license or ((entry.license_name,) if entry.license_name else ()):
        value = value.strip()
        if not value:
            continue
        spdx = fixup_id(value)
        if spdx is not None:
            result[("id", spdx)] = DisjunctiveLicense(id=spdx)
            continue
        name = entry.license_name if value.lower() in ("other", "unknown") and entry.license_name else value
        result[("name", name)] = DisjunctiveLicense(name=name, url=XsUri(link) if link else None)
    return [result[key] for key in sorted(result)]


def validate_bom(text: str) -> None:
    """Raise BomError unless ``text`` is a valid CycloneDX 1.6 JSON document."""
    _require_lib()
    from cyclonedx.exception import MissingOptionalDependencyException
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    try:
        error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    except MissingOptionalDependencyException as exc:
        raise BomDependencyError(
            f"validating the BOM needs cyclonedx-python-lib's JSON validation: {INSTALL_HINT}"
        ) from exc
    if error is not None:
        raise BomError(f"the generated CycloneDX BOM is invalid (please report this bug): {error}")


# -- drift ------------------------------------------------------------------------------------


@dataclass
class BomDrift:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def lines(self) -> list[str]:
        return (
            [f"added    {item}" for item in self.added]
            + [f"removed  {item}" for item in self.removed]
            + [f"changed  {item}" for item in self.changed]
        )


def component_index(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every component (nested ones too) by bom-ref (else purl, else type:name@version), with the
    identity the drift check compares: purl, version, hashes and licenses."""
    index: dict[str, dict[str, Any]] = {}

    def walk(components: Any) -> None:
        for component in components if isinstance(components, list) else ():
            if not isinstance(component, dict):
                continue
            key = str(
                component.get("bom-ref")
                or component.get("purl")
                or f"{component.get('type')}:{component.get('name')}@{component.get('version', '')}"
            )
            index[key] = {
                "purl": component.get("purl"),
                "version": component.get("version"),
                "hashes": sorted(
                    f"{h.get('alg')}:{h.get('content')}" for h in component.get("hashes") or () if isinstance(h, dict)
                ),
                "licenses": sorted(_license_names(component.get("licenses"))),
            }
            walk(component.get("components"))

    walk(document.get("components"))
    return index


def _license_names(licenses: Any) -> Iterator[str]:
    for item in licenses if isinstance(licenses, list) else ():
        if not isinstance(item, dict):
            continue
        if "expression" in item:
            yield str(item["expression"])
        elif isinstance(item.get("license"), dict):
            license_ = item["license"]
            yield str(license_.get("id") or license_.get("name") or "")


def _short(value: str) -> str:
    alg, _, content = value.partition(":")
    return f"{alg} {content[:12]}…" if len(content) > 12 else value


def compare_boms(committed: Mapping[str, Any], current: Mapping[str, Any], *, report_removed: bool = True) -> BomDrift:
    """What changed from the committed BOM to this run's: components added, removed, or with
    another purl, version, hash or license. ``report_removed`` is False for partial runs, where a
    component may be missing only because its checks did not run."""
    old, new = component_index(committed), component_index(current)
    drift = BomDrift()
    drift.added = sorted(set(new) - set(old))
    if report_removed:
        drift.removed = sorted(set(old) - set(new))
    for key in sorted(set(old) & set(new)):
        before, after = old[key], new[key]
        changes = []
        for name in ("purl", "version"):
            if before[name] != after[name]:
                changes.append(f"{name} {before[name]} -> {after[name]}")
        if before["hashes"] != after["hashes"]:
            was = ", ".join(_short(h) for h in before["hashes"]) or "none"
            now = ", ".join(_short(h) for h in after["hashes"]) or "none"
            changes.append(f"hash {was} -> {now}")
        if before["licenses"] != after["licenses"]:
            was = ", ".join(before["licenses"]) or "none"
            now = ", ".join(after["licenses"]) or "none"
            changes.append(f"license {was} -> {now}")
        if changes:
            drift.changed.append(f"{key}: {'; '.join(changes)}")
    return drift
