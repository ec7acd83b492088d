"""Keys, certificates and OpenSSF model signatures for the signature tests: keys and certificates
made with ``cryptography``, folders signed with ``model_signing`` itself."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from helpers.hub_server import HubFile

NOW = dt.datetime.now(dt.timezone.utc)
DAY = dt.timedelta(days=1)


def write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def write_public_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return path


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path


def make_key(folder: Path, name: str = "signer") -> KeyPair:
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    return KeyPair(write_private_key(folder / f"{name}.key", key), write_public_key(folder / f"{name}.pub", key))


@dataclass(frozen=True)
class CertificateSet:
    """A CA, and a signing certificate issued by it with its private key."""

    ca: Path
    leaf_key: Path
    leaf: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )


def make_certificates(
    folder: Path,
    name: str = "pki",
    *,
    leaf_not_before: dt.datetime | None = None,
    leaf_not_after: dt.datetime | None = None,
    ca_not_after: dt.datetime | None = None,
    digital_signature: bool = True,
) -> CertificateSet:
    """A self-signed CA and a leaf certificate for signing (validity windows adjustable to make
    expired certificates)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{name} root CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - 400 * DAY)
        .not_valid_after(ca_not_after or NOW + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{name} model signer"))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(leaf_not_before or NOW - DAY)
        .not_valid_after(leaf_not_after or NOW + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature, False, not digital_signature, False, False, False, False, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = folder / f"{name}-ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    leaf_path = folder / f"{name}-leaf.pem"
    leaf_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return CertificateSet(ca_path, write_private_key(folder / f"{name}-leaf.key", leaf_key), leaf_path)


def _hashing(serialization_type: str, ignore: list[str]):  # type: ignore[no-untyped-def]
    from model_signing import hashing

    config = hashing.Config()
    if serialization_type == "files-sha256":
        config.use_file_serialization(hashing_algorithm="sha256")
    elif serialization_type == "files-blake2":
        config.use_file_serialization(hashing_algorithm="blake2")
    elif serialization_type == "files-blake3":
        config.use_file_serialization(hashing_algorithm="blake3")
    elif serialization_type == "shards-sha256":
        config.use_shard_serialization(hashing_algorithm="sha256", shard_size=64)
    else:
        raise ValueError(serialization_type)
    return config.set_ignored_paths(paths=ignore, ignore_git_paths=True)


SERIALIZATIONS = ("files-sha256", "files-blake2", "files-blake3", "shards-sha256")


def sign_with_key(
    folder: Path, key: KeyPair, *, signature: str = "model.sig", serialization_type: str = "files-sha256"
) -> Path:
    """Sign ``folder`` as ``model_signing sign key`` does: the signature file inside it, left out."""
    from model_signing import signing

    target = folder / signature
    signing.Config().use_elliptic_key_signer(private_key=key.private).set_hashing_config(
        _hashing(serialization_type, [signature])
    ).sign(folder, target)
    return target


def sign_with_certificate(
    folder: Path, pki: CertificateSet, *, signature: str = "model.sig", serialization_type: str = "files-sha256"
) -> Path:
    from model_signing import signing

    target = folder / signature
    signing.Config().use_certificate_signer(
        private_key=pki.leaf_key, signing_certificate=pki.leaf, certificate_chain=[pki.ca]
    ).set_hashing_config(_hashing(serialization_type, [signature])).sign(folder, target)
    return target


def _verify(config, folder: Path, signature: str, serialization_type: str | None) -> bool:  # type: ignore[no-untyped-def]
    """The library's own full verification through its public API: hashing guessed from the
    signature, or configured explicitly as a user of ``model_signing`` 1.1.1 must for blake2 (the
    recorded name "blake2b" is not one its guess maps back) and shards (the shard size comes back
    from the bundle as a float, which its guess passes on and the hasher rejects)."""
    if serialization_type in ("files-blake2", "shards-sha256"):
        config = config.set_hashing_config(_hashing(serialization_type, [signature]))
    try:
        config.verify(folder, folder / signature)
    except Exception:
        return False
    return True


def library_verify_key(
    folder: Path, key: KeyPair, signature: str = "model.sig", serialization_type: str | None = None
) -> bool:
    from model_signing import verifying

    return _verify(
        verifying.Config().use_elliptic_key_verifier(public_key=key.public), folder, signature, serialization_type
    )


def library_verify_certificate(
    folder: Path, pki: CertificateSet, signature: str = "model.sig", serialization_type: str | None = None
) -> bool:
    from model_signing import verifying

    return _verify(
        verifying.Config().use_certificate_verifier(certificate_chain=[pki.ca]), folder, signature, serialization_type
    )


def library_verify_sigstore(folder: Path, identity: str, issuer: str, trust_config: Path) -> bool:
    """The library's full verification of a keyless signature, offline against ``trust_config``, as
    its own test of the fixture runs the CLI (``--ignore-paths ignore-me``, the signature left out)."""
    from model_signing import hashing, verifying

    hashing_config = (
        hashing.Config()
        .use_file_serialization(hashing_algorithm="sha256")
        .set_ignored_paths(paths=["ignore-me", "model.sig"], ignore_git_paths=True)
    )
    config = verifying.Config().use_sigstore_verifier(identity=identity, oidc_issuer=issuer, trust_config=trust_config)
    try:
        config.set_hashing_config(hashing_config).verify(folder, folder / "model.sig")
    except Exception:
        return False
    return True


SIGSTORE_FIXTURE = Path(__file__).resolve().parent.parent / "data" / "signatures" / "sigstore-v1.1.0"
SIGSTORE_IDENTITY = "stefanb@us.ibm.com"
SIGSTORE_ISSUER = "https://sigstore.verify.ibm.com/oauth2"


def sigstore_trust_config(path: Path) -> Path:
    """A Sigstore client trust configuration for the public instance, from the trusted root that the
    installed ``sigstore`` package ships (so keyless verification runs without the network)."""
    import json

    import sigstore

    store = Path(sigstore.__file__).parent / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
    config = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": json.loads((store / "trusted_root.json").read_text(encoding="utf-8")),
        "signingConfig": json.loads((store / "signing_config.v0.2.json").read_text(encoding="utf-8")),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


# -- big signed repositories that cost no disk (sparse files), for the Hub transfer test and benchmark --


def sparse_safetensors(path: Path, size: int, mark: int) -> Path:
    """A valid safetensors file of ``size`` bytes: one F32 tensor whose data is a hole (zeros, no disk
    used) but for its last byte, ``mark``, so that files differ."""
    import json
    import os
    import struct

    def header(numel: int) -> bytes:
        text = json.dumps({"weight": {"dtype": "F32", "shape": [numel], "data_offsets": [0, numel * 4]}}).encode()
        return text + b" " * (-len(text) % 8)

    numel = (size - 8 - len(header(0))) // 4
    numel = (size - 8 - len(header(numel))) // 4  # the header's length depends on numel's digits
    head = header(numel)
    with path.open("wb") as stream:
        stream.write(struct.pack("<Q", len(head)) + head)
        stream.truncate(8 + len(head) + numel * 4)
        stream.seek(-1, os.SEEK_END)
        stream.write(bytes([mark]))
    return path


def signed_sparse_model(folder: Path, key: KeyPair, *, shards: int, shard_bytes: int) -> Path:
    """A model folder of ``shards`` sparse safetensors shards, a config and a tokenizer file, signed
    with ``key`` (model_signing reads every byte once to sign it)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(shards):
        sparse_safetensors(folder / f"model-{index + 1:05d}-of-{shards:05d}.safetensors", shard_bytes, index + 1)
    (folder / "config.json").write_text('{"hidden_size": 4096, "num_hidden_layers": 32}\n', encoding="utf-8")
    (folder / "tokenizer.json").write_text('{"version": "1.0", "model": {"vocab": {}}}\n', encoding="utf-8")
    sign_with_key(folder, key)
    return folder


def hub_files_of(folder: Path) -> list[HubFile]:
    """The folder's files as local-Hub files: big ones memory-mapped (never read into memory),
    ``.safetensors`` as LFS files, the rest as small files."""
    import mmap

    files = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        content: bytes = path.read_bytes() if path.stat().st_size <= 1 << 20 else b""
        if not content and path.stat().st_size:
            with path.open("rb") as stream:
                content = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)  # type: ignore[assignment]
        files.append(HubFile(path.relative_to(folder).as_posix(), content, lfs=path.suffix == ".safetensors"))
    return files
