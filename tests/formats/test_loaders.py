"""What a loader would run is what gets checked: for each way a loader reads bytes that the file's
looks hide (tests/helpers/loader_attacks.py), the real loader runs the payload (in a subprocess,
it leaves a marker file) and the plugin fails the file (through pytester), without running it.
Benign files that merely look like pickles to a probe (text, media, real checkpoints) still pass."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

# Heavy libraries are imported when this module is collected: pytester restores sys.modules
# after every test, and importing numpy or torch a second time in one process fails.
for _module in ("numpy", "joblib", "torch"):
    if importlib.util.find_spec(_module) is not None:
        importlib.import_module(_module)

from helpers.loader_attacks import (  # noqa: E402
    ATTACKS,
    LOADER_MODULES,
    LoaderAttack,
    fan_out,
    launcher_script,
    payload0,
    torch_zip_two_directories,
)
from helpers.loader_variants import KINDS, variants  # noqa: E402
from helpers.loader_variants import write as write_variant  # noqa: E402
from pytest_aisupply.formats import analyze_path, builtin_readers  # noqa: E402
from pytest_aisupply.formats.bytestream import ByteReader  # noqa: E402
from pytest_aisupply.formats.loaders import LOADER_TABLE  # noqa: E402
from pytest_aisupply.formats.pickle import read_pickle  # noqa: E402
from pytest_aisupply.rules import builtin_rules  # noqa: E402
from pytest_aisupply.settings.config import Settings  # noqa: E402
from pytest_aisupply.verdicts.engine import Engine  # noqa: E402
from pytest_aisupply.verdicts.render import render_verdict  # noqa: E402

READERS = builtin_readers()
BY_NAME = {attack.name: attack for attack in ATTACKS}


def _loader_available(attack: LoaderAttack) -> bool:
    module = LOADER_MODULES.get(attack.loader)
    return module is None or importlib.util.find_spec(module) is not None


def _builder_available(attack: LoaderAttack) -> bool:
    needs = {
        "torch-zip-text-data-pkl": "torch",
        "torch-zip-two-directories": "torch",
        "joblib-dtype-by-name": "joblib",
        "joblib-array-as-opcodes": "joblib",
        "joblib-side-file": "joblib",
    }
    module = needs.get(attack.name)
    return module is None or importlib.util.find_spec(module) is not None


def write_attack(attack: LoaderAttack, directory: Path, marker: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / attack.filename
    path.write_bytes(attack.build(marker))
    return path


@pytest.mark.parametrize("name", list(BY_NAME))
def test_the_loader_really_runs_the_payload(tmp_path: Path, name: str) -> None:
    """Control: without it, 'the plugin fails the file' could be about a harmless file."""
    attack = BY_NAME[name]
    if not _loader_available(attack) or not _builder_available(attack):
        pytest.skip(f"{attack.loader} (or the library that builds the file) is not installed")
    marker = tmp_path / "MARKER"
    path = write_attack(attack, tmp_path / "files", marker)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    subprocess.run([sys.executable, "-c", launcher_script(path, attack.loader)], env=env, timeout=300, check=True)
    assert marker.exists(), f"{attack.loader} did not run the payload of {name}"


def test_the_plugin_fails_every_attack_without_running_it(pytester: pytest.Pytester) -> None:
    marker = pytester.path / "EXECUTED"
    built = []
    for attack in ATTACKS:
        if _builder_available(attack):
            write_attack(attack, pytester.path / "models" / attack.name, marker)
            built.append(attack)
    pytester.makepyprojecttoml("[tool.aisupply]\npickle = 'scan'\nlockfile = ''\nartifacts = ['models']\n")

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", "-k", "no-pickle")

    outcomes = {
        line.split(" ", 2)[1]: line.split(" ", 1)[0]
        for line in result.outlines
        if line.startswith(("PASSED aisupply::no-pickle::", "FAILED aisupply::no-pickle::"))
    }
    for attack in built:
        node = f"aisupply::no-pickle::models/{attack.name}/{attack.filename}"
        assert outcomes.get(node) == "FAILED", f"{attack.name}: {outcomes.get(node)}\n{result.stdout.str()[-3000:]}"
        if attack.expect:
            section = result.stdout.str().split(f"models/{attack.name}/{attack.filename}", 1)[1][:6000]
            assert attack.expect in section, section
    assert not marker.exists(), "a payload ran while the plugin read the files"


def _facts(attack: LoaderAttack, tmp_path: Path) -> tuple[str, str]:
    path = write_attack(attack, tmp_path, tmp_path / "MARKER")
    settings = Settings(root=tmp_path, pickle="scan")
    engine = Engine(settings, builtin_rules(), READERS)
    [(rule, subjects)] = [(rule, subjects) for rule, subjects in engine.subjects() if rule.id == "no-pickle"]
    [subject] = [subject for subject in subjects if subject.id == path.name]
    verdict = engine.evaluate(rule.id, subject)
    return verdict.status, render_verdict(verdict)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("gif-magic", "looks like gif, yet pickle loaders"),
        ("text-long-first-line", "looks like text, yet pickle loaders"),
        ("zip-behind-text", "a zip archive ends it"),
        ("legacy-torch-later-stream", "builtins.exec"),
        ("joblib-dtype-by-name", "builtins.exec"),
        ("joblib-array-as-opcodes", "as pickle.load, torch.load and pandas read it"),
    ],
)
def test_findings_say_which_reading_runs_code(tmp_path: Path, name: str, says: str) -> None:
    attack = BY_NAME[name]
    if not _builder_available(attack):
        pytest.skip("the library that builds the file is not installed")
    status, report = _facts(attack, tmp_path)
    assert status == "failed"
    assert says in report, report


def test_nested_fan_out_is_read_once(tmp_path: Path) -> None:
    """100,000 references to one stored pickle handed to pickle.loads: one nested reading."""
    path = tmp_path / "cache.pkl"
    path.write_bytes(fan_out(tmp_path / "MARKER"))
    facts = analyze_path(path, READERS)
    nested = [fact for fact in facts.pickles if "pickle.loads" in fact.where]
    assert len(nested) == 1
    assert nested[0].stream.import_names() == ["builtins.exec"]
    assert [payload.analysed for payload in facts.pickles[0].stream.nested] == [True]


def test_two_central_directories_are_a_finding(tmp_path: Path) -> None:
    if importlib.util.find_spec("torch") is None:
        pytest.skip("the checkpoints are written by torch")
    path = tmp_path / "model.pt"
    path.write_bytes(torch_zip_two_directories(tmp_path / "MARKER"))
    messages = [problem.message for problem in analyze_path(path, READERS).problems]
    assert any("torch.load reads the one at the given offset" in message for message in messages), messages


def _torch_records(data: bytes) -> dict[str, bytes] | None:
    """The records torch's own zip reader (miniz, as torch.load uses it) sees, read without
    unpickling anything; None when it refuses the archive (torch.load would fail too)."""
    import torch

    try:
        reader = torch._C.PyTorchFileReader(io.BytesIO(data))
        return {name: bytes(reader.get_record(name)) for name in reader.get_all_records()}
    except Exception:  # torch's reader rejects the archive
        return None


def _zipfile_records(data: bytes) -> dict[str, bytes] | None:
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {info.filename.partition("/")[2]: archive.read(info) for info in archive.infolist()}
    except Exception:  # zipfile rejects it, or a member cannot be read
        return None


def test_where_torch_and_zipfile_read_a_zip_differently_the_plugin_says_so(tmp_path: Path) -> None:
    """Differential for the zip container: torch's reader and zipfile (numpy, pandas, Keras) on
    the zip fuzz seeds, the zip anomalies and the two-directory checkpoint. Wherever torch reads
    records that zipfile does not read the same, the plugin reports a problem."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch's own zip reader is the other side of the comparison")
    from fuzz.targets import seeds_of
    from helpers.malicious import zip_anomalies

    benign = pickle.dumps({"w": [1.0]}, protocol=2)
    inputs = list(seeds_of("zip")) + [data for data, _ in zip_anomalies(benign, benign).values()]
    inputs.append(torch_zip_two_directories(tmp_path / "MARKER"))
    compared = disagreements = 0
    for index, data in enumerate(inputs):
        torch_view = _torch_records(data)
        if torch_view is None:
            continue
        compared += 1
        if torch_view == _zipfile_records(data):
            continue
        disagreements += 1
        path = tmp_path / f"input-{index}.pt"
        path.write_bytes(data)
        assert analyze_path(path, READERS).problems, f"input {index}: torch and zipfile disagree, no problem reported"
    assert compared >= 5
    assert disagreements >= 1  # the two-directory checkpoint at least


def test_bytes_after_the_end_record_are_a_finding(tmp_path: Path) -> None:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("weights.npy", b"\x93NUMPY")
    path = tmp_path / "weights.npz"
    path.write_bytes(buffer.getvalue() + b"PK\x05\x06" + bytes(30))
    messages = [problem.message for problem in analyze_path(path, READERS).problems]
    assert any("follow the zip's end record" in message for message in messages), messages


@pytest.mark.parametrize(
    ("line", "value"),
    [(b"I0x10\n", 16), (b"I 7\n", 7), (b"I1_000\n", 1000), (b"I012\n", 10), (b"I12\x00junk\n", 12), (b"I-0b11\n", -3)],
)
def test_int_lines_read_as_cpython_reads_them(line: bytes, value: int) -> None:
    data = line + b"."
    assert pickle.loads(data) == value  # the reference: CPython's _pickle
    stream = read_pickle(ByteReader(io.BytesIO(data), size=len(data)))
    assert stream.complete, stream.error


@pytest.mark.parametrize(
    "data",
    [
        b"cos\nsystemX",
        b"(S'echo'\nios\nsystemX",
        b"cos\n\n",
        b"cnu",
        b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00cos\nsystem\n.",
    ],
)
def test_the_walker_reports_what_pythons_own_unpickler_resolves(data: bytes) -> None:
    """Differential against pickle._Unpickler (joblib.load, pandas' fallback), which reads a last
    line without its newline and a frame longer than the data where C's unpickler stops."""
    resolved: list[tuple[str, str]] = []

    class Recording(pickle._Unpickler):  # type: ignore[name-defined,misc]
        def find_class(self, module: str, name: str) -> object:
            resolved.append((module, name))
            return lambda *args: None

    with contextlib.suppress(EOFError, pickle.UnpicklingError, AttributeError):  # where each stops
        Recording(io.BytesIO(data)).load()
    assert resolved
    stream = read_pickle(ByteReader(io.BytesIO(data), size=len(data)))
    assert set(resolved) <= {(item.module, item.name) for item in stream.imports}


def test_first_bytes_the_probe_stops_at_stop_cpythons_unpickler_too() -> None:
    """Differential for the probe's shortcut: for every byte it takes to stop all unpicklers at
    offset 0, the C unpickler fails there too, before any import, whatever follows."""
    from pytest_aisupply.formats.pickle import stops_at_once

    class Refusing(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> object:
            raise AssertionError(f"imported {module}.{name}")

    for first in range(256):
        if not stops_at_once(bytes([first])):
            continue
        data = bytes([first]) + b"cos\nsystem\n(S'x'\ntR."
        with pytest.raises(Exception) as raised:
            Refusing(io.BytesIO(data)).load()
        assert not isinstance(raised.value, AssertionError), (hex(first), raised.value)


def test_frames_the_unpickler_reads_by_its_buffering_are_a_finding(tmp_path: Path) -> None:
    """Found by the differential fuzz run: C's unpickler takes a FRAME as a read-ahead hint, and
    a GLOBAL line that runs past the frame's end is read in a way that depends on its buffering
    (here it imported builtins.s). The walker stops there, undecided, and the file fails."""
    data = b"\x80\x04\x95\x14\x00\x00\x00\x00\x00\x00\x00cbuiltins\nexebuiltins\nexec\n(V'x'\ntR."
    path = tmp_path / "framed.bin"
    path.write_bytes(data)
    [fact] = analyze_path(path, READERS).pickles
    assert fact.stream.undecided
    status, report = _facts_of(path, tmp_path)
    assert status == "failed"
    assert "could not be read to its end" in report or "straddles" in report, report


def _facts_of(path: Path, root: Path) -> tuple[str, str]:
    engine = Engine(Settings(root=root, pickle="scan"), builtin_rules(), READERS)
    [(rule, subjects)] = [(rule, subjects) for rule, subjects in engine.subjects() if rule.id == "no-pickle"]
    [subject] = [subject for subject in subjects if subject.id == path.name]
    verdict = engine.evaluate(rule.id, subject)
    return verdict.status, render_verdict(verdict)


def test_inst_without_a_mark_imports_nothing_as_in_cpython() -> None:
    """``import os`` at the top of a text file is INST without a MARK: C's load_inst fails before
    reading the module name, so such text is no pickle."""
    data = b"import os\nimport sys\n"
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(data)
    assert read_pickle(ByteReader(io.BytesIO(data), size=len(data))).imports == []


def test_benign_text_and_media_stay_unchecked(tmp_path: Path) -> None:
    samples = {
        "script.py": b"import os\nclass Model:\n    pass\n" * 200,
        "data.csv": b"col1,col2\n" + b"".join(b"%d,%d\n" % (row, row * 2) for row in range(500)),
        "README.md": b"# Model\n\nSome text.\n" * 300,
        "notes.txt": b"cython\nthing\n",  # GLOBAL of an importable-looking name, then the data ends
        "image.gif": b"GIF89a" + bytes(range(256)) * 20,
        "image.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20,
        "mentions-zip.txt": b"notes on the zip format\n" * 300 + b"end record: PK\x05\x06 and more\n",
        # Python's unpickler would import a module 'ertif' from it, and fetch nothing: no pickle.
        "top_level.txt": b"certifi",
    }
    for name, data in samples.items():
        (tmp_path / name).write_bytes(data)
    for name in samples:
        facts = analyze_path(tmp_path / name, READERS)
        if name == "notes.txt":
            # The unpickler would import 'ython' here: the probe calls it a pickle (fails closed).
            assert facts.pickles
            continue
        assert not facts.pickles, (name, facts.format)
        assert not facts.problems, (name, facts.problems)
        assert not facts.artifact, name


def _differential_corpus() -> list[bytes]:
    from fuzz.targets import TARGETS, seeds_of
    from helpers.malicious import corpus

    inputs = [sample.data for sample in corpus(Path("/nonexistent/marker"), with_large=False)]
    inputs += [attack.build(Path("/nonexistent/marker")) for attack in ATTACKS if _builder_available(attack)]
    for target in TARGETS:
        if target.run.__name__ in ("run_artifact", "run_sniff", "run_keras"):
            inputs += seeds_of(target.name)
    return inputs


def test_the_walker_reports_all_that_cpythons_unpickler_resolves_and_calls() -> None:
    """Differential: over the malicious corpus, these attacks and every fuzz seed (benign torch,
    numpy, joblib, zip, tar, compressed files ...), the C unpickler with recording stubs imports
    and calls nothing the walker does not report, reading each input from byte 0."""
    from helpers.recording_unpickler import record, uncovered

    inputs = _differential_corpus()
    divergences = [(index, message) for index, data in enumerate(inputs) if (message := uncovered(data))]
    resolved = sum(len(record(data).globals) for data in inputs)
    assert divergences == []
    assert len(inputs) > 300
    assert resolved > 100  # the oracle really resolved globals: the comparison had something to compare


def test_the_loader_table_covers_every_attack_loader() -> None:
    tabled = " ".join(reading.loader for reading in LOADER_TABLE)
    for attack in ATTACKS:
        assert attack.loader.split(".")[0] in tabled, attack.loader
    for reading in LOADER_TABLE:
        assert reading.mirrors
        assert reading.followed_by


def test_payload_builder_is_protocol_0_text() -> None:
    data = payload0(Path("/nonexistent/marker"))
    data.decode("ascii")
    assert data.startswith(b"cbuiltins\nexec\n")


# -- the real loaders' container handling, driven with recording stubs -----------------------------

ORACLE = Path(__file__).parent.parent / "helpers" / "loader_oracle.py"
#: Variants generated per container kind (seeded: the same files every run).
VARIANTS_PER_KIND = 200


def _loader_recordings(loader: str, paths: list[Path]) -> list[dict[str, object]]:
    """What the real loader resolves reading each file (helpers/loader_oracle.py, in a
    subprocess: it patches pickle globally)."""
    import json

    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, str(ORACLE), loader],
        input=json.dumps([str(path) for path in paths]),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    recordings: list[dict[str, object]] = json.loads(done.stdout)
    return recordings


def _reported(path: Path) -> tuple[set[tuple[str, str]], set[str], bool, bool]:
    """What the plugin reports for a file: the globals imported and called anywhere in it, whether
    a stream stopped undecided (a finding in every mode), and whether it reported a problem."""
    facts = analyze_path(path, READERS)
    imports = {(item.module, item.name) for fact in facts.pickles for item in fact.stream.imports}
    calls = {use.dotted for fact in facts.pickles for use in fact.stream.uses}
    undecided = any(fact.stream.undecided for fact in facts.pickles)
    return imports, calls, undecided, bool(facts.problems)


def _loader_divergences(cases: list[tuple[Path, tuple[str, ...]]]) -> tuple[list[str], dict[str, int]]:
    """Every global a real loader resolves (and every global it calls) that the plugin does not
    report for the file. A file the plugin could not read at all and reports as such (a problem:
    it fails in every mode) is counted apart, as are names no module can have (no import of them
    can succeed: bytes whose only imports are such names are not taken for a pickle, and a later
    stream that breaks off after one is dropped) and a module imported with an empty name (nothing
    fetched, nothing called)."""
    from pytest_aisupply.formats.pickle import KEPT_STRING_CHARS, _importable

    by_loader: dict[str, list[Path]] = {}
    for path, loaders in cases:
        for loader in loaders:
            if LOADER_MODULES.get(loader) is None or importlib.util.find_spec(LOADER_MODULES[loader]):
                by_loader.setdefault(loader, []).append(path)
    reported = {path: _reported(path) for path, _ in cases}
    divergences: list[str] = []
    counts = {"drives": 0, "resolved": 0, "failed_closed": 0, "no_module_name": 0, "module_only": 0}
    for loader, paths in sorted(by_loader.items()):
        for recording in _loader_recordings(loader, paths):
            path = Path(str(recording["path"]))
            imports, calls, undecided, problems = reported[path]
            counts["drives"] += 1
            names = [tuple(pair) for pair in recording["globals"]]  # type: ignore[attr-defined]
            counts["resolved"] += len(names)
            for module, name in names:
                if (module, name) in imports or max(len(module), len(name)) >= KEPT_STRING_CHARS:
                    continue
                if undecided or problems:
                    counts["failed_closed"] += 1
                    continue
                if not _importable(module):
                    counts["no_module_name"] += 1
                    continue
                if not name:
                    # Python's unpickler imports the module of a last line without its newline
                    # and fetches nothing: no call. Text ending so is not taken for a pickle.
                    counts["module_only"] += 1
                    continue
                divergences.append(f"{loader} {path}: resolves {module}.{name}; the plugin reports {sorted(imports)}")
            for dotted in recording["calls"]:  # type: ignore[attr-defined]
                if (
                    dotted.endswith("()")
                    or len(dotted) >= KEPT_STRING_CHARS
                    or dotted in calls
                    or undecided
                    or problems
                ):
                    continue
                if any(dotted == f"{module}.{name}" and not _importable(module) for module, name in names):
                    continue
                divergences.append(f"{loader} {path}: calls {dotted}; the plugin reports calls of {sorted(calls)}")
    return divergences, counts


def test_what_the_real_loaders_resolve_in_the_attacks_and_benign_files_the_plugin_reports(tmp_path: Path) -> None:
    """Differential for the loaders' container handling over the attack corpus and benign files
    the libraries write: torch.load (its zip reader, legacy tar and sequence of pickles),
    pandas.read_pickle (compression by name), numpy.load (.npy, .npz, fallback) and joblib.load,
    each driven with recording stubs; the plugin reports every global each resolves."""
    marker = tmp_path / "MARKER"
    cases: list[tuple[Path, tuple[str, ...]]] = []
    for attack in ATTACKS:
        if _builder_available(attack):
            path = write_attack(attack, tmp_path / "attacks" / attack.name, marker)
            cases.append((path, (attack.loader, "pickle.load")))
    cases += _benign_files(tmp_path / "benign")
    divergences, counts = _loader_divergences(cases)
    assert divergences == []
    assert not marker.exists(), "a payload ran: the stubs let something real through"
    assert counts["resolved"] > 50, counts  # the loaders really resolved globals


def _benign_files(directory: Path) -> list[tuple[Path, tuple[str, ...]]]:
    """Files the libraries themselves write, each with the loaders that read it."""
    import bz2
    import gzip

    directory.mkdir(parents=True)
    value = {"weights": [1.0, 2.0], "name": "model", "nested": {"a": (1, 2)}}
    files: list[tuple[Path, tuple[str, ...]]] = []
    for suffix, compress in ((".pkl", bytes), (".pkl.gz", gzip.compress), (".pkl.bz2", bz2.compress)):
        path = directory / f"value{suffix}"
        path.write_bytes(compress(pickle.dumps(value, protocol=4)))
        files.append((path, ("pandas.read_pickle", "joblib.load")))
    if importlib.util.find_spec("numpy") is not None:
        import numpy as np

        np.save(directory / "objects.npy", np.array([value, None], dtype=object), allow_pickle=True)
        np.savez(directory / "arrays.npz", a=np.arange(4.0), b=np.array([value], dtype=object))
        files += [(directory / "objects.npy", ("numpy.load",)), (directory / "arrays.npz", ("numpy.load",))]
    if importlib.util.find_spec("joblib") is not None:
        import joblib
        import numpy as np

        for level in (0, 3, ("lzma", 3), ("bz2", 3)):
            path = directory / f"model-{level!s}.joblib".replace(" ", "").replace("'", "")
            joblib.dump({"w": np.arange(10.0), "o": np.array([value], dtype=object)}, path, compress=level)
            files.append((path, ("joblib.load",)))
    if importlib.util.find_spec("torch") is not None:
        import torch

        state = {"layer.weight": torch.ones(2, 3), "step": 3}
        torch.save(state, directory / "model.pt")
        torch.save(state, directory / "legacy.pt", _use_new_zipfile_serialization=False)
        files += [(directory / "model.pt", ("torch.load",)), (directory / "legacy.pt", ("torch.load", "pickle.load"))]
    if importlib.util.find_spec("pandas") is not None:
        import pandas

        frame = pandas.DataFrame({"a": [1, 2], "b": ["x", "y"]})
        for suffix in (".pkl", ".pkl.gz", ".pkl.xz", ".pkl.zip", ".pkl.tar", ".pkl.tar.gz"):
            path = directory / f"frame{suffix}"
            frame.to_pickle(path)
            files.append((path, ("pandas.read_pickle",)))
    return files


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_what_the_real_loaders_resolve_in_generated_containers_the_plugin_reports(tmp_path: Path, kind: str) -> None:
    """The same differential over generated variants of each container kind (seeded): payloads
    benign, calling globals in every encoding, or fuzz-mutated, inside containers sometimes
    damaged themselves."""
    needs = {"torch-zip": "torch", "torch-legacy-sequence": "torch", "torch-legacy-tar": "torch", "joblib": "joblib"}
    if kind in needs and importlib.util.find_spec(needs[kind]) is None:
        pytest.skip(f"{needs[kind]} is not installed")
    cases = []
    for index, variant in enumerate(
        variants(seed=sorted(KINDS).index(kind), per_kind=VARIANTS_PER_KIND, kinds=(kind,))
    ):
        cases.append((write_variant(variant, tmp_path, index), variant.loaders))
    divergences, counts = _loader_divergences(cases)
    assert divergences == [], f"{len(divergences)} divergences, first: {divergences[:5]} ({counts})"
    assert counts["drives"] >= VARIANTS_PER_KIND
    assert counts["resolved"] > VARIANTS_PER_KIND // 10, counts  # the loaders really resolved globals
