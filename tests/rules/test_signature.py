"""The ``signature`` rule and ``[[tool.aisupply.signed]]``: folders signed with model_signing (key
and certificate modes, every serialization) checked by the rule, with the library's own full
verify as the reference verdict."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("model_signing", reason="the signing extra (model-signing) is not installed")
np = pytest.importorskip("numpy")

from helpers.hub_server import HubFile, HubServer  # noqa: E402
from helpers.signing import (  # noqa: E402
    DAY,
    NOW,
    SERIALIZATIONS,
    SIGSTORE_FIXTURE,
    SIGSTORE_IDENTITY,
    SIGSTORE_ISSUER,
    CertificateSet,
    KeyPair,
    hub_files_of,
    library_verify_certificate,
    library_verify_key,
    library_verify_sigstore,
    make_certificates,
    make_key,
    sign_with_certificate,
    sign_with_key,
    signed_sparse_model,
    sigstore_trust_config,
)
from helpers.wire import WireCounter  # noqa: E402
from pytest_aisupply.formats import builtin_readers  # noqa: E402
from pytest_aisupply.lockfile.hashing import HashCache  # noqa: E402
from pytest_aisupply.lockfile.lock import read_lock  # noqa: E402
from pytest_aisupply.rules.signature import SignatureRule  # noqa: E402
from pytest_aisupply.rules.signature_verification import chain_fingerprint, public_key_fingerprint  # noqa: E402
from pytest_aisupply.settings import schema as config_schema  # noqa: E402
from pytest_aisupply.settings.config import ConfigError, load_settings  # noqa: E402
from pytest_aisupply.verdicts.engine import Engine  # noqa: E402

# -- building projects ----------------------------------------------------------------------------


def make_model(folder: Path) -> Path:
    """A small model folder: numpy weights, a config, a tokenizer file in a subfolder."""
    (folder / "tokenizer").mkdir(parents=True, exist_ok=True)
    np.save(folder / "weights.npy", np.arange(64, dtype=np.float32).reshape(8, 8))
    np.save(folder / "bias.npy", np.ones(8, dtype=np.float32))
    (folder / "config.json").write_text(json.dumps({"hidden": 8, "layers": 1}), encoding="utf-8")
    (folder / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\nhello\nworld\n", encoding="utf-8")
    return folder


def write_project(root: Path, signed: str, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[tool.aisupply]\nlockfile = ""\n' + extra + "\n" + textwrap.dedent(signed), encoding="utf-8"
    )
    return root


def key_entry(key: KeyPair, root: Path, path: str = "models/bert", more: str = "") -> str:
    return (
        f'[[tool.aisupply.signed]]\npath = "{path}"\npublic_key = "{key.public.relative_to(root).as_posix()}"\n{more}'
    )


def cert_entry(pki: CertificateSet, root: Path, path: str = "models/bert") -> str:
    return f'[[tool.aisupply.signed]]\npath = "{path}"\ncertificate_chain = ["{pki.ca.relative_to(root).as_posix()}"]\n'


def check(root: Path, cache: HashCache | None = None) -> dict[str, list[str]]:
    """Run the signature rule on the project: subject id -> finding messages ([] = passed)."""
    settings = load_settings(root / "pyproject.toml", root)
    engine = Engine(settings, [SignatureRule()], builtin_readers(), hash_cache=cache)
    results = {}
    for rule, subjects in engine.subjects():
        for subject in subjects:
            verdict = engine.evaluate(rule.id, subject)
            results[subject.id] = [f.message + "".join(f" | {d}" for d in f.details) for f in verdict.findings]
    return results


def findings_of(root: Path, subject: str = "models/bert") -> list[str]:
    return check(root)[subject]


# -- mutations of a signed folder -----------------------------------------------------------------


def tamper(folder: Path) -> None:
    data = bytearray((folder / "weights.npy").read_bytes())
    data[-1] ^= 0x01
    (folder / "weights.npy").write_bytes(bytes(data))


def add(folder: Path) -> None:
    (folder / "extra.bin").write_bytes(b"\x00" * 32)


def remove(folder: Path) -> None:
    (folder / "bias.npy").unlink()


def rename(folder: Path) -> None:
    (folder / "bias.npy").rename(folder / "bias_renamed.npy")


def symlink_file(folder: Path) -> None:
    target = folder / "config.json"
    content = target.read_bytes()
    outside = folder.parent / "config-outside.json"
    outside.write_bytes(content)
    target.unlink()
    target.symlink_to(outside)


def symlink_dir(folder: Path) -> None:
    (folder / "linked").symlink_to(folder / "tokenizer", target_is_directory=True)


def add_git_file(folder: Path) -> None:
    (folder / ".gitattributes").write_text("*.npy filter=lfs\n", encoding="utf-8")


def untouched(folder: Path) -> None:
    pass


MUTATIONS = {
    "unchanged": untouched,
    "tampered": tamper,
    "added": add,
    "removed": remove,
    "renamed": rename,
    "symlinked-file": symlink_file,
    "symlinked-dir": symlink_dir,
    "git-file-added": add_git_file,
}


# -- the differential matrix ------------------------------------------------------------------------


@pytest.mark.parametrize("serialization_type", SERIALIZATIONS)
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("mode", ["key", "certificate"])
def test_verdict_equals_model_signing_full_verify(
    tmp_path: Path, mode: str, mutation: str, serialization_type: str
) -> None:
    root = tmp_path / "project"
    folder = make_model(root / "models" / "bert")
    if mode == "key":
        key = make_key(root / "keys")
        sign_with_key(folder, key, serialization_type=serialization_type)
        write_project(root, key_entry(key, root))
    else:
        pki = make_certificates(root / "keys")
        sign_with_certificate(folder, pki, serialization_type=serialization_type)
        write_project(root, cert_entry(pki, root))
    MUTATIONS[mutation](folder)

    ours = findings_of(root)
    library = (
        library_verify_key(folder, key, serialization_type=serialization_type)
        if mode == "key"
        else library_verify_certificate(folder, pki, serialization_type=serialization_type)
    )

    assert (ours == []) == library, f"ours: {ours}; model_signing verify passes: {library}"
    assert (ours == []) == (mutation in ("unchanged", "git-file-added"))


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        ("tampered", "weights.npy differs from the signed file: sha256 "),
        ("added", "extra.bin is not signed (the signature does not cover it)"),
        ("removed", "signed file bias.npy is missing"),
        ("symlinked-file", "config.json is a symlink; model_signing does not verify through symlinks"),
        ("symlinked-dir", "linked is a symlink"),
    ],
)
def test_findings_name_the_file_that_differs(tmp_path: Path, mutation: str, expected: str) -> None:
    root = tmp_path / "project"
    folder = make_model(root / "models" / "bert")
    key = make_key(root / "keys")
    sign_with_key(folder, key)
    write_project(root, key_entry(key, root))
    MUTATIONS[mutation](folder)
    messages = findings_of(root)
    assert any(message.startswith(expected) for message in messages), messages


def test_renamed_file_is_one_missing_and_one_unsigned(tmp_path: Path) -> None:
    root = tmp_path / "project"
    folder = make_model(root / "models" / "bert")
    key = make_key(root / "keys")
    sign_with_key(folder, key)
    write_project(root, key_entry(key, root))
    rename(folder)
    assert findings_of(root) == [
        "signed file bias.npy is missing",
        "bias_renamed.npy is not signed (the signature does not cover it)",
    ]


def test_shard_manifest_failure_goes_through_model_signing(tmp_path: Path) -> None:
    root = tmp_path / "project"
    folder = make_model(root / "models" / "bert")
    key = make_key(root / "keys")
    sign_with_key(folder, key, serialization_type="shards-sha256")
    write_project(root, key_entry(key, root))
    tamper(folder)
    messages = findings_of(root)
    assert messages
    assert all(message.startswith("model_signing verify: ") for message in messages), messages
    assert any("weights.npy" in message for message in messages)


def test_allow_unsigned_tolerates_matching_files_only(tmp_path: Path) -> None:
    root = tmp_path / "project"
    folder = make_model(root / "models" / "bert")
    key = make_key(root / "keys")
    sign_with_key(folder, key)
    write_project(root, key_entry(key, root, more='allow_unsigned = ["README.md", "runs/"]\n'))
    (folder / "README.md").write_text("# bert\n", encoding="utf-8")
    (folder / "runs").mkdir()
    (folder / "runs" / "log.txt").write_text("epoch 1\n", encoding="utf-8")
    assert findings_of(root) == []
    (folder / "notes.txt").write_text("x\n", encoding="utf-8")
    assert findings_of(root) == ["notes.txt is not signed (the signature does not cover it)"]


def test_allow_unsigned_with_a_shard_manifest(tmp_path: Path) -> None:
    root = tmp_path / "project"
    folder = make_model(root / "models" / "bert")
    key = make_key(root / "keys")
    sign_with_key(folder, key, serialization_type="shards-sha256")
    write_project(root, key_entry(key, root, more='allow_unsigned = ["README.md"]\n'))
    (folder / "README.md").write_text("# bert\n", encoding="utf-8")
    assert findings_of(root) == []


def test_every_folder_a_glob_matches_is_one_check(tmp_path: Path) -> None:
    root = tmp_path / "project"
    key = make_key(root / "keys")
    for name in ("bert", "t5"):
        sign_with_key(make_model(root / "models" / name), key)
    write_project(root, key_entry(key, root, path="models/*"))
    tamper(root / "models" / "t5")
    results = check(root)
    assert sorted(results) == ["models/bert", "models/t5"]
    assert results["models/bert"] == []
    assert results["models/t5"][0].startswith("weights.npy differs")


def test_a_path_matching_no_folder_fails(tmp_path: Path) -> None:
    root = tmp_path / "project"
    key = make_key(root / "keys")
    write_project(root, key_entry(key, root, path="models/gone"))
    assert check(root) == {
        "models/gone": [
            "[[tool.aisupply.signed]] path 'models/gone' (pyproject.toml:4) matches no folder, so nothing it "
            "requires to be signed was checked"
        ]
    }


# -- bad signatures ---------------------------------------------------------------------------------


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path, KeyPair]:
    root = tmp_path / "project"
    folder = make_model(root / "models" / "bert")
    key = make_key(root / "keys")
    sign_with_key(folder, key)
    write_project(root, key_entry(key, root))
    return root, folder, key


def test_missing_signature(signed: tuple[Path, Path, KeyPair]) -> None:
    root, folder, _ = signed
    (folder / "model.sig").unlink()
    assert findings_of(root) == ["unsigned: no signature file model.sig"]


def test_empty_signature(signed: tuple[Path, Path, KeyPair]) -> None:
    root, folder, _ = signed
    (folder / "model.sig").write_bytes(b"")
    assert findings_of(root) == ["the signature model.sig is empty"]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: b"not json at all", id="not-json"),
        pytest.param(lambda data: b"[1, 2, 3]", id="json-array"),
        pytest.param(lambda data: b'{"mediaType": "x"}', id="json-without-bundle"),
    ],
)
def test_unreadable_signature_is_a_finding(signed: tuple[Path, Path, KeyPair], damage) -> None:  # type: ignore[no-untyped-def]
    root, folder, _ = signed
    path = folder / "model.sig"
    path.write_bytes(damage(path.read_bytes()))
    (message,) = findings_of(root)
    assert message.startswith("model.sig is not a model signature (a Sigstore bundle in JSON): "), message


def test_altered_payload_does_not_verify(signed: tuple[Path, Path, KeyPair]) -> None:
    root, folder, _ = signed
    import base64

    path = folder / "model.sig"
    bundle = json.loads(path.read_text(encoding="utf-8"))
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    statement["predicate"]["resources"][0]["digest"] = "0" * 64
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    path.write_text(json.dumps(bundle), encoding="utf-8")
    (message,) = findings_of(root)
    assert message.startswith("not signed by the configured public key signer.pub"), message


def test_signed_by_another_key(signed: tuple[Path, Path, KeyPair]) -> None:
    root, folder, _ = signed
    other = make_key(root / "keys", name="intruder")
    sign_with_key(folder, other)
    assert findings_of(root) == ["not signed by the configured public key signer.pub"]


def test_public_key_file_missing(signed: tuple[Path, Path, KeyPair]) -> None:
    root, _, key = signed
    key.public.unlink()
    (message,) = findings_of(root)
    assert message == "the configured signer file signer.pub cannot be read: No such file or directory"


def test_public_key_that_is_not_a_key(signed: tuple[Path, Path, KeyPair]) -> None:
    root, _, key = signed
    key.public.write_text("hello\n", encoding="utf-8")
    (message,) = findings_of(root)
    assert message.startswith("the configured public key signer.pub cannot be used: "), message


def test_signature_over_a_different_folder(tmp_path: Path) -> None:
    root = tmp_path / "project"
    key = make_key(root / "keys")
    other = make_model(root / "models" / "gpt")
    (other / "extra.json").write_text("{}", encoding="utf-8")
    np.save(other / "weights.npy", np.zeros(3))
    sign_with_key(other, key)
    folder = make_model(root / "models" / "bert")
    shutil.copy(other / "model.sig", folder / "model.sig")
    write_project(root, key_entry(key, root))
    messages = findings_of(root)
    assert "signed file extra.json is missing | the signature was made over a folder named 'gpt'" in messages
    assert any(m.startswith("weights.npy differs from the signed file") for m in messages)


def test_manifest_naming_paths_outside_the_folder(signed: tuple[Path, Path, KeyPair]) -> None:
    root, folder, key = signed
    import pathlib

    from model_signing import manifest
    from model_signing._hashing import hashing
    from model_signing._signing import sign_ec_key
    from model_signing._signing import signing as signing_internals

    items = [
        manifest.FileManifestItem(
            path=pathlib.PurePosixPath("../../pyproject.toml"), digest=hashing.Digest("sha256", bytes(32))
        ),
        manifest.FileManifestItem(
            path=pathlib.PurePosixPath("config.json"), digest=hashing.Digest("sha256", bytes(32))
        ),
    ]
    crafted = manifest.Manifest("bert", items, manifest._FileSerialization("sha256", False, ["model.sig"]))
    sign_ec_key.Signer(key.private).sign(signing_internals.Payload(crafted)).write(folder / "model.sig")
    messages = findings_of(root)
    assert messages[0] == "the signature names '../../pyproject.toml', a path outside the folder"
    assert not library_verify_key(folder, key)


def test_oversized_signature_is_not_read(signed: tuple[Path, Path, KeyPair]) -> None:
    root, folder, _ = signed
    with open(folder / "model.sig", "wb") as handle:
        handle.truncate(65 << 20)  # sparse: no disk used
    assert findings_of(root) == ["the signature model.sig is 68,157,440 bytes, too large to be a model signature"]


def test_symlinked_signature(signed: tuple[Path, Path, KeyPair]) -> None:
    root, folder, _ = signed
    (folder / "model.sig").rename(root / "elsewhere.sig")
    (folder / "model.sig").symlink_to(root / "elsewhere.sig")
    assert findings_of(root) == ["the signature model.sig is a symlink"]


# -- certificates -------------------------------------------------------------------------------


def _cert_project(tmp_path: Path, signer: CertificateSet, trusted: CertificateSet | None = None) -> Path:
    root = tmp_path / "project"
    folder = make_model(root / "models" / "bert")
    sign_with_certificate(folder, signer)
    write_project(root, cert_entry(trusted or signer, root))
    return root


def test_certificate_mode_passes_and_names_the_signer(tmp_path: Path) -> None:
    pki = make_certificates(tmp_path / "project" / "keys")
    root = _cert_project(tmp_path, pki)
    assert findings_of(root) == []


def test_untrusted_certificate(tmp_path: Path) -> None:
    keys = tmp_path / "project" / "keys"
    root = _cert_project(tmp_path, make_certificates(keys, "rogue"), make_certificates(keys, "corp"))
    (message,) = findings_of(root)
    assert message.startswith("the signing certificate is not trusted by the configured certificate chain: "), message


def test_expired_certificate(tmp_path: Path) -> None:
    pki = make_certificates(tmp_path / "project" / "keys", leaf_not_before=NOW - 30 * DAY, leaf_not_after=NOW - DAY)
    root = _cert_project(tmp_path, pki)
    expired = (NOW - DAY).date().isoformat()
    assert findings_of(root) == [
        f"the signing certificate expired on {expired} (certificate CN=pki model signer,O=Acme "
        "(issuer CN=pki root CA,O=Acme; chain sha256:"
        f"{chain_fingerprint([pki.ca])}))"
    ]


def test_certificate_issued_after_its_ca_expired(tmp_path: Path) -> None:
    pki = make_certificates(tmp_path / "project" / "keys", ca_not_after=NOW - 2 * DAY)
    root = _cert_project(tmp_path, pki)
    (message,) = findings_of(root)
    assert "not trusted" in message, message
    assert "expired" in message, message


def test_certificate_not_for_signing(tmp_path: Path) -> None:
    pki = make_certificates(tmp_path / "project" / "keys", digital_signature=False)
    root = _cert_project(tmp_path, pki)
    (message,) = findings_of(root)
    assert message == "the signature does not verify: Signing certificate cannot be used for signing"


# -- Sigstore keyless, offline with a local trust root -----------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every attempt to open a network connection from this process fails (and is listed)."""
    import socket

    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError(f"network access in an offline test: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: refuse(None, args[:2]))  # type: ignore[arg-type]
    return attempts


def _sigstore_project(tmp_path: Path, identity: str = SIGSTORE_IDENTITY) -> tuple[Path, Path]:
    root = tmp_path / "project"
    folder = root / "models" / "signed"
    shutil.copytree(SIGSTORE_FIXTURE, folder)
    sigstore_trust_config(root / "keys" / "sigstore-trust.json")
    write_project(
        root,
        f"""\
        [[tool.aisupply.signed]]
        path = "models/signed"
        identity = "{identity}"
        issuer = "{SIGSTORE_ISSUER}"
        trust_config = "keys/sigstore-trust.json"
        """,
    )
    return root, folder


def test_sigstore_keyless_signature_verifies_offline(tmp_path: Path, no_network: list[object]) -> None:
    root, _ = _sigstore_project(tmp_path)
    assert findings_of(root, "models/signed") == []
    assert no_network == []


def test_sigstore_tampered_file(tmp_path: Path) -> None:
    root, folder = _sigstore_project(tmp_path)
    (folder / "signme-1").write_bytes(b"changed\n")
    (message,) = findings_of(root, "models/signed")
    assert message.startswith("signme-1 differs from the signed file: sha256 "), message


def test_sigstore_other_identity(tmp_path: Path) -> None:
    root, _ = _sigstore_project(tmp_path, identity="someone-else@example.com")
    (message,) = findings_of(root, "models/signed")
    assert message.startswith(f"Sigstore verification for someone-else@example.com ({SIGSTORE_ISSUER}) failed: "), (
        message
    )


def _sigstore_symlink_file(folder: Path) -> None:
    outside = folder.parent / "signme-1-outside"
    outside.write_bytes((folder / "signme-1").read_bytes())
    (folder / "signme-1").unlink()
    (folder / "signme-1").symlink_to(outside)


def _sigstore_symlink_dir(folder: Path) -> None:
    (folder.parent / "outside-dir").mkdir()
    (folder / "linked").symlink_to(folder.parent / "outside-dir", target_is_directory=True)


#: The matrix's mutations, applied to the keyless fixture's files (signme-1, signme-2; ignore-me is
#: left out by the signature itself).
SIGSTORE_MUTATIONS = {
    "unchanged": untouched,
    "tampered": lambda folder: (folder / "signme-1").write_bytes(b"changed\n"),
    "added": add,
    "removed": lambda folder: (folder / "signme-2").unlink(),
    "renamed": lambda folder: (folder / "signme-2").rename(folder / "signme-2-renamed"),
    "symlinked-file": _sigstore_symlink_file,
    "symlinked-dir": _sigstore_symlink_dir,
    "git-file-added": add_git_file,
    "ignored-file-changed": lambda folder: (folder / "ignore-me").write_bytes(b"not signed, and ignored\n"),
}


@pytest.mark.parametrize("mutation", sorted(SIGSTORE_MUTATIONS))
def test_sigstore_verdict_equals_model_signing_full_verify(
    tmp_path: Path, mutation: str, no_network: list[object]
) -> None:
    """The matrix in keyless mode, offline: one serialization (files, sha256), the one the public
    fixture was signed with; no other can be made without Fulcio and Rekor (docs/rules/signature.md)."""
    root, folder = _sigstore_project(tmp_path)
    SIGSTORE_MUTATIONS[mutation](folder)
    ours = findings_of(root, "models/signed")
    library = library_verify_sigstore(folder, SIGSTORE_IDENTITY, SIGSTORE_ISSUER, root / "keys" / "sigstore-trust.json")
    assert (ours == []) == library, f"ours: {ours}; model_signing verify passes: {library}"
    assert (ours == []) == (mutation in ("unchanged", "git-file-added", "ignored-file-changed"))
    assert no_network == []


def test_a_key_signature_is_not_a_sigstore_signature(tmp_path: Path) -> None:
    root, folder = _sigstore_project(tmp_path)
    sign_with_key(folder, make_key(root / "keys"))
    (message,) = findings_of(root, "models/signed")
    assert message == "model.sig is not a model signature (a Sigstore bundle in JSON): expected certificate in bundle"


# -- re-verification from the hash cache ---------------------------------------------------------------


def test_unchanged_folder_is_reverified_without_reading_model_data(signed: tuple[Path, Path, KeyPair]) -> None:
    root, folder, _ = signed
    cache_file = root / ".cache" / "hashes.json"
    first = HashCache.load(cache_file)
    assert check(root, first) == {"models/bert": []}
    assert first.bytes_hashed > 0
    first.save(cache_file)

    second = HashCache.load(cache_file)
    assert check(root, second) == {"models/bert": []}
    assert second.bytes_hashed == 0
    assert second.fresh == {}

    tamper(folder)
    third = HashCache.load(cache_file)
    assert check(root, third)["models/bert"][0].startswith("weights.npy differs from the signed file")
    assert third.bytes_hashed == (folder / "weights.npy").stat().st_size


def test_a_remembered_verification_does_not_outlive_a_key_change(signed: tuple[Path, Path, KeyPair]) -> None:
    root, _, _ = signed
    cache_file = root / ".cache" / "hashes.json"
    cache = HashCache.load(cache_file)
    assert check(root, cache) == {"models/bert": []}
    cache.save(cache_file)
    make_key(root / "keys", name="signer")  # replaces signer.pub with a new key
    assert check(root, HashCache.load(cache_file)) == {
        "models/bert": ["not signed by the configured public key signer.pub"]
    }


# -- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('path = "models/bert"\n', "pyproject.toml:3: [[tool.aisupply.signed]] public_key: give exactly one signer"),
        (
            'path = "m"\nhub = "org/name"\npublic_key = "k.pub"\n',
            "pyproject.toml:4: [[tool.aisupply.signed]] path: give exactly one of path",
        ),
        ('hub = "not a repo"\npublic_key = "k.pub"\n', "pyproject.toml:4: [[tool.aisupply.signed]] hub: bad repo id"),
        (
            'path = "m"\npublic_key = "k.pub"\ncertificate_chain = "ca.pem"\n',
            "pyproject.toml:6: [[tool.aisupply.signed]] certificate_chain: give exactly one signer",
        ),
        (
            'path = "m"\nidentity = "a@b"\n',
            "pyproject.toml:3: [[tool.aisupply.signed]] issuer: identity and issuer go together",
        ),
        (
            'path = "m"\npublic_key = "k.pub"\ntrust_config = "t.json"\n',
            "pyproject.toml:6: [[tool.aisupply.signed]] trust_config: trust_config only applies to Sigstore",
        ),
        ('path = "../m"\npublic_key = "k.pub"\n', "pyproject.toml:4: [[tool.aisupply.signed]] path: bad glob '../m'"),
        ('path = "m"\npublic_key = "/etc/k.pub"\n', "pyproject.toml:5: [[tool.aisupply.signed]] public_key: bad path"),
        ('path = "m"\npublic_key = "k.pub"\nsignature = "../x.sig"\n', "[[tool.aisupply.signed]] signature: bad path"),
        (
            'path = "m"\npublic_key = "k.pub"\nallow_unsigned = "README.md"\n',
            "allow_unsigned: expected a list of strings",
        ),
        ('path = "m"\npublickey = "k.pub"\n', "publickey: unknown key (did you mean 'public_key'?)"),
        ('path = "m"\npublic_key = ""\n', "public_key: expected a non-empty string"),
    ],
)
def test_bad_signed_entries_name_the_key_and_line(tmp_path: Path, body: str, error: str) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.aisupply]\nlockfile = ""\n[[tool.aisupply.signed]]\n' + body, encoding="utf-8"
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path / "pyproject.toml", tmp_path)
    assert error in str(raised.value)


def test_signed_entries_are_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [tool.aisupply]
            [[tool.aisupply.signed]]
            path = "models/*"
            public_key = "keys/m.pub"
            allow_unsigned = ["*.md"]

            [[tool.aisupply.signed]]
            hub = "acme/bert"
            signature = "sig/model.sig"
            certificate_chain = "keys/ca.pem"

            [[tool.aisupply.signed]]
            path = "models/t5"
            identity = "bot@acme.example"
            issuer = "https://accounts.google.com"
            trust_config = "keys/trust.json"
            """
        ),
        encoding="utf-8",
    )
    first, second, third = load_settings(tmp_path / "pyproject.toml", tmp_path).signed
    assert (first.mode, first.signature, first.allow_unsigned, first.source_line) == ("key", "model.sig", ("*.md",), 2)
    assert (second.mode, second.hub, second.certificate_chain) == ("certificate", "acme/bert", ("keys/ca.pem",))
    assert (third.mode, third.identity, third.trust_config) == ("sigstore", "bot@acme.example", "keys/trust.json")


@pytest.mark.parametrize("key", config_schema.SIGNED_KEYS, ids=[key.name for key in config_schema.SIGNED_KEYS])
def test_every_signed_example_is_valid_configuration(tmp_path: Path, key: config_schema.Key) -> None:
    document = "[tool.aisupply]\n" + config_schema.example_document(key, config_schema.SIGNED_TABLE)
    (tmp_path / "pyproject.toml").write_text(document, encoding="utf-8")
    (spec,) = load_settings(tmp_path / "pyproject.toml", tmp_path).signed
    assert spec.source_line == 2


def test_signed_keys_are_the_documented_ones() -> None:
    from pytest_aisupply.settings.tables import SIGNED_KEYS

    assert {key.name for key in config_schema.SIGNED_KEYS} == set(SIGNED_KEYS)


# -- through pytest -------------------------------------------------------------------------------------


def _pytester_project(pytester: pytest.Pytester) -> tuple[Path, Path]:
    root = pytester.path
    folder = make_model(root / "models" / "bert")
    key = make_key(root / "keys")
    sign_with_key(folder, key)
    write_project(root, key_entry(key, root), extra='[tool.aisupply.rules]\nno-pickle = "off"\nunsafe-format = "off"\n')
    return root, folder


def test_pytest_run_passes_then_fails_on_a_tampered_file(pytester: pytest.Pytester) -> None:
    _, folder = _pytester_project(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "signature", "-v")
    result.assert_outcomes(passed=1, deselected=result.parseoutcomes().get("deselected", 0))
    result.stdout.fnmatch_lines(["*aisupply::signature::models/bert PASSED*"])
    tamper(folder)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "signature")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*weights.npy differs from the signed file: sha256 *"])


def test_without_the_extra_the_rule_fails_naming_it(pytester: pytest.Pytester) -> None:
    _pytester_project(pytester)
    pytester.makeconftest("import sys\nsys.modules['model_signing'] = None  # as if not installed\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "signature")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*the `signing` extra is not installed*", '*pip install "pytest-aisupply?signing?"*'])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.skipif(os.name == "nt", reason="POSIX special files")
def test_special_file_in_a_signed_folder(signed: tuple[Path, Path, KeyPair]) -> None:
    root, folder, _ = signed
    os.mkfifo(folder / "pipe")
    assert findings_of(root) == ["pipe is not a regular file or folder (a device, socket or pipe)"]


# -- Hub repositories: verified at --aisupply-update before download, compared offline after ------------


def _publish_signed(hub: HubServer, tmp_path: Path, key: KeyPair, repo: str = "org/signed") -> tuple[str, Path]:
    """Sign a model folder and push it (weights as LFS files, config and tokenizer as small files)."""
    folder = make_model(tmp_path / "publisher" / "signed")
    sign_with_key(folder, key)
    files = [
        HubFile(path.relative_to(folder).as_posix(), path.read_bytes(), lfs=path.suffix == ".npy")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]
    return hub.add_repo(repo, files=files), folder


def _hub_project(pytester: pytest.Pytester, sha: str, key: KeyPair, repo: str = "org/signed") -> None:
    root = pytester.path
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "serve.py").write_text(
        f'from huggingface_hub import hf_hub_download\n\nhf_hub_download("{repo}", "weights.npy", revision="{sha}")\n',
        encoding="utf-8",
    )
    public = root / "keys" / "publisher.pub"
    public.parent.mkdir(exist_ok=True)
    shutil.copy(key.public, public)
    pytester.makepyprojecttoml(
        textwrap.dedent(
            f"""\
            [tool.aisupply]
            artifacts = ["src"]
            code = ["src"]

            [[tool.aisupply.signed]]
            hub = "{repo}"
            public_key = "keys/publisher.pub"

            [tool.aisupply.rules]
            license = "off"  # the signed test repositories carry no model card
            """
        )
    )


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args)


@pytest.mark.usefixtures("hub_env")
def test_hub_signature_verified_at_update_without_downloading_weights(
    pytester: pytest.Pytester, hub: HubServer, tmp_path: Path
) -> None:
    key = make_key(tmp_path / "publisher-keys")
    sha, _ = _publish_signed(hub, tmp_path, key)
    _hub_project(pytester, sha, key)
    hub.clear_requests()
    result = _run(pytester, "--aisupply-update")
    result.stdout.fnmatch_lines([f"PASSED aisupply::signature::model:org/signed@{sha}*"])
    # whole-file downloads; the integrity rule's ranged reads of the weights (their content verdicts) are
    # a few kilobytes each and are not downloads
    downloads = sorted(
        path
        for (method, path), headers in zip(hub.requests, hub.request_headers, strict=True)
        if "/resolve/" in path and method == "GET" and "range" not in headers
    )
    assert downloads == [
        f"/org/signed/resolve/{sha}/config.json",
        f"/org/signed/resolve/{sha}/model.sig",
        f"/org/signed/resolve/{sha}/tokenizer/vocab.txt",
    ]
    (entry,) = read_lock(pytester.path / "aisupply.lock").hub.values()
    fingerprint = public_key_fingerprint(key.public)
    assert entry.signer == f"key sha256:{fingerprint}"
    assert f'signer = "key sha256:{fingerprint}"' in (pytester.path / "aisupply.lock").read_text(encoding="utf-8")

    hub.stop()  # normal runs compare the lockfile offline
    offline = _run(pytester, "-k", "signature")
    offline.stdout.fnmatch_lines([f"PASSED aisupply::signature::model:org/signed@{sha}*"])

    make_key(pytester.path / "keys", name="publisher")  # the team now requires another key
    changed = _run(pytester, "-k", "signature")
    assert changed.ret == 1
    changed.stdout.fnmatch_lines([f"*the signer changed: aisupply.lock records key sha256:{fingerprint}*"])


@pytest.mark.usefixtures("hub_env")
def test_hub_commit_with_a_changed_weight_is_not_recorded(
    pytester: pytest.Pytester, hub: HubServer, tmp_path: Path
) -> None:
    key = make_key(tmp_path / "publisher-keys")
    _publish_signed(hub, tmp_path, key)
    tampered = hub.add_commit("org/signed", [HubFile("weights.npy", b"\x93NUMPY tampered", lfs=True)])
    _hub_project(pytester, tampered, key)
    result = _run(pytester, "--aisupply-update")
    result.stdout.fnmatch_lines(["*weights.npy differs from the signed file: sha256 *"])
    assert all(
        "weights.npy" not in path or "range" in headers
        for (_, path), headers in zip(hub.requests, hub.request_headers, strict=True)
        if "/resolve/" in path
    )
    (entry,) = read_lock(pytester.path / "aisupply.lock").hub.values()
    assert entry.signer is None
    offline = _run(pytester, "-k", "signature")
    offline.stdout.fnmatch_lines(["*no verified signature of this commit is recorded in aisupply.lock*"])


@pytest.mark.usefixtures("hub_env")
def test_hub_commit_without_signature_or_signed_by_another_key(
    pytester: pytest.Pytester, hub: HubServer, tmp_path: Path
) -> None:
    key = make_key(tmp_path / "publisher-keys")
    sha, _ = _publish_signed(hub, tmp_path, key)
    unsigned = hub.add_commit("org/signed", [HubFile("model.sig", b"", lfs=False)], replace=False)
    hub.set_file("org/signed", unsigned, "model.sig", None)
    _hub_project(pytester, unsigned, key)
    result = _run(pytester, "--aisupply-update", "-k", "signature")
    result.stdout.fnmatch_lines(["*unsigned: the commit has no signature file model.sig*"])

    _hub_project(pytester, sha, make_key(tmp_path / "other-keys"))
    result = _run(pytester, "--aisupply-update", "-k", "signature")
    result.stdout.fnmatch_lines(["*not signed by the configured public key publisher.pub*"])


@pytest.mark.usefixtures("hub_env")
def test_hub_cached_snapshot_is_held_against_the_signed_digests(
    pytester: pytest.Pytester, hub: HubServer, tmp_path: Path, hub_env: dict[str, str]
) -> None:
    key = make_key(tmp_path / "publisher-keys")
    sha, _ = _publish_signed(hub, tmp_path, key)
    _hub_project(pytester, sha, key)
    _run(pytester, "--aisupply-update", "-k", "signature or integrity")
    download = (
        "from huggingface_hub import hf_hub_download; "
        f"print(hf_hub_download('org/signed', 'weights.npy', revision='{sha}'))"
    )
    printed = subprocess.run([sys.executable, "-c", download], env=hub_env, capture_output=True, text=True, check=True)
    cached = Path(printed.stdout.strip().splitlines()[-1])
    hub.stop()
    _run(pytester, "-k", "signature").stdout.fnmatch_lines([f"PASSED aisupply::signature::model:org/signed@{sha}*"])

    blob = cached.resolve()
    blob.chmod(0o644)
    blob.write_bytes(b"\x93NUMPY swapped in the cache")
    result = _run(pytester, "-k", "signature")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*the cached copy of weights.npy is not the signed file*"])


@pytest.mark.usefixtures("hub_env")
def test_hub_signer_of_a_removed_entry_is_dropped_by_a_complete_update_only(
    pytester: pytest.Pytester, hub: HubServer, tmp_path: Path
) -> None:
    key = make_key(tmp_path / "publisher-keys")
    sha, _ = _publish_signed(hub, tmp_path, key)
    _hub_project(pytester, sha, key)
    lockfile = pytester.path / "aisupply.lock"
    assert _run(pytester, "--aisupply-update").ret == 0
    fingerprint = public_key_fingerprint(key.public)
    assert read_lock(lockfile).hub[("model", "org/signed", sha)].signer == f"key sha256:{fingerprint}"

    pyproject = pytester.path / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    signed_block = text[text.index("[[tool.aisupply.signed]]") :]
    pyproject.write_text(text.replace(signed_block, ""), encoding="utf-8")  # the team stops requiring it

    narrowed = _run(pytester, "--aisupply-update", "-k", "integrity")
    assert narrowed.ret == 0, narrowed.stdout.str()
    assert read_lock(lockfile).hub[("model", "org/signed", sha)].signer == f"key sha256:{fingerprint}"

    hub.set_fault("500")  # an update that cannot reach the Hub records nothing and loses nothing
    failed = _run(pytester, "--aisupply-update")
    assert failed.ret == 1
    assert read_lock(lockfile).hub[("model", "org/signed", sha)].signer == f"key sha256:{fingerprint}"

    hub.set_fault(None)
    complete = _run(pytester, "--aisupply-update")
    # a complete run, whatever its other verdicts (this repository's card declares no license)
    complete.stdout.fnmatch_lines([f"PASSED aisupply::integrity::model:org/signed@{sha}*"])
    complete.stdout.fnmatch_lines([f"*changed  model org/signed@{sha[:12]}*"])
    assert read_lock(lockfile).hub[("model", "org/signed", sha)].signer is None
    assert "signer" not in lockfile.read_text(encoding="utf-8")


@pytest.mark.usefixtures("hub_env")
def test_hub_update_of_a_big_signed_repository_transfers_under_one_mib(
    pytester: pytest.Pytester, hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What crosses the wire (headers included) when an update verifies a signed repository of
    256 MiB of weights (sparse files: no disk used): the signature, the small files and the Hub's
    metadata, and for the whole update the weights' ranged content reads too; never the weights.
    benchmarks/bench_signature.py --hub measures the same with 2 GiB."""
    key = make_key(tmp_path / "publisher-keys")
    folder = signed_sparse_model(tmp_path / "publisher" / "big", key, shards=2, shard_bytes=128 << 20)
    sha = hub.add_repo("org/big", files=hub_files_of(folder))
    _hub_project(pytester, sha, key, repo="org/big")
    (pytester.path / "src" / "serve.py").write_text(
        "from huggingface_hub import hf_hub_download\n\n"
        f'hf_hub_download("org/big", "model-00001-of-00002.safetensors", revision="{sha}")\n',
        encoding="utf-8",
    )
    subject = f"aisupply::signature::model:org/big@{sha}"
    with WireCounter("127.0.0.1", int(hub.endpoint.rsplit(":", 1)[1])) as wire:
        monkeypatch.setenv("HF_ENDPOINT", wire.endpoint)
        signature_only = _run(pytester, "--aisupply-update", "-k", "signature")
        signature_only.stdout.fnmatch_lines([f"PASSED {subject}*"])
        signature_bytes = wire.received
        assert 0 < signature_bytes < 64 << 10, signature_bytes

        wire.reset()
        monkeypatch.setenv("HF_HOME", str(tmp_path / "fresh-hf-home"))  # nothing cached from the first run
        (pytester.path / "aisupply.lock").unlink()
        whole = _run(pytester, "--aisupply-update")
        whole.stdout.fnmatch_lines([f"PASSED {subject}*"])
        whole.stdout.fnmatch_lines([f"PASSED aisupply::integrity::model:org/big@{sha}*"])
        assert wire.received < 1 << 20, wire.received
    assert read_lock(pytester.path / "aisupply.lock").hub[("model", "org/big", sha)].signer is not None


def _publish_signed_with_certificate(
    hub: HubServer, tmp_path: Path, pki: CertificateSet, repo: str = "org/cert-signed"
) -> str:
    folder = make_model(tmp_path / "publisher" / "cert-signed")
    sign_with_certificate(folder, pki)
    files = [
        HubFile(path.relative_to(folder).as_posix(), path.read_bytes(), lfs=path.suffix == ".npy")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]
    return hub.add_repo(repo, files=files)


@pytest.mark.usefixtures("hub_env")
def test_hub_certificate_chain_change_fails_offline_until_an_update_records_it(
    pytester: pytest.Pytester, hub: HubServer, tmp_path: Path
) -> None:
    pki = make_certificates(tmp_path / "publisher-pki", "publisher")
    sha = _publish_signed_with_certificate(hub, tmp_path, pki)
    _hub_project(pytester, sha, make_key(tmp_path / "unused"), repo="org/cert-signed")
    chain = pytester.path / "keys" / "chain.pem"
    shutil.copy(pki.ca, chain)
    pyproject = pytester.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace(
            'public_key = "keys/publisher.pub"', 'certificate_chain = ["keys/chain.pem"]'
        ),
        encoding="utf-8",
    )
    assert _run(pytester, "--aisupply-update").ret == 0
    recorded = read_lock(pytester.path / "aisupply.lock").hub[("model", "org/cert-signed", sha)].signer
    assert recorded == (
        "certificate CN=publisher model signer,O=Acme (issuer CN=publisher root CA,O=Acme; "
        f"chain sha256:{chain_fingerprint([pki.ca])})"
    )
    subject = f"aisupply::signature::model:org/cert-signed@{sha}"
    _run(pytester, "-k", "signature").stdout.fnmatch_lines([f"PASSED {subject}*"])

    # the team's trusted chain changes (another CA added to the file): offline runs fail until reviewed
    other = make_certificates(tmp_path / "other-pki", "other")
    chain.write_bytes(pki.ca.read_bytes() + other.ca.read_bytes())
    changed = _run(pytester, "-k", "signature")
    assert changed.ret == 1
    new_chain = chain_fingerprint([chain])
    changed.stdout.fnmatch_lines(
        [
            f"*the signer changed: aisupply.lock records {recorded}, the configuration requires a certificate "
            f"issued under the configured chain (chain sha256:{new_chain})*"
        ]
    )
    _run(pytester, "--aisupply-update").stdout.fnmatch_lines([f"PASSED {subject}*"])
    assert read_lock(pytester.path / "aisupply.lock").hub[("model", "org/cert-signed", sha)].signer == (
        recorded.replace(chain_fingerprint([pki.ca]), new_chain)
    )
    _run(pytester, "-k", "signature").stdout.fnmatch_lines([f"PASSED {subject}*"])

    chain.write_bytes(other.ca.read_bytes())  # a chain the publisher's certificate is not issued under
    assert _run(pytester, "-k", "signature").ret == 1
    update = _run(pytester, "--aisupply-update", "-k", "signature")
    update.stdout.fnmatch_lines(["*the signing certificate is not trusted by the configured certificate chain*"])


@pytest.mark.usefixtures("hub_env")
def test_hub_sigstore_keyless_signature_and_a_trust_root_change(
    pytester: pytest.Pytester, hub: HubServer, tmp_path: Path
) -> None:
    """Keyless mode for a Hub repository: the public fixture pushed to the local Hub, verified at update
    offline against the trust configuration; another trust configuration fails offline until an
    update records it."""
    files = [HubFile(p.name, p.read_bytes(), lfs=False) for p in sorted(SIGSTORE_FIXTURE.iterdir())]
    sha = hub.add_repo("org/keyless", files=files)
    _hub_project(pytester, sha, make_key(tmp_path / "unused"), repo="org/keyless")
    trust = sigstore_trust_config(pytester.path / "keys" / "sigstore-trust.json")
    pyproject = pytester.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace(
            'public_key = "keys/publisher.pub"',
            f'identity = "{SIGSTORE_IDENTITY}"\nissuer = "{SIGSTORE_ISSUER}"\n'
            'trust_config = "keys/sigstore-trust.json"',
        ),
        encoding="utf-8",
    )
    subject = f"aisupply::signature::model:org/keyless@{sha}"
    _run(pytester, "--aisupply-update").stdout.fnmatch_lines([f"PASSED {subject}*"])
    recorded = read_lock(pytester.path / "aisupply.lock").hub[("model", "org/keyless", sha)].signer
    digest = hashlib.sha256(trust.read_bytes()).hexdigest()
    assert recorded == f"sigstore {SIGSTORE_IDENTITY} ({SIGSTORE_ISSUER}; trust sha256:{digest})"
    _run(pytester, "-k", "signature").stdout.fnmatch_lines([f"PASSED {subject}*"])

    trust.write_text(json.dumps(json.loads(trust.read_text(encoding="utf-8")), indent=1), encoding="utf-8")
    changed = _run(pytester, "-k", "signature")
    assert changed.ret == 1
    changed.stdout.fnmatch_lines([f"*the signer changed: aisupply.lock records {recorded}*"])
    # an update of the signature checks alone records the new signer on the reviewed entry
    narrowed = _run(pytester, "--aisupply-update", "-k", "signature")
    narrowed.stdout.fnmatch_lines([f"*changed  model org/keyless@{sha[:12]}*", f"PASSED {subject}*"])
    new_digest = hashlib.sha256(trust.read_bytes()).hexdigest()
    assert read_lock(pytester.path / "aisupply.lock").hub[("model", "org/keyless", sha)].signer == (
        recorded.replace(digest, new_digest)
    )
    _run(pytester, "-k", "signature").stdout.fnmatch_lines([f"PASSED {subject}*"])


def _hub_mutations(hub: HubServer, base: str) -> dict[str, str]:
    """Commits on top of a signed one, each changing the repository one way."""

    def commit(files: list[HubFile], removed: tuple[str, ...] = ()) -> str:
        sha = hub.add_commit(
            "org/signed", files, branch=f"b{len(removed)}-{len(files)}-{files[0].path if files else ''}"
        )
        for path in removed:
            hub.set_file("org/signed", sha, path, None)
        return sha

    weights = hub.files("org/signed", base)["bias.npy"].content
    return {
        "unchanged": base,
        "tampered-lfs": commit([HubFile("weights.npy", b"\x93NUMPY tampered weights", lfs=True)]),
        "tampered-small": commit([HubFile("config.json", b'{"hidden": 9, "layers": 1}', lfs=False)]),
        "added": commit([HubFile("extra.bin", b"\x00" * 64, lfs=True)]),
        "removed": commit([], removed=("bias.npy",)),
        "renamed": commit([HubFile("bias_renamed.npy", weights, lfs=True)], removed=("bias.npy",)),
    }


@pytest.mark.usefixtures("hub_env")
@pytest.mark.parametrize("mode", ["key", "certificate"])
def test_hub_verdict_equals_model_signing_verify_of_the_download(hub: HubServer, tmp_path: Path, mode: str) -> None:
    from huggingface_hub import snapshot_download

    from pytest_aisupply.lockfile.lock import Lock

    key = make_key(tmp_path / "publisher-keys")
    pki = make_certificates(tmp_path / "publisher-pki")
    if mode == "key":
        base, _ = _publish_signed(hub, tmp_path, key)
        material, entry = key.public, 'public_key = "keys/signer.pem"'
    else:
        base = _publish_signed_with_certificate(hub, tmp_path, pki, repo="org/signed")
        material, entry = pki.ca, 'certificate_chain = ["keys/signer.pem"]'
    for name, sha in _hub_mutations(hub, base).items():
        root = tmp_path / name
        (root / "src").mkdir(parents=True)
        (root / "src" / "serve.py").write_text(
            f'from huggingface_hub import hf_hub_download\n\nhf_hub_download("org/signed", "w", revision="{sha}")\n',
            encoding="utf-8",
        )
        write_project(
            root,
            f'[[tool.aisupply.signed]]\nhub = "org/signed"\n{entry}\n',
            extra='code = ["src"]\nartifacts = ["src"]\n',
        )
        (root / "keys").mkdir()
        shutil.copy(material, root / "keys" / "signer.pem")
        settings = load_settings(root / "pyproject.toml", root)
        engine = Engine(settings, [SignatureRule()], builtin_readers(), lock=Lock(exists=False), update=True)
        ((rule, (subject,)),) = engine.subjects()
        ours = engine.evaluate(rule.id, subject).findings

        # endpoint= explicitly: huggingface_hub freezes HF_ENDPOINT when first imported in this process
        download = Path(
            snapshot_download(
                "org/signed", revision=sha, local_dir=tmp_path / f"download-{name}", endpoint=hub.endpoint
            )
        )
        shutil.rmtree(download / ".cache")  # huggingface_hub's bookkeeping, not a file of the repository
        library = library_verify_key(download, key) if mode == "key" else library_verify_certificate(download, pki)
        assert (ours == []) == library, f"{name}: ours {[f.message for f in ours]}, model_signing verify: {library}"
        assert (ours == []) == (name == "unchanged"), name


def _hub_update_findings(hub: HubServer, root: Path, sha: str, repo: str, signed: str) -> list[str]:
    """The signature rule's findings at --aisupply-update for ``repo@sha`` (in process)."""
    from pytest_aisupply.lockfile.lock import Lock

    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "serve.py").write_text(
        f'from huggingface_hub import hf_hub_download\n\nhf_hub_download("{repo}", "w", revision="{sha}")\n',
        encoding="utf-8",
    )
    write_project(root, signed, extra='code = ["src"]\nartifacts = ["src"]\n')
    settings = load_settings(root / "pyproject.toml", root)
    engine = Engine(settings, [SignatureRule()], builtin_readers(), lock=Lock(exists=False), update=True)
    ((rule, (subject,)),) = engine.subjects()
    return [f.message for f in engine.evaluate(rule.id, subject).findings]


def _escaping_signature(folder: Path, key: KeyPair) -> bytes:
    """A signature, by the right key, whose manifest names a path outside the repository."""
    import pathlib

    from model_signing import manifest
    from model_signing._hashing import hashing
    from model_signing._signing import sign_ec_key
    from model_signing._signing import signing as signing_internals

    items = [
        manifest.FileManifestItem(path=pathlib.PurePosixPath(name), digest=hashing.Digest("sha256", bytes(32)))
        for name in ("../outside.json", "config.json")
    ]
    crafted = manifest.Manifest("signed", items, manifest._FileSerialization("sha256", False, ["model.sig"]))
    target = folder.parent / "escaping.sig"
    sign_ec_key.Signer(key.private).sign(signing_internals.Payload(crafted)).write(target)
    return target.read_bytes()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("empty", "the signature model.sig is empty"),
        ("truncated", "model.sig is not a model signature (a Sigstore bundle in JSON): "),
        ("not-json", "model.sig is not a model signature (a Sigstore bundle in JSON): "),
        ("other-key", "not signed by the configured public key p.pub"),
        ("path-outside", "the signature names '../outside.json', a path outside the repository"),
        ("other-folder", "signed file extra.json is not in the commit"),
        ("expired-certificate", "the signing certificate expired on "),
        ("untrusted-certificate", "the signing certificate is not trusted by the configured certificate chain: "),
    ],
)
@pytest.mark.usefixtures("hub_env")
def test_hub_bad_signatures_are_findings_at_update(hub: HubServer, tmp_path: Path, case: str, expected: str) -> None:
    """The issue's bad inputs, for a Hub commit: each a finding saying what differs, none an error."""
    key = make_key(tmp_path / "publisher-keys")
    _, folder = _publish_signed(hub, tmp_path, key)
    signature = (folder / "model.sig").read_bytes()
    root = tmp_path / "project"
    (root / "keys").mkdir(parents=True)
    shutil.copy(key.public, root / "keys" / "p.pub")
    signed = '[[tool.aisupply.signed]]\nhub = "org/signed"\npublic_key = "keys/p.pub"\n'
    if case in ("expired-certificate", "untrusted-certificate"):
        if case == "expired-certificate":
            pki = make_certificates(tmp_path / "pki", leaf_not_before=NOW - 30 * DAY, leaf_not_after=NOW - DAY)
            trusted = pki
        else:
            pki, trusted = make_certificates(tmp_path / "pki", "rogue"), make_certificates(tmp_path / "pki", "corp")
        signature = sign_with_certificate(folder, pki).read_bytes()
        shutil.copy(trusted.ca, root / "keys" / "ca.pem")
        signed = '[[tool.aisupply.signed]]\nhub = "org/signed"\ncertificate_chain = ["keys/ca.pem"]\n'
    elif case == "other-folder":
        other = make_model(tmp_path / "other" / "gpt")
        (other / "extra.json").write_text("{}", encoding="utf-8")
        signature = sign_with_key(other, key).read_bytes()
    else:
        signature = {
            "empty": lambda: b"",
            "truncated": lambda: signature[: len(signature) // 2],
            "not-json": lambda: b"not json at all",
            "other-key": lambda: sign_with_key(folder, make_key(tmp_path / "intruder")).read_bytes(),
            "path-outside": lambda: _escaping_signature(folder, key),
        }[case]()
    sha = hub.add_commit("org/signed", [HubFile("model.sig", signature, lfs=False)], branch=case)
    messages = _hub_update_findings(hub, root, sha, "org/signed", signed)
    assert any(message.startswith(expected) for message in messages), messages


def test_hub_entry_without_a_pinned_commit_fails(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "keys").mkdir(parents=True)
    write_project(root, '[[tool.aisupply.signed]]\nhub = "org/signed"\npublic_key = "keys/p.pub"\n')
    (message,) = check(root)["model:org/signed"]
    assert "no commit of org/signed is pinned in code" in message


# -- reports --------------------------------------------------------------------------------------------


def test_bom_names_the_signer_and_sarif_points_at_the_differing_file(pytester: pytest.Pytester) -> None:
    pytest.importorskip("cyclonedx", reason="the bom extra (cyclonedx-python-lib) is not installed")
    root = pytester.path
    folder = make_model(root / "models" / "bert")
    key = make_key(root / "keys")
    sign_with_key(folder, key)
    write_project(root, key_entry(key, root))
    fingerprint = public_key_fingerprint(key.public)
    result = pytester.runpytest("-p", "no:cacheprovider", "--aisupply-bom", "bom.json")
    assert result.ret == 0, result.stdout.str()
    bom = json.loads((pytester.path / "bom.json").read_text(encoding="utf-8"))
    weights = next(c for c in bom["components"] if c["name"] == "models/bert/weights.npy")
    assert {"name": "aisupply:signer", "value": f"key sha256:{fingerprint}"} in weights["properties"]

    tamper(folder)
    result = pytester.runpytest("-p", "no:cacheprovider", "--aisupply-sarif", "out.sarif", "--aisupply-bom", "bom.json")
    assert result.ret == 1
    sarif = json.loads((pytester.path / "out.sarif").read_text(encoding="utf-8"))
    (finding,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "signature"]
    assert finding["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/bert/weights.npy"
    assert finding["message"]["text"].startswith("weights.npy differs from the signed file")
    bom = json.loads((pytester.path / "bom.json").read_text(encoding="utf-8"))
    weights = next(c for c in bom["components"] if c["name"] == "models/bert/weights.npy")
    assert all(p["name"] != "aisupply:signer" for p in weights["properties"])
