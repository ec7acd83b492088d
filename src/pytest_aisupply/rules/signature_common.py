"""What the two sides of rule ``signature`` share: local folders (:mod:`.signature`) and Hub
commits (:mod:`.signature_hub`) verify a signature bundle and hold files against its manifest alike.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ..findings import Finding, Subject
from .signature_verification import Policy, VerifiedManifest, memo_key, verify_signature

if TYPE_CHECKING:
    from ..inventory.core import Inventory

RULE_ID = "signature"
#: Larger than any real bundle (a manifest of 100,000 files is about 20 MB): not read into memory.
MAX_SIGNATURE_BYTES = 64 << 20


def verified_manifest(signature: bytes, policy: Policy, inventory: Inventory) -> VerifiedManifest:
    """The manifest ``signature`` vouches for under ``policy``: from the hash cache when exactly
    these bytes were verified with exactly this signer material before, else from model_signing."""
    key = memo_key(signature, policy)
    cache = inventory.hash_cache
    remembered = cache.fresh.get(key) or cache.known.get(key)
    if remembered is not None:
        manifest = VerifiedManifest.from_json(remembered)
        if manifest is not None:
            return manifest
    import tempfile

    # The library reads a path; it gets a private copy of the bytes the memo key was made from.
    with tempfile.TemporaryDirectory(prefix="aisupply-sig-") as scratch:
        copy = Path(scratch) / "model.sig"
        copy.write_bytes(signature)
        manifest = verify_signature(copy, policy)
    cache.fresh[key] = manifest.to_json()
    return manifest


def expiry_findings(rule: str, subject: Subject, manifest: VerifiedManifest, where: str) -> list[Finding]:
    """Certificate mode: a signing certificate past its expiry (model-signing checks the chain at
    the certificate's issue time only, and the bundle carries no trusted timestamp)."""
    if manifest.not_after is None:
        return []
    expiry = dt.datetime.fromisoformat(manifest.not_after)
    if expiry >= dt.datetime.now(dt.timezone.utc):
        return []
    return [
        Finding(
            rule,
            subject.id,
            f"the signing certificate expired on {expiry.date().isoformat()} ({manifest.signer})",
            "sign the folder again with a current certificate",
            where=where,
        )
    ]


def ignored(rel: str, ignore: list[str]) -> bool:
    """model_signing's rule: a file is left out when it lies at or under an ignored path (compared
    by path components; ignored paths that leave the folder match nothing)."""
    parts = PurePosixPath(rel).parts
    for item in ignore:
        ignored = PurePosixPath(item)
        if ignored.is_absolute() or ".." in ignored.parts:
            continue
        if parts[: len(ignored.parts)] == ignored.parts:
            return True
    return False


def digests_match_form(manifest: VerifiedManifest) -> bool:
    """True when the manifest lists one sha256 per whole file, the form of our cached digests."""
    return (
        manifest.method == "files"
        and manifest.serialization.get("hash_type") == "sha256"
        and all(resource.algorithm == "sha256" for resource in manifest.resources)
    )
