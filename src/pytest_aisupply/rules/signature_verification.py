"""OpenSSF model signatures: the one module that calls ``model_signing`` (the ``signing`` extra).

Two services, both delegated to the library: :func:`verify_signature` checks a signature bundle
against a signer policy and returns the verified manifest (the signed per-file digests), and
:func:`full_verify` runs the library's own complete verification of a folder (re-hashing every
file). The library is imported on first use only.

A verified manifest is memoised in the hash cache under the exact bytes of the signature, of the
signer material (key, certificates, trust configuration, identity) and the library's version, so
that an unchanged signature is not verified again: the memo has the same standing as the cached
file digests next to it.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..settings.tables import SignedSpec

EXTRA = "signing"
INSTALL_HINT = 'pip install "pytest-aisupply[signing]"'
#: Paths model_signing leaves out of every manifest unless told otherwise.
GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")
_MEMO_PREFIX = "model-signing|v1|"


class SignatureProblem(Exception):
    """The signature could not be verified; ``message`` says what differs, ``fix`` what to do."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


@dataclass(frozen=True)
class Policy:
    """Who must have signed: the signer material of a ``[[tool.aisupply.signed]]`` entry, with
    paths resolved against the project root."""

    mode: str
    public_key: Path | None = None
    certificate_chain: tuple[Path, ...] = ()
    identity: str | None = None
    issuer: str | None = None
    trust_config: Path | None = None

    @classmethod
    def from_spec(cls, spec: SignedSpec, root: Path) -> Policy:
        return cls(
            spec.mode,
            root / spec.public_key if spec.public_key else None,
            tuple(root / item for item in spec.certificate_chain),
            spec.identity,
            spec.issuer,
            root / spec.trust_config if spec.trust_config else None,
        )

    def material(self) -> bytes:
        """Everything the verdict depends on, as bytes (raises :class:`SignatureProblem` when a
        configured file cannot be read)."""
        parts = [self.mode.encode(), (self.identity or "").encode(), (self.issuer or "").encode()]
        for path in (self.public_key, *self.certificate_chain, self.trust_config):
            if path is None:
                continue
            try:
                parts.append(path.read_bytes())
            except OSError as exc:
                raise SignatureProblem(
                    f"the configured signer file {path.name} cannot be read: {exc.strerror or exc}",
                    "fix the path in [[tool.aisupply.signed]] (it is relative to the project root)",
                ) from None
        return b"\0".join(parts)


@dataclass(frozen=True)
class Resource:
    """One signed item: a file (``files`` serialization) or a file shard (``path:start:end``)."""

    name: str
    algorithm: str
    digest: str


@dataclass(frozen=True)
class VerifiedManifest:
    """What a valid signature vouches for, and who signed it."""

    model_name: str
    serialization: dict[str, Any]
    resources: tuple[Resource, ...]
    signer: str
    #: Certificate mode: the signing certificate's expiry (ISO 8601, UTC).
    not_after: str | None = None

    @property
    def method(self) -> str:
        return str(self.serialization.get("method", ""))

    @property
    def ignore_paths(self) -> tuple[str, ...]:
        value = self.serialization.get("ignore_paths") or ()
        return tuple(str(item) for item in value)

    def to_json(self) -> str:
        return json.dumps(
            {
                "model_name": self.model_name,
                "serialization": self.serialization,
                "resources": [[r.name, r.algorithm, r.digest] for r in self.resources],
                "signer": self.signer,
                "not_after": self.not_after,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> VerifiedManifest | None:
        try:
            data = json.loads(text)
            return cls(
                str(data["model_name"]),
                dict(data["serialization"]),
                tuple(Resource(str(n), str(a), str(d)) for n, a, d in data["resources"]),
                str(data["signer"]),
                data["not_after"] if isinstance(data["not_after"], str) else None,
            )
        except (ValueError, KeyError, TypeError):
            return None


def memo_key(signature: bytes, policy: Policy) -> str:
    """The hash-cache key under which a verification of ``signature`` by ``policy`` is kept."""
    digest = hashlib.sha256()
    digest.update(hashlib.sha256(signature).digest())
    digest.update(hashlib.sha256(policy.material()).digest())
    digest.update(_library_version().encode())
    return _MEMO_PREFIX + digest.hexdigest()


def _library_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("model-signing")
    except PackageNotFoundError:
        return "absent"


def _import_library() -> Any:
    try:
        import model_signing.hashing
        import model_signing.verifying
        import OpenSSL  # noqa: F401  # model_signing needs it for certificates but does not declare it
    except ImportError as exc:
        raise SignatureProblem(
            f"cannot verify signatures: the `{EXTRA}` extra is not installed ({exc})",
            f"install it: {INSTALL_HINT}",
        ) from None
    return model_signing


def _config(policy: Policy) -> Any:
    model_signing = _import_library()
    config = model_signing.verifying.Config()
    try:
        if policy.mode == "key":
            assert policy.public_key is not None
            return config.use_elliptic_key_verifier(public_key=policy.public_key)
        if policy.mode == "certificate":
            return config.use_certificate_verifier(certificate_chain=list(policy.certificate_chain))
        assert policy.identity is not None
        assert policy.issuer is not None
        return config.use_sigstore_verifier(
            identity=policy.identity, oidc_issuer=policy.issuer, trust_config=policy.trust_config
        )
    except Exception as exc:  # a key of the wrong type, a PEM file that is not one ...
        raise SignatureProblem(
            f"the configured {_material_name(policy)} cannot be used: {_reason(exc)}",
            "point [[tool.aisupply.signed]] at the PEM file (EC P-256/P-384/P-521 key, or certificates) "
            "the model was signed for",
        ) from None


def verify_signature(signature_path: Path, policy: Policy) -> VerifiedManifest:
    """Verify the bundle at ``signature_path`` with model_signing; return what it signs.

    Raises :class:`SignatureProblem` for every way it can fail (unreadable, not a bundle, another
    signer, an untrusted certificate ...): the library's verdict, reworded, never a traceback.
    """
    config = _config(policy)
    from model_signing._signing import sign_sigstore, sign_sigstore_pb

    # verifying.Config.verify() reads and verifies the bundle exactly like this before it re-hashes
    # the folder; it has no public way to stop after the signature check, so its verifier is used.
    reader = sign_sigstore.Signature if policy.mode == "sigstore" else sign_sigstore_pb.Signature
    try:
        signature = reader.read(signature_path)
    except Exception as exc:
        raise SignatureProblem(
            f"{signature_path.name} is not a model signature (a Sigstore bundle in JSON): {_reason(exc)}",
            "sign the folder again with `model_signing sign`",
        ) from None
    try:
        verified = config._verifier.verify(signature)
    except Exception as exc:
        raise SignatureProblem(_verification_failure(exc, policy), _fix_for(policy)) from None
    return VerifiedManifest(
        verified.model_name,
        dict(verified.serialization_type),
        tuple(
            Resource(str(d.identifier), str(d.digest.algorithm), str(d.digest.digest_hex))
            for d in verified.resource_descriptors()
        ),
        *_signer(signature, policy),
    )


def full_verify(
    folder: Path,
    signature_path: Path,
    policy: Policy,
    manifest: VerifiedManifest,
    *,
    ignored: Sequence[str] = (),
) -> list[str]:
    """The library's own verification of ``folder`` (re-hashing every file): [] when it passes,
    else its reasons. The hashing follows the verified manifest (method, algorithm, shard size);
    ``ignored`` (folder-relative) are left out as the CLI leaves out the signature file."""
    model_signing = _import_library()
    args = manifest.serialization
    # The library records blake2 as "blake2b" but only accepts "blake2" back (1.1.1), so its own
    # guess cannot verify a blake2 signature; name it the way hashing.Config expects.
    algorithm = {"blake2b": "blake2"}.get(str(args.get("hash_type")), str(args.get("hash_type")))
    hashing_config = model_signing.hashing.Config()
    try:
        if manifest.method == "shards":
            hashing_config.use_shard_serialization(hashing_algorithm=algorithm, shard_size=int(args["shard_size"]))
        elif manifest.method == "files":
            hashing_config.use_file_serialization(hashing_algorithm=algorithm)
        else:
            raise ValueError(f"unknown serialization method {manifest.method!r}")
    except Exception as exc:
        return [f"the signed manifest's serialization cannot be reproduced: {_reason(exc)}"]
    hashing_config.set_ignored_paths(paths=list(ignored), ignore_git_paths=True)
    config = _config(policy).set_hashing_config(hashing_config)
    try:
        config.verify(folder, signature_path)
    except Exception as exc:
        text = _reason(exc)
        if text.startswith("Signature mismatch: "):
            try:
                return [str(item) for item in _literal_list(text.removeprefix("Signature mismatch: "))]
            except ValueError:
                return [text]
        return [text]
    return []


def _literal_list(text: str) -> list[object]:
    import ast

    value = ast.literal_eval(text)
    if not isinstance(value, list):
        raise ValueError(text)
    return value


def _signer(signature: Any, policy: Policy) -> tuple[str, str | None]:
    """Who signed, as recorded and shown: key fingerprint, certificate subject, or identity."""
    if policy.mode == "key":
        assert policy.public_key is not None
        return f"key sha256:{public_key_fingerprint(policy.public_key)}", None
    if policy.mode == "certificate":
        from cryptography import x509

        chain = signature.bundle.verification_material.x509_certificate_chain
        leaf = x509.load_der_x509_certificate(chain.certificates[0].raw_bytes)
        return (
            f"certificate {leaf.subject.rfc4514_string()} (issuer {leaf.issuer.rfc4514_string()}; "
            f"chain sha256:{chain_fingerprint(policy.certificate_chain)})",
            leaf.not_valid_after_utc.isoformat(),
        )
    return sigstore_signer(policy.identity, policy.issuer, policy.trust_config), None


def sigstore_signer(identity: str | None, issuer: str | None, trust_config: Path | None) -> str:
    """A Sigstore signer as recorded: the identity and issuer, and the sha256 of the trust
    configuration file when one is configured (another trust root is another signer to review)."""
    if trust_config is None:
        return f"sigstore {identity} ({issuer})"
    return f"sigstore {identity} ({issuer}; trust sha256:{hashlib.sha256(trust_config.read_bytes()).hexdigest()})"


def public_key_fingerprint(path: Path) -> str:
    """sha256 of the key's DER SubjectPublicKeyInfo (what ``openssl pkey -pubin -outform DER |
    sha256sum`` prints)."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(path.read_bytes())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def chain_fingerprint(paths: Sequence[Path]) -> str:
    """What identifies a configured certificate chain: sha256 over the sorted sha256 digests of its
    certificates' DER encodings (the same certificates in other files or another order give the same
    fingerprint; any other certificate gives another). Raises ValueError/OSError when unreadable."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    digests = sorted(
        {
            hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
            for path in paths
            for certificate in x509.load_pem_x509_certificates(path.read_bytes())
        }
    )
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def _material_name(policy: Policy) -> str:
    if policy.mode == "key":
        return f"public key {policy.public_key.name if policy.public_key else ''}".strip()
    if policy.mode == "certificate":
        return "certificate chain " + ", ".join(path.name for path in policy.certificate_chain)
    return "Sigstore trust configuration"


def _verification_failure(exc: Exception, policy: Policy) -> str:
    reason = _reason(exc)
    name = type(exc).__name__
    if policy.mode == "key" and ("Key mismatch" in reason or name == "InvalidSignature"):
        return f"not signed by the configured public key {policy.public_key.name if policy.public_key else ''}"
    if policy.mode == "certificate":
        if name == "X509StoreContextError":
            return f"the signing certificate is not trusted by the configured certificate chain: {reason}"
        if name == "InvalidSignature":
            return "the signature does not match its signing certificate (the bundle was altered)"
    if policy.mode == "sigstore":
        return f"Sigstore verification for {policy.identity} ({policy.issuer}) failed: {reason}"
    return f"the signature does not verify: {reason}"


def _fix_for(policy: Policy) -> str:
    if policy.mode == "key":
        return "sign the folder again with the private key of the configured public key, or configure the right key"
    if policy.mode == "certificate":
        return "sign with a certificate issued under the configured chain, or configure the chain it was issued under"
    return "check identity, issuer and trust_config, or sign again with that identity"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 500 else text[:500] + "..."


def escapes(name: str) -> bool:
    """True when a manifest name does not stay inside the signed folder."""
    if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return True
    return any(part == ".." for part in PurePosixPath(name).parts)
