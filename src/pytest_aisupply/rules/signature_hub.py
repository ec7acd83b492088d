"""Rule ``signature`` for Hub repositories: a pinned commit's OpenSSF model signature, checked
before anything is downloaded.

At ``--aisupply-update`` only the signature file is fetched at the pinned commit; model_signing
verifies it, and its manifest is held against the commit's file list: LFS files by the sha256 the
Hub's metadata gives, small files by downloading them. The verified signer goes into the commit's
lockfile entry. Normal runs are offline: they hold the lockfile's signer against the configured
one, and a cached snapshot of the commit against the locked digests.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pathspec

from ..findings import Finding, Subject
from ..lockfile.hashing import sha256_file
from ..lockfile.lock import HubEntry, HubFile
from ..settings.tables import SignedSpec
from .signature_common import (
    MAX_SIGNATURE_BYTES,
    RULE_ID,
    digests_match_form,
    expiry_findings,
    ignored,
    verified_manifest,
)
from .signature_verification import (
    GIT_PATHS,
    Policy,
    SignatureProblem,
    VerifiedManifest,
    chain_fingerprint,
    escapes,
    public_key_fingerprint,
    sigstore_signer,
)

if TYPE_CHECKING:
    from ..inventory.core import Inventory

_UPDATE = "run `pytest --aisupply-update` (with access to the Hub) and review the lockfile diff"


def check_hub(
    rule: str, subject: Subject, spec: SignedSpec, inventory: Inventory, *, unused: bool
) -> Iterator[Finding]:
    def finding(message: str, fix: str, where: str | None = None) -> Finding:
        return Finding(rule, subject.id, message, fix, where=where)

    if unused:
        yield finding(
            f"{spec.describe()}: no commit of {spec.hub} is pinned in code (revision=<40-hex commit>), "
            "so no signature was checked",
            "pin the commit you load, or remove the entry if the repository is no longer used",
        )
        return
    repo_id, _, revision = subject.id.partition(":")[2].partition("@")
    if inventory.update:
        yield from _verify_at_update(finding, spec, inventory, repo_id, revision, subject)
    else:
        yield from _compare_with_lock(finding, spec, inventory, repo_id, revision, subject.id)


def _verify_at_update(
    finding: _Make, spec: SignedSpec, inventory: Inventory, repo_id: str, revision: str, subject: Subject
) -> Iterator[Finding]:
    from ..hub.api import HubError, fetch_entry

    try:
        entry = fetch_entry("model", repo_id, revision, inventory.today)
    except HubError as exc:
        yield finding(f"the signature could not be verified: {exc}", _UPDATE)
        return
    where = f"{subject.id}/{spec.signature}"
    listed = next((f for f in entry.files if f.path == spec.signature), None)
    if listed is not None and listed.size > MAX_SIGNATURE_BYTES:
        yield finding(
            f"the signature {spec.signature} is {listed.size:,} bytes, too large to be a model signature",
            "pin a commit with a valid signature",
            where,
        )
        return
    with tempfile.TemporaryDirectory(prefix="aisupply-hub-sig-") as scratch:
        try:
            signature = _download(repo_id, spec.signature, revision, Path(scratch)).read_bytes()
        except _Missing:
            yield finding(
                f"unsigned: the commit has no signature file {spec.signature}",
                "ask the publisher for a signed release, or pin a signed commit",
                where,
            )
            return
        except HubError as exc:
            yield finding(f"the signature {spec.signature} could not be downloaded: {exc}", _UPDATE, where)
            return
        if not signature.strip():
            yield finding(f"the signature {spec.signature} is empty", "pin a commit with a valid signature", where)
            return
        try:
            manifest = verified_manifest(signature, Policy.from_spec(spec, inventory.root), inventory)
        except SignatureProblem as problem:
            yield finding(problem.message, problem.fix, where)
            return
        if not digests_match_form(manifest):
            yield finding(
                f"the signature lists {manifest.method} digests ({manifest.serialization.get('hash_type')}), which "
                "cannot be held against the Hub's metadata before download",
                "sign the repository with one sha256 per file (`model_signing sign`'s default)",
                where,
            )
            return
        ignore = [*manifest.ignore_paths, *GIT_PATHS, spec.signature]
        files = {f.path: f for f in entry.files if not ignored(f.path, ignore)}
        problems = expiry_findings(RULE_ID, subject, manifest, where)
        problems += _compare(finding, subject, spec, manifest, files, repo_id, revision, Path(scratch))
    yield from problems
    if not problems:
        inventory.recorded[subject.id] = dataclasses.replace(entry, signer=manifest.signer)
        inventory.signers[subject.id] = manifest.signer


def _compare(
    finding: _Make,
    subject: Subject,
    spec: SignedSpec,
    manifest: VerifiedManifest,
    files: dict[str, HubFile],
    repo_id: str,
    revision: str,
    scratch: Path,
) -> Iterator[Finding]:
    from ..hub.api import HubError

    expected = {r.name: r.digest for r in manifest.resources}
    for name in sorted(expected):
        place = f"{subject.id}/{name}"
        if escapes(name):
            yield finding(f"the signature names {name!r}, a path outside the repository", "never accept it", place)
            continue
        item = files.get(name)
        if item is None:
            yield finding(f"signed file {name} is not in the commit", "pin the commit that was signed", place)
            continue
        sha256 = item.sha256
        if sha256 is None:  # a small file: the Hub gives its git blob id only, so read it
            try:
                sha256 = sha256_file(_download(repo_id, name, revision, scratch / "small"))
            except (_Missing, HubError, OSError) as exc:
                yield finding(f"{name} could not be downloaded to check it: {exc}", _UPDATE, place)
                continue
        if sha256 != expected[name]:
            yield finding(
                f"{name} differs from the signed file: sha256 {sha256}, signed {expected[name]}",
                "pin the commit that was signed, or ask the publisher to sign this one",
                place,
            )
    allowed = pathspec.GitIgnoreSpec.from_lines(spec.allow_unsigned) if spec.allow_unsigned else None
    for name in sorted(set(files) - set(expected)):
        if allowed is None or not allowed.match_file(name):
            yield finding(
                f"{name} is not signed (the signature does not cover it)",
                "list it in allow_unsigned if it may be unsigned, or pin a commit signed with it",
                f"{subject.id}/{name}",
            )


def _compare_with_lock(
    finding: _Make, spec: SignedSpec, inventory: Inventory, repo_id: str, revision: str, subject_id: str
) -> Iterator[Finding]:
    lock = inventory.lock
    if lock is None:
        yield finding(
            "Hub signatures are verified at `pytest --aisupply-update` and recorded in the lockfile, which is off",
            'set [tool.aisupply] lockfile (for example "aisupply.lock")',
        )
        return
    entry = lock.hub_entry("model", repo_id, revision)
    if entry is None or entry.signer is None:
        yield finding(f"no verified signature of this commit is recorded in {inventory.settings.lockfile}", _UPDATE)
        return
    try:
        required, described = configured_signer(spec, inventory.root)
    except (OSError, ValueError, ImportError) as exc:
        yield finding(f"the configured signer cannot be read: {exc}", "fix the [[tool.aisupply.signed]] entry")
        return
    if not required.matches(entry.signer):
        yield finding(
            f"the signer changed: {inventory.settings.lockfile} records {entry.signer}, the configuration requires "
            f"{described}",
            f"if the new signer is expected, {_UPDATE}",
        )
    else:
        inventory.signers[subject_id] = entry.signer
    yield from _check_snapshot(finding, entry, inventory)


@dataclasses.dataclass(frozen=True)
class _RequiredSigner:
    """How a recorded signer must read: exactly ``exact``, or (certificates, whose subject only the
    signature names) starting with ``prefix`` and ending with ``suffix``."""

    exact: str | None = None
    prefix: str = ""
    suffix: str = ""

    def matches(self, recorded: str) -> bool:
        if self.exact is not None:
            return recorded == self.exact
        return recorded.startswith(self.prefix) and recorded.endswith(self.suffix)


def configured_signer(spec: SignedSpec, root: Path) -> tuple[_RequiredSigner, str]:
    """The signer the configuration demands, as the lockfile records it, and how to name it."""
    if spec.public_key is not None:
        signer = f"key sha256:{public_key_fingerprint(root / spec.public_key)}"
        return _RequiredSigner(exact=signer), signer
    if spec.identity is not None:
        signer = sigstore_signer(spec.identity, spec.issuer, root / spec.trust_config if spec.trust_config else None)
        return _RequiredSigner(exact=signer), signer
    chain = chain_fingerprint([root / item for item in spec.certificate_chain])
    return (
        _RequiredSigner(prefix="certificate ", suffix=f"; chain sha256:{chain})"),
        f"a certificate issued under the configured chain (chain sha256:{chain})",
    )


def _check_snapshot(finding: _Make, entry: HubEntry, inventory: Inventory) -> Iterator[Finding]:
    from ..hub.api import cached_digest, cached_files

    for rel, path, item in cached_files(entry):
        if item is None:
            continue  # a file the commit does not have: the integrity rule reports it
        if cached_digest(path, item, inventory.sha256) != (item.sha256 or item.git_sha1):
            yield finding(
                f"the cached copy of {rel} is not the signed file",
                "delete the cached snapshot and download it again",
                str(path),
            )


class _Missing(Exception):
    """The commit has no such file."""


def _download(repo_id: str, filename: str, revision: str, folder: Path) -> Path:
    from ..hub.api import HubError

    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise HubError(f"huggingface_hub is not installed: {exc}") from exc
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, local_dir=folder))
    except EntryNotFoundError:
        raise _Missing(filename) from None
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise HubError(str(exc)) from exc


if TYPE_CHECKING:
    from typing import Protocol

    class _Make(Protocol):
        def __call__(self, message: str, fix: str, where: str | None = None) -> Finding: ...
