"""Rule ``signature``: model folders named in ``[[tool.aisupply.signed]]`` carry a valid OpenSSF
model signature by the configured signer, and hold exactly the files it signs.

The signature itself is verified by ``model_signing`` (see :mod:`pytest_aisupply.rules.signature_verification`).
The folder is then held against the verified manifest: for the common form (one sha256 per file)
with the file digests the hash cache already keeps, so an unchanged folder is re-checked without
reading its data; any other form (shards, other algorithms) goes to the library's full verify.
Either way the verdict is the library's: the same files pass and fail (tests/rules/test_signature.py
runs both on the same folders).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pathspec

from ..findings import Finding, Subject
from ..settings.tables import SignedSpec
from ..settings.values import has_magic
from .signature_common import (
    MAX_SIGNATURE_BYTES,
    RULE_ID,
    digests_match_form,
    expiry_findings,
    ignored,
    verified_manifest,
)
from .signature_verification import GIT_PATHS, Policy, SignatureProblem, VerifiedManifest, escapes, full_verify

if TYPE_CHECKING:
    from ..inventory.core import Inventory

FOLDER = "signed-folder"
NO_MATCH = "signed-nomatch"
HUB = "signed-hub"
HUB_UNUSED = "signed-hub-unused"
_RESIGN = "if the change is intended, sign the folder again (`model_signing sign`); otherwise restore the signed files"
#: Files listed one by one before the rest is summed up.
_MAX_LISTED = 50


class SignatureRule:
    id = RULE_ID
    summary = "model folders named in [[tool.aisupply.signed]] carry a valid OpenSSF model signature"

    def subjects(self, inventory: Inventory) -> Iterator[Subject]:
        root = inventory.root
        for spec in inventory.settings.signed:
            if spec.hub is not None:
                yield from _hub_subjects(spec.hub, inventory)
                continue
            if spec.path is None:
                continue
            folders = matching_folders(root, spec.path)
            if not folders:
                yield Subject(spec.path, root / spec.path, NO_MATCH)
            for folder in folders:
                yield Subject(folder.relative_to(root).as_posix(), folder, FOLDER)

    def check(self, subject: Subject, inventory: Inventory) -> Iterator[Finding]:
        if subject.kind in (HUB, HUB_UNUSED):
            from .signature_hub import check_hub

            for spec in inventory.settings.signed:
                if spec.hub is not None and _hub_of(subject) == spec.hub:
                    yield from check_hub(self.id, subject, spec, inventory, unused=subject.kind == HUB_UNUSED)
            return
        specs = [
            spec for spec in inventory.settings.signed if spec.path is not None and _covers(spec, subject, inventory)
        ]
        if subject.kind == NO_MATCH:
            for spec in specs:
                yield Finding(
                    self.id,
                    subject.id,
                    f"{spec.describe()} matches no folder, so nothing it requires to be signed was checked",
                    "fix the path (relative to the project root), or remove the entry if the model is gone",
                )
            return
        for spec in specs:
            yield from self._check_folder(subject, spec, inventory)

    # -- one folder against one [[tool.aisupply.signed]] entry ------------------------------------
    def _check_folder(self, subject: Subject, spec: SignedSpec, inventory: Inventory) -> Iterator[Finding]:
        folder = subject.path
        signature_path = folder / spec.signature
        where = f"{subject.id}/{spec.signature}"

        def finding(message: str, fix: str, place: str | None = where, details: tuple[str, ...] = ()) -> Finding:
            return Finding(self.id, subject.id, message, fix, where=place, details=details)

        if folder.is_symlink() or not folder.is_dir():
            yield finding("is not a folder (model signatures here cover folders)", "name the model folder in path")
            return
        if signature_path.is_symlink():
            yield finding(
                f"the signature {spec.signature} is a symlink", "store the signature file itself in the folder"
            )
            return
        try:
            size = signature_path.stat().st_size
            if size > MAX_SIGNATURE_BYTES:
                yield finding(
                    f"the signature {spec.signature} is {size:,} bytes, too large to be a model signature",
                    "sign the folder again with `model_signing sign`",
                )
                return
            signature = signature_path.read_bytes()
        except FileNotFoundError:
            yield finding(
                f"unsigned: no signature file {spec.signature}",
                f"sign the folder: model_signing sign key --private_key <key> --signature {where} {subject.id}",
            )
            return
        except OSError as exc:
            yield finding(f"the signature {spec.signature} cannot be read: {exc.strerror or exc}", "make it readable")
            return
        if not signature.strip():
            yield finding(f"the signature {spec.signature} is empty", "sign the folder again with `model_signing sign`")
            return
        try:
            manifest = verified_manifest(signature, Policy.from_spec(spec, inventory.root), inventory)
        except SignatureProblem as problem:
            yield finding(problem.message, problem.fix)
            return
        expired = expiry_findings(self.id, subject, manifest, where)
        differences = list(self._compare(subject, spec, manifest, inventory))
        if differences and manifest.model_name != folder.name:
            note = (f"the signature was made over a folder named {manifest.model_name!r}",)
            differences = [
                Finding(d.rule, d.subject, d.message, d.fix, d.where, d.line, d.details + note) for d in differences
            ]
        if not expired and not differences:
            inventory.signers[subject.id] = manifest.signer
        yield from expired
        yield from differences

    def _compare(
        self, subject: Subject, spec: SignedSpec, manifest: VerifiedManifest, inventory: Inventory
    ) -> Iterator[Finding]:
        folder = subject.path
        listing = list_folder(folder)
        unsafe: list[Finding] = []
        for name in manifest.resources:
            if escapes(name.name):
                unsafe.append(
                    Finding(
                        self.id,
                        subject.id,
                        f"the signature names {name.name!r}, a path outside the folder",
                        "sign the folder itself with `model_signing sign`; never accept such a signature",
                        where=f"{subject.id}/{spec.signature}",
                    )
                )
        for rel in listing.symlinks:
            unsafe.append(
                Finding(
                    self.id,
                    subject.id,
                    f"{rel} is a symlink; model_signing does not verify through symlinks",
                    "replace the symlink by the file it points to and sign the folder again",
                    where=f"{subject.id}/{rel}",
                )
            )
        for rel in listing.special:
            unsafe.append(
                Finding(
                    self.id,
                    subject.id,
                    f"{rel} is not a regular file or folder (a device, socket or pipe)",
                    "remove it from the model folder",
                    where=f"{subject.id}/{rel}",
                )
            )
        for rel in listing.unreadable:
            unsafe.append(
                Finding(self.id, subject.id, f"{rel} cannot be read", "make it readable", where=f"{subject.id}/{rel}")
            )
        yield from unsafe[:_MAX_LISTED]
        ignore = [*manifest.ignore_paths, *GIT_PATHS, spec.signature]
        files = [rel for rel in listing.files if not ignored(rel, ignore)]
        allowed = pathspec.GitIgnoreSpec.from_lines(spec.allow_unsigned) if spec.allow_unsigned else None
        if digests_match_form(manifest):
            yield from self._compare_digests(subject, manifest, files, allowed, inventory)
            return
        signed_files = {resource.name.rsplit(":", 2)[0] for resource in manifest.resources}
        tolerated = [
            rel for rel in files if rel not in signed_files and allowed is not None and allowed.match_file(rel)
        ]
        for reason in full_verify(
            folder,
            folder / spec.signature,
            Policy.from_spec(spec, inventory.root),
            manifest,
            ignored=[spec.signature, *tolerated],
        ):
            place = _file_in(reason)
            yield Finding(
                self.id,
                subject.id,
                f"model_signing verify: {reason}",
                _RESIGN,
                where=f"{subject.id}/{place}" if place else f"{subject.id}/{spec.signature}",
            )

    def _compare_digests(
        self,
        subject: Subject,
        manifest: VerifiedManifest,
        files: list[str],
        allowed: pathspec.GitIgnoreSpec | None,
        inventory: Inventory,
    ) -> Iterator[Finding]:
        folder = subject.path
        expected = {str(PurePosixPath(r.name)): r.digest for r in manifest.resources if not escapes(r.name)}
        present = set(files)
        if inventory.parallel_hashing:
            inventory.hash_cache.prefetch(folder / rel for rel in files if rel in expected)
        findings: list[Finding] = []
        for rel in sorted(expected):
            if rel not in present:
                findings.append(
                    Finding(self.id, subject.id, f"signed file {rel} is missing", _RESIGN, where=f"{subject.id}/{rel}")
                )
                continue
            try:
                actual = inventory.sha256(folder / rel)
            except OSError as exc:
                findings.append(
                    Finding(
                        self.id,
                        subject.id,
                        f"signed file {rel} cannot be hashed: {exc.strerror or exc}",
                        "make it readable",
                        where=f"{subject.id}/{rel}",
                    )
                )
                continue
            if actual != expected[rel]:
                findings.append(
                    Finding(
                        self.id,
                        subject.id,
                        f"{rel} differs from the signed file: sha256 {actual}, signed {expected[rel]}",
                        _RESIGN,
                        where=f"{subject.id}/{rel}",
                    )
                )
        for rel in sorted(present - set(expected)):
            if allowed is not None and allowed.match_file(rel):
                continue
            findings.append(
                Finding(
                    self.id,
                    subject.id,
                    f"{rel} is not signed (the signature does not cover it)",
                    "remove it, sign the folder again with it, or list it in allow_unsigned",
                    where=f"{subject.id}/{rel}",
                )
            )
        yield from findings[:_MAX_LISTED]
        if len(findings) > _MAX_LISTED:
            yield Finding(
                self.id,
                subject.id,
                f"... and {len(findings) - _MAX_LISTED} more files differ from the signature",
                _RESIGN,
            )


def matching_folders(root: Path, pattern: str) -> list[Path]:
    """Folders (not symlinks to folders outside) under ``root`` matching a project-relative glob."""
    if not has_magic(pattern):
        candidate = root / pattern
        return [candidate] if candidate.is_dir() or candidate.is_symlink() else []
    found = []
    resolved_root = root.resolve()
    for path in sorted(root.glob(pattern)):
        if path.is_dir() and path.resolve().is_relative_to(resolved_root):
            found.append(path)
    return found


def _covers(spec: SignedSpec, subject: Subject, inventory: Inventory) -> bool:
    assert spec.path is not None
    if subject.kind == NO_MATCH:
        return spec.path == subject.id
    return any(folder == subject.path for folder in matching_folders(inventory.root, spec.path))


class FolderListing:
    """A model folder's entries by kind, as folder-relative POSIX paths, without following links."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.symlinks: list[str] = []
        self.special: list[str] = []
        self.unreadable: list[str] = []


def list_folder(folder: Path) -> FolderListing:
    listing = FolderListing()
    pending = [(folder, "")]
    while pending:
        current, prefix = pending.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            listing.unreadable.append(prefix.rstrip("/") or ".")
            continue
        for entry in entries:
            rel = prefix + entry.name
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                listing.unreadable.append(rel)
                continue
            if stat.S_ISLNK(mode):
                listing.symlinks.append(rel)
            elif stat.S_ISDIR(mode):
                pending.append((Path(entry.path), rel + "/"))
            elif stat.S_ISREG(mode):
                listing.files.append(rel)
            else:
                listing.special.append(rel)
    for names in (listing.files, listing.symlinks, listing.special, listing.unreadable):
        names.sort()
    return listing


def _file_in(reason: str) -> str | None:
    """The first file a model_signing difference names (``Hash mismatch for 'x'``, ``Extra files
    found in model 'm': x, y``); shard names (``x:start:end``) give their file."""
    name = None
    if reason.startswith("Hash mismatch for '"):
        name = reason.split("'")[1]
    elif reason.startswith(("Extra files", "Missing files")) and ": " in reason:
        name = reason.rsplit(": ", 1)[1].split(", ")[0]
    if name is not None and name.count(":") >= 2:
        head, start, end = name.rsplit(":", 2)
        if start.isdigit() and end.isdigit():
            return head
    return name


def _hub_subjects(repo_id: str, inventory: Inventory) -> Iterator[Subject]:
    """One subject per commit of ``repo_id`` pinned in code (as the integrity rule locks them)."""
    from ..lockfile.digests import GIT_SHA1_HEX
    from .integrity import hub_subject_id

    revisions = set()
    for use in inventory.hub_uses:
        reference = use.reference
        if reference.repo_type != "model" or reference.repo_id != repo_id:
            continue
        if isinstance(reference.revision, str) and GIT_SHA1_HEX.match(reference.revision):
            revisions.add(reference.revision)
    if not revisions:
        yield Subject(f"model:{repo_id}", inventory.root, HUB_UNUSED)
    for revision in sorted(revisions):
        yield Subject(hub_subject_id("model", repo_id, revision), inventory.root, HUB)


def _hub_of(subject: Subject) -> str:
    """``org/name`` of a Hub subject id (``model:org/name@commit`` or ``model:org/name``)."""
    return subject.id.partition(":")[2].partition("@")[0]
