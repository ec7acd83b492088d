"""``pickle = "scan"`` end to end: a malicious corpus built from scratch (tests/helpers/malicious.py)
fails in every mode and never runs, real benign torch/numpy/joblib/scikit-learn files pass with
the default allowlist, the walker's view of calls, attribute chains, nested pickles and memory,
zip anomalies, fickling's explanations, and the same verdicts under pytest-xdist."""

from __future__ import annotations

import collections
import io
import os
import pickle
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# Heavy libraries are imported when this module is collected: pytester restores sys.modules
# after every test, and importing torch a second time in one process crashes it.
try:
    import torch as _torch
except ImportError:  # pragma: no cover - CI installs torch
    _torch = None  # type: ignore[assignment]
import joblib

from helpers.malicious import (
    ENV_MARKER,
    OS_MODULE,
    Reduce,
    Sample,
    binbytes,
    call,
    corpus,
    global_,
    liveness_script,
    proto,
    text,
    zip_anomalies,
    zip_with,
)
from pytest_aisupply.formats import analyze_path, builtin_readers
from pytest_aisupply.formats.bytestream import ByteReader
from pytest_aisupply.formats.pickle import NESTED_BYTES_CAP, read_pickle
from pytest_aisupply.rules import builtin_rules
from pytest_aisupply.rules.no_pickle import explain
from pytest_aisupply.settings.config import Settings
from pytest_aisupply.verdicts.engine import Engine, Verdict
from pytest_aisupply.verdicts.render import render_verdict

READERS = builtin_readers()
#: Broad patterns a careless project might write: the corpus must fail under them too.
BROAD = (
    "sklearn.*",
    "torch.*",
    "numpy.*",
    "builtins.*",
    "os.*",
    "posix.*",
    "operator.*",
    "pickle.*",
    "code.*",
    "collections.*",
    "asyncio.*",
    "webbrowser.*",
    "socket.*",
    "urllib.*",
    "types.*",
    "marshal.*",
    "functools.*",
)
MODES: dict[str, tuple[str, tuple[str, ...]]] = {
    "forbid": ("forbid", ()),
    "scan": ("scan", ()),
    "scan-broad": ("scan", BROAD),
}
SAMPLE_NAMES = [sample.name for sample in corpus(Path("/m"), with_large=True)]
ANOMALIES = list(zip_anomalies(b"x", b"y"))


def need_torch() -> Any:
    if _torch is None:
        pytest.skip("real PyTorch checkpoints need torch (installed by .ci/run)")
    return _torch


def engine(root: Path, mode: str = "scan", allowed: tuple[str, ...] = ()) -> Engine:
    settings = Settings(root=root, pickle=mode, pickle_allowed_globals=allowed)  # type: ignore[arg-type]
    return Engine(settings, builtin_rules(), READERS)


def verdicts(engine_: Engine) -> dict[str, Verdict]:
    [(rule, subjects)] = [(rule, subjects) for rule, subjects in engine_.subjects() if rule.id == "no-pickle"]
    return {subject.id: engine_.evaluate(rule.id, subject) for subject in subjects}


# --------------------------------------------------------------------------------------------
# The malicious corpus
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Sample]]:
    """Every sample as a raw file and inside a zip as ``config.json``; the zip anomalies."""
    root = tmp_path_factory.mktemp("corpus")
    marker = root.parent / f"{root.name}-MARKER"
    samples = {sample.name: sample for sample in corpus(marker)}
    for name, sample in samples.items():
        (root / f"{name}.bin").write_bytes(sample.data)
        if len(sample.data) < 1 << 20:
            (root / f"{name}.zip").write_bytes(zip_with({"README.md": b"# model\n", "config.json": sample.data}))
    payload = pickle.dumps(Reduce(exec, f"open({str(marker)!r}, 'w').close()"), protocol=2)
    benign = pickle.dumps(collections.OrderedDict(w=[1.0, 2.0]), protocol=2)
    for name, (data, _) in zip_anomalies(payload, benign).items():
        (root / f"anomaly-{name}.zip").write_bytes(data)
    for name, (data, _) in zip_anomalies(benign, benign).items():
        (root / f"anomaly-benign-{name}.zip").write_bytes(data)
    return root, marker, samples


@pytest.fixture(scope="module")
def corpus_verdicts(corpus_dir: tuple[Path, Path, dict[str, Sample]]) -> dict[str, dict[str, Verdict]]:
    root, _, _ = corpus_dir
    return {mode: verdicts(engine(root, *settings)) for mode, settings in MODES.items()}


@pytest.fixture(autouse=True)
def _no_env_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_MARKER, raising=False)


def assert_nothing_ran(marker: Path) -> None:
    assert not marker.exists(), "a payload was executed"
    assert ENV_MARKER not in os.environ, "a payload set the environment"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_malicious_sample_fails_and_never_runs(
    corpus_dir: tuple[Path, Path, dict[str, Sample]],
    corpus_verdicts: dict[str, dict[str, Verdict]],
    name: str,
    mode: str,
) -> None:
    _, marker, samples = corpus_dir
    for subject in (f"{name}.bin", f"{name}.zip"):
        verdict = corpus_verdicts[mode].get(subject)
        if verdict is None:
            assert subject.endswith(".zip")
            assert len(samples[name].data) >= 1 << 20
            continue
        report = render_verdict(verdict)
        assert verdict.status == "failed", report
        assert "internal error" not in report
        if mode != "forbid":
            for expected in samples[name].expect:
                assert expected in report, report
        if subject.endswith(".zip"):
            assert "config.json inside the zip" in report
    assert_nothing_ran(marker)


@pytest.mark.parametrize("benign_content", [False, True], ids=["with-payload", "benign-content"])
@pytest.mark.parametrize("name", ANOMALIES)
def test_zip_anomalies_fail_with_their_reason(
    corpus_dir: tuple[Path, Path, dict[str, Sample]],
    corpus_verdicts: dict[str, dict[str, Verdict]],
    name: str,
    benign_content: bool,
) -> None:
    """Each anomaly is a finding of its own, even when every member is harmless."""
    _, marker, _ = corpus_dir
    subject = f"anomaly-{'benign-' if benign_content else ''}{name}.zip"
    expected = zip_anomalies(b"x", b"y")[name][1]
    for mode in MODES:
        verdict = corpus_verdicts[mode][subject]
        report = render_verdict(verdict)
        assert verdict.status == "failed", report
        assert expected in report, report
        assert "internal error" not in report
    assert_nothing_ran(marker)


def test_the_live_payloads_really_run(tmp_path: Path) -> None:
    """Control: the samples marked live create their marker when really unpickled (each in its own
    subprocess), so the corpus tests above, which assert no marker, can fail."""
    dead = []
    for sample in corpus(tmp_path / "unused", with_large=False):
        if not sample.live:
            continue
        marker = tmp_path / f"marker-{sample.name}"
        [live] = [item for item in corpus(marker, with_large=False) if item.name == sample.name]
        path = tmp_path / f"{sample.name}.pkl"
        path.write_bytes(live.data)
        env = {key: value for key, value in os.environ.items() if key != ENV_MARKER}
        subprocess.run(
            [sys.executable, "-c", liveness_script(path, marker)],
            capture_output=True,
            timeout=60,
            cwd=tmp_path,
            env=env,
        )
        deadline = time.monotonic() + 5  # spawnv_passfds does not wait for its child
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not marker.exists():
            dead.append(sample.name)
    assert dead == []


# --------------------------------------------------------------------------------------------
# Benign files
# --------------------------------------------------------------------------------------------

TORCH_ARCHITECTURES = ["linear", "conv-bn", "lstm", "gru", "embedding", "transformer"]
NUMERIC_DTYPES = ["f2", "f4", "f8", "g", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "c8", "c16", "G", "?"]


def torch_module(name: str) -> Any:
    torch = need_torch()
    nn = torch.nn
    return {
        "linear": lambda: nn.Linear(4, 2),
        "conv-bn": lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Dropout()),
        "lstm": lambda: nn.LSTM(3, 4, num_layers=2),
        "gru": lambda: nn.GRU(2, 3),
        "embedding": lambda: nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4), nn.GELU()),
        "transformer": lambda: nn.TransformerEncoder(
            nn.TransformerEncoderLayer(8, 2, 16), 1, enable_nested_tensor=False
        ),
    }[name]()


@pytest.fixture(scope="module")
def benign_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = need_torch()
    root = tmp_path_factory.mktemp("benign")
    for name in TORCH_ARCHITECTURES:
        module = torch_module(name)
        torch.save(module.state_dict(), root / f"{name}-state-dict.pt")
        torch.save(module, root / f"{name}-whole.pt")
        torch.save(module.state_dict(), root / f"{name}-legacy.pt", _use_new_zipfile_serialization=False)
    for protocol in range(2, 6):
        arrays = {dtype: np.arange(4).astype(dtype) for dtype in NUMERIC_DTYPES}
        arrays["scalars"] = [np.float32(1.5), np.int64(3), np.complex64(1j), np.bool_(True)]
        arrays["dtype"] = np.dtype("<f4")
        arrays["matrix"] = np.ones((3, 2), order="F")
        (root / f"numpy-p{protocol}.pkl").write_bytes(pickle.dumps(arrays, protocol=protocol))
        (root / f"ordered-dict-p{protocol}.pkl").write_bytes(
            pickle.dumps(collections.OrderedDict(a=1, b=[2.0, "x"], c=(None, True)), protocol=protocol)
        )
    for compress in (None, "zlib", "gzip", "bz2", "xz", "lzma"):
        joblib.dump(
            {"coef": np.arange(12.0).reshape(3, 4), "ids": np.arange(5, dtype="i8"), "flags": np.zeros(3, "?")},
            root / f"arrays-{compress or 'plain'}.joblib",
            compress=(compress, 3) if compress else 0,
        )
    return root


def test_real_benign_files_pass_with_the_default_allowlist(benign_dir: Path) -> None:
    results = verdicts(engine(benign_dir))
    expected = 3 * len(TORCH_ARCHITECTURES) + 2 * 4 + 6
    assert len(results) == expected
    failed = {name: render_verdict(verdict) for name, verdict in results.items() if verdict.status != "passed"}
    assert failed == {}
    forbid = verdicts(engine(benign_dir, "forbid"))
    assert {verdict.status for verdict in forbid.values()} == {"failed"}


def test_scikit_learn_model_fails_until_sklearn_is_allowed(tmp_path: Path) -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    ensemble = pytest.importorskip("sklearn.ensemble")
    features, labels = np.arange(40.0).reshape(20, 2), [0, 1] * 10
    joblib.dump(linear_model.LogisticRegression().fit(features, labels), tmp_path / "logistic.joblib", compress=3)
    joblib.dump(ensemble.RandomForestClassifier(n_estimators=3).fit(features, labels), tmp_path / "forest.joblib")
    (tmp_path / "logistic.pkl").write_bytes(pickle.dumps(linear_model.LogisticRegression().fit(features, labels)))

    before = verdicts(engine(tmp_path))
    after = verdicts(engine(tmp_path, allowed=("sklearn.*",)))

    assert {name: verdict.status for name, verdict in before.items()} == dict.fromkeys(before, "failed")
    assert "sklearn.linear_model._logistic.LogisticRegression" in render_verdict(before["logistic.pkl"])
    assert {name: verdict.status for name, verdict in after.items()} == dict.fromkeys(before, "passed")


def test_plain_pickled_tensors_pass_by_default_and_their_bytes_are_read(tmp_path: Path) -> None:
    """pickle.dumps of a tensor stores each storage as torch.save bytes handed to
    torch.storage._load_from_bytes: allowed by default because the nested checkpoint is read and
    checked like any other (a pattern still never allows it)."""
    torch = need_torch()
    marker = tmp_path / "MARKER"
    (tmp_path / "tensors.pkl").write_bytes(pickle.dumps({"w": torch.ones(3)}))
    evil = pickle.dumps(Reduce(exec, f"open({str(marker)!r}, 'w').close()"), protocol=2)
    (tmp_path / "evil.pkl").write_bytes(
        proto(2) + call(global_("torch.storage", "_load_from_bytes"), binbytes(evil)) + b"."
    )

    default = verdicts(engine(tmp_path))

    assert default["tensors.pkl"].status == "passed", render_verdict(default["tensors.pkl"])
    report = render_verdict(default["evil.pkl"])
    assert default["evil.pkl"].status == "failed"
    assert "where: bytes passed to torch.storage._load_from_bytes at offset 35" in report
    assert "__builtin__.exec (GLOBAL at offset 2; called by REDUCE" in report
    assert not marker.exists()


def test_standard_library_values_and_training_arguments_pass_by_default(tmp_path: Path) -> None:
    import argparse
    import datetime
    import decimal

    values = {
        "when": datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2024, 5, 1),
        "at": datetime.time(12, 30),
        "took": datetime.timedelta(seconds=90),
        "lr": decimal.Decimal("0.001"),
        "epochs": range(10),
        "args": argparse.Namespace(lr=0.1, epochs=3, name="run"),
    }
    for protocol in (0, 2, 4, 5):
        (tmp_path / f"values-{protocol}.pkl").write_bytes(pickle.dumps(values, protocol=protocol))
    results = verdicts(engine(tmp_path))
    assert {name: verdict.status for name, verdict in results.items()} == dict.fromkeys(results, "passed"), {
        name: render_verdict(verdict) for name, verdict in results.items() if verdict.status != "passed"
    }


def test_default_torch_nn_names_are_real_module_classes_and_only_those() -> None:
    """Every default torch.nn name resolves, in the installed torch, to an nn.Module subclass
    defined where it is named; what the old pattern let through (a module object reached as a
    class-like name: torch.nn.modules.activation.F is torch.nn.functional) is refused."""
    import importlib
    import inspect

    torch = need_torch()
    from pytest_aisupply.rules.pickle_policy import DEFAULT_POLICY
    from pytest_aisupply.rules.torch_nn_classes import TORCH_NN_CLASS_NAMES

    missing = []
    for dotted in sorted(TORCH_NN_CLASS_NAMES):
        module_name, _, name = dotted.rpartition(".")
        try:
            value = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError):
            missing.append(dotted)  # a class an older or newer torch may not have
            continue
        assert inspect.isclass(value), dotted
        assert issubclass(value, torch.nn.Module), dotted
        assert value.__module__ == module_name, dotted
    assert len(missing) < len(TORCH_NN_CLASS_NAMES) // 10, missing
    activation = importlib.import_module("torch.nn.modules.activation")
    assert inspect.ismodule(activation.F)
    assert not DEFAULT_POLICY.allows("torch.nn.modules.activation.F")
    assert not DEFAULT_POLICY.allows("torch.nn.modules.activation.F.relu")
    assert DEFAULT_POLICY.allows("torch.nn.modules.linear.Linear")


# --------------------------------------------------------------------------------------------
# The walker: calls, attribute chains, nested bytes, memory
# --------------------------------------------------------------------------------------------


def walk(data: bytes) -> Any:
    return read_pickle(ByteReader(io.BytesIO(data), size=len(data)))


def test_uses_name_how_each_global_is_called() -> None:
    head = proto(2) + global_(OS_MODULE, "system") + b"(" + text("touch /nonexistent/x") + b"t"
    stream = walk(head + b"R.")

    assert stream.complete
    [use] = stream.uses
    assert (use.dotted, use.action, use.opcode, use.offset) == (f"{OS_MODULE}.system", "called", "REDUCE", len(head))
    inst = walk(b"(S'x'\n" + b"i" + OS_MODULE.encode() + b"\nsystem\n.")
    assert [(u.opcode, u.action) for u in inst.uses] == [("INST", "called")]


def test_getattr_on_the_builtins_module_is_named_as_the_builtin() -> None:
    data = proto(2) + call(
        call(global_("builtins", "getattr"), global_("__main__", "__builtins__"), text("eval")), text("1")
    )
    stream = walk(data + b".")

    labels = [item.label for item in stream.imports]
    assert labels == ["builtins.getattr", "__main__.__builtins__", "builtins.eval via builtins.getattr"]
    assert [(use.dotted, use.action) for use in stream.uses] == [
        ("builtins.getattr", "called"),
        ("builtins.eval", "called"),
    ]
    assert stream.hazards == []


def test_a_negative_memo_index_is_a_reference_to_an_unset_slot() -> None:
    data = proto(2) + b"(lp0\ng-1\n0."  # a list stored at 0, then GET -1
    with pytest.raises(pickle.UnpicklingError, match="index -1"):
        pickle.loads(data)  # no global in it: the unpickler itself refuses the stream

    assert walk(data).error == "memo reference to unset slot -1 at offset 7"


def test_build_and_setitem_on_globals_are_hazards() -> None:
    data = proto(2) + global_("collections", "OrderedDict") + b"N}" + text("x") + text("y") + b"s\x86b."
    stream = walk(data)

    [hazard] = stream.hazards
    assert "BUILD at offset" in hazard.message
    assert "sets the state of the global collections.OrderedDict" in hazard.message


def test_bytes_handed_to_an_unpickler_are_kept_only_when_small() -> None:
    inner = pickle.dumps([1, 2], protocol=2)
    data = proto(4) + call(global_("pickle", "loads"), binbytes(inner)) + b"."

    [payload] = walk(data).nested
    assert (payload.via, payload.offset, payload.data) == ("pickle.loads", 17, inner)

    over_the_cap = inner + b"\x00" * (NESTED_BYTES_CAP + 1 - len(inner))
    stream = walk(proto(4) + call(global_("pickle", "loads"), binbytes(over_the_cap)) + b".")
    assert stream.nested == []
    [hazard] = stream.hazards
    assert "were not kept for analysis" in hazard.message


def test_large_payloads_are_skipped_not_kept(tmp_path: Path) -> None:
    """A 64 MiB BINBYTES8 blob is skipped by seeking: the walk's memory stays small."""
    path = tmp_path / "blob.pkl"
    with open(path, "wb") as handle:
        handle.write(proto(4) + b"\x8e" + (64 << 20).to_bytes(8, "little"))
        handle.seek(64 << 20, 1)
        handle.write(b"0" + call(global_("builtins", "exec"), text("pass")) + b".")

    tracemalloc.start()
    facts = analyze_path(path, READERS)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    [fact] = facts.pickles
    assert fact.stream.complete
    assert fact.stream.import_names() == ["builtins.exec"]
    assert fact.stream.raw is None
    assert facts.bytes_read < 1 << 20
    assert peak < 4 << 20


def test_small_streams_keep_a_copy_for_explanations() -> None:
    data = pickle.dumps({"a": 1}, protocol=4)
    stream = read_pickle(ByteReader(io.BytesIO(data + b"trailing"), size=len(data) + 8))

    assert stream.raw == data


# --------------------------------------------------------------------------------------------
# fickling explanations (optional: the `explain` extra)
# --------------------------------------------------------------------------------------------


def test_failure_shows_what_fickling_says_the_pickle_would_run(tmp_path: Path) -> None:
    pytest.importorskip("fickling.fickle", reason="fickling is the optional 'explain' extra")
    shell = "touch /nonexistent/x"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(Reduce(os.system, shell), protocol=4))

    [verdict] = verdicts(engine(tmp_path)).values()
    report = render_verdict(verdict)

    assert "what it would run (fickling's decompilation, for explanation only):" in report
    assert f"      | _var0 = system({shell!r})" in report


def test_fickling_is_never_asked_about_a_print_bomb() -> None:
    """DUP + TUPLE2 forty times makes a tree of 2**40 printed nodes: no explanation, at once."""
    pytest.importorskip("fickling.fickle", reason="fickling is the optional 'explain' extra")
    data = proto(2) + global_("builtins", "exec") + text("x") + b"2\x86" * 40 + b"\x85R."
    stream = walk(data)

    started = time.monotonic()
    assert explain(stream) == []
    assert time.monotonic() - started < 50  # hang guard (10x), not a speed bound


def test_explanation_failures_are_ignored() -> None:
    stream = walk(pickle.dumps(1, protocol=2))
    stream.raw = b"\x80\x02\xff garbage"
    assert explain(stream) == []


# --------------------------------------------------------------------------------------------
# A real pytest run, serial and under xdist
# --------------------------------------------------------------------------------------------


def test_same_verdicts_serial_and_under_xdist(pytester: pytest.Pytester) -> None:
    torch = need_torch()
    marker = pytester.path / "EXECUTED"
    models = pytester.path / "models"
    models.mkdir()
    chosen = {
        "reduce-exec-p2",
        "memo-indirect-operands",
        "getattr-builtins-module",
        "nested-pickle-loads",
        "timeit-timeit",
    }
    for sample in corpus(marker, with_large=False):
        if sample.name in chosen:
            (models / f"{sample.name}.bin").write_bytes(sample.data)
    torch.save(torch.nn.Linear(3, 2).state_dict(), models / "state_dict.pt")
    torch.save(torch_module("transformer"), models / "whole.pt")
    joblib.dump({"w": np.ones(4)}, models / "arrays.joblib", compress=3)
    (models / "numpy.pkl").write_bytes(pickle.dumps(np.arange(3.0), protocol=5))
    pytester.makepyprojecttoml(
        "[tool.aisupply]\npickle = 'scan'\npickle_allowed_globals = ['sklearn.*']\nlockfile = ''\n"
    )

    runs = {}
    for label, extra in (("serial", []), ("xdist", ["-n", "2"])):
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", "-k", "no-pickle", *extra)
        runs[label] = {
            line.split(" ", 2)[1]: line.split(" ", 1)[0]
            for line in result.outlines
            if line.startswith(("PASSED aisupply::no-pickle::", "FAILED aisupply::no-pickle::"))
        }
    assert runs["serial"] == runs["xdist"]
    assert len(runs["serial"]) == 4 + len(chosen)
    assert {node for node, outcome in runs["serial"].items() if outcome == "FAILED"} == {
        f"aisupply::no-pickle::models/{name}.bin" for name in chosen
    }
    assert not marker.exists()


# --------------------------------------------------------------------------------------------
# The fast path over plain opcodes reads exactly like the general loop
# --------------------------------------------------------------------------------------------


def _plain_shapes() -> dict[str, object]:
    """Objects whose pickles are long runs of constants, containers and memo opcodes, with
    repeats (memo references), frames and buffer boundaries (each pickle is over 64 KiB)."""
    shared = ("shared", 3)
    return {
        "strings": [f"token-{index:06d}-" + "x" * (index % 300) for index in range(3_000)],
        "vocab": {f"tok{index}": index * 7919 - 40_000 for index in range(12_000)},
        "rows": [(index, f"name{index}", index * 0.5, None, index % 2 == 0, shared) for index in range(4_000)],
        "nested": {
            f"k{index}": {"a": [index, (index, "b")], "c": {1, 2}, "d": b"\x00" * (index % 40)}
            for index in range(2_000)
        },
        "text": [part + str(index) for index in range(40) for part in ("é" * 200, "x" * 2_000, "\udcff" * 9, "\x00\n")],
        "arrays": {f"w{index}": np.arange(index % 50, dtype="f4") for index in range(800)},
    }


@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("shape", list(_plain_shapes()))
def test_the_plain_opcode_fast_path_reports_what_the_general_loop_does(shape: str, protocol: int) -> None:
    from helpers.walker import first_difference

    data = pickle.dumps(_plain_shapes()[shape], protocol=protocol)
    assert len(data) > 64 << 10
    assert first_difference(data, steps=(7,)) is None
    # and around a stream cut anywhere, and one that hits the opcode cap midway
    assert first_difference(data[: len(data) // 2 + 3], steps=(7,)) is None
    assert first_difference(data, steps=(), max_opcodes=1_234) is None


def test_the_fast_path_reports_what_the_general_loop_does_on_malicious_and_joblib_files(tmp_path: Path) -> None:
    from helpers.walker import first_difference

    files = [sample.data for sample in corpus(tmp_path / "MARKER", with_large=False)]
    joblib.dump({"coef": np.arange(3_000.0), "names": np.array(["a", None] * 500, dtype=object)}, tmp_path / "m.joblib")
    files.append((tmp_path / "m.joblib").read_bytes())
    for data in files:
        assert first_difference(data, steps=(1, 7)) is None
    assert not (tmp_path / "MARKER").exists()
