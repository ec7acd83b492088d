"""The facts codec on the readers' facts of real files of every format: the facts cache's encoder
writes the lockfile codec's text (bytes kept), and the parser-driven decoder gives what the
value-walking one gives, never accepting what that one refuses."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest

from helpers.artifacts import (
    global_reference_pickle,
    gzip_bytes,
    tar_bytes,
    torch_like_zip_bytes,
    write_joblib,
    write_npy,
    write_npz,
    write_safetensors,
    write_zip,
)
from helpers.formats_extra import (
    keras_dense,
    keras_lambda,
    keras_sequential,
    write_gguf,
    write_keras,
    write_saved_model,
)
from pytest_aisupply.formats import ArtifactFacts, Limits, analyze_path, builtin_readers
from pytest_aisupply.formats.facts_json import (
    FactsError,
    decode_facts,
    decode_facts_value,
    encode_cached_facts,
    encode_facts,
    encode_facts_value,
)


def _corpus(folder: Path) -> list[Path]:
    """One file of each format the readers know, benign and malicious."""
    folder.mkdir(parents=True, exist_ok=True)
    evil = global_reference_pickle(os.system)
    (folder / "evil.pkl").write_bytes(evil)
    (folder / "plain.pkl").write_bytes(pickle.dumps({"labels": list(range(20)), "name": "x"}, protocol=2))
    (folder / "model.pt").write_bytes(torch_like_zip_bytes(evil))
    write_npy(folder / "weights.npy")
    write_npy(folder / "objects.npy", objects=True)
    write_npz(folder / "arrays.npz", objects=True)
    write_safetensors(folder / "model.safetensors")
    write_joblib(folder / "model.joblib", {"w": [1, 2]})
    write_zip(folder / "bundle.zip", {"inner/evil.pkl": evil, "readme.txt": b"hello"})
    (folder / "bundle.tar").write_bytes(tar_bytes({"a/evil.pkl": evil}))
    (folder / "evil.pkl.gz").write_bytes(gzip_bytes(evil))
    write_keras(folder / "model.keras", keras_sequential("m", [keras_dense("d"), keras_lambda("l")]))
    write_gguf(folder / "model.gguf")
    write_saved_model(folder / "saved", [("x", "Placeholder"), ("r", "ReadFile")])
    with zipfile.ZipFile(folder / "broken.pt", "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x04not a pickle")
    (folder / "empty.bin").write_bytes(b"")
    return sorted(path for path in folder.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def facts_of_every_format(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, ArtifactFacts]]:
    folder = tmp_path_factory.mktemp("corpus")
    readers, limits = builtin_readers(), Limits()
    read = [(path.name, analyze_path(path, readers, limits)) for path in _corpus(folder)]
    # the corpus reaches what makes the codec work: records nested in records, tuples inside
    # lists (details), bytes kept for explanations
    texts = "".join(encode_cached_facts(facts) for _, facts in read)
    assert all(marker in texts for marker in ('"__tuple__"', '"__bytes__"', "PickleStream", "SafetensorsHeader"))
    return read


def test_cache_text_is_the_lockfile_codecs_with_bytes(facts_of_every_format: list[tuple[str, ArtifactFacts]]) -> None:
    for name, facts in facts_of_every_format:
        expected = json.dumps(encode_facts_value(facts, keep_bytes=True), separators=(",", ":"))
        assert encode_cached_facts(facts) == expected, name


def test_both_decoders_give_back_the_facts(facts_of_every_format: list[tuple[str, ArtifactFacts]]) -> None:
    for name, facts in facts_of_every_format:
        for text in (encode_cached_facts(facts), encode_facts(facts, keep_bytes=True)):
            assert decode_facts(text) == facts, name
            assert decode_facts_value(json.loads(text)) == facts, name
        lockfile = encode_facts(facts)  # bytes dropped: both decoders agree on what is left
        assert decode_facts(lockfile) == decode_facts_value(json.loads(lockfile)), name


_FACTS = "pytest_aisupply.formats.core:ArtifactFacts"
_BASE = f'"__type__":"{_FACTS}","format":"pickle","artifact":true,"size":1,"pickles":[],"problems":[]'


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"__type__":"os:system"}', id="foreign-type"),
        pytest.param('{"__type__":"builtins:dict"}', id="builtin-type"),
        pytest.param('{"__type__":"pytest_aisupply.formats.core:ArtifactFacts.__class__"}', id="dotted-qualname"),
        pytest.param('{"__type__":"pytest_aisupply.formats.nowhere:X"}', id="missing-module"),
        pytest.param(f'{{"__type__":"{_FACTS}","format":"x"}}', id="missing-fields"),
        pytest.param("{" + _BASE + ',"details":{},"bytes_read":1,"extra":1}', id="unknown-field"),
        pytest.param("{" + _BASE + ',"details":{"k":[{"__tuple__":[1,2]}]},"bytes_read":1}', id="tuple"),
        pytest.param("{" + _BASE + ',"details":{"k":{"__bytes__":"AAE="}},"bytes_read":1}', id="bytes"),
        pytest.param("{" + _BASE + ',"details":{"k":{"__bytes__":"!!"}},"bytes_read":1}', id="bad-base64"),
        pytest.param("{" + _BASE + ',"details":{"k":{"__tuple__":5}},"bytes_read":1}', id="bad-tuple"),
        pytest.param(
            "{" + _BASE + ',"details":{},"bytes_read":1,"extra":{"__type__":"os:system"}}', id="foreign-extra"
        ),
        pytest.param('{"__tuple__":[1]}', id="not-facts"),
        pytest.param("[1, 2]", id="list"),
        pytest.param("[" * 100_000 + "]" * 100_000, id="deep"),
        pytest.param("{not json", id="corrupt"),
    ],
)
def test_edited_text_never_decodes_where_the_value_decoder_refuses(text: str) -> None:
    try:
        expected: ArtifactFacts | None = decode_facts_value(json.loads(text))
    except (FactsError, ValueError, RecursionError):
        expected = None
    try:
        got: ArtifactFacts | None = decode_facts(text)
    except FactsError:
        got = None
    if expected is None:
        assert got is None
    else:
        # the parser-driven decoder may refuse more (it decodes fields a record ignores), never less
        assert got is None or got == expected


def test_cache_encoder_refuses_what_is_not_a_readers_record() -> None:
    @dataclasses.dataclass
    class Foreign:
        value: int

    for details in ({"k": [object()]}, {"k": bytearray(b"x")}, {"k": Foreign(1)}):
        with pytest.raises(TypeError):
            encode_cached_facts(ArtifactFacts("pickle", True, 1, details=details))  # type: ignore[arg-type]
