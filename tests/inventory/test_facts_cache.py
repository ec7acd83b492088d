"""The facts cache as a user sees it: real pytest runs on real files, cold then warm.

A warm run must give the very verdicts and messages of a cold one, read no unchanged file (the
summary line says how many files' facts came from the cache and how many were read), and read again
any file that changed, even with its size and mtime restored.
"""

from __future__ import annotations

import os
import pickle
import re
import time
from pathlib import Path

import numpy  # noqa: F401
import pytest
import safetensors.numpy  # noqa: F401

from helpers.artifacts import global_reference_pickle, write_npy, write_safetensors, write_torch_checkpoint

# Heavy libraries are imported when this module is collected: pytester restores sys.modules after
# every test, and importing numpy or torch a second time in one process fails.
try:
    import torch as _torch
except ImportError:  # pragma: no cover - CI installs torch
    _torch = None  # type: ignore[assignment]

CACHE_FILE = Path(".pytest_cache/d/aisupply/facts.json")
#: Lines that differ between two runs whatever the cache does.
_VOLATILE = re.compile(r"(in \d+\.\d+s|facts cache:|^\[gw\d\]|^created:|^\d+ workers|^bringing up nodes|^rootdir:)")


def _age(root: Path) -> None:
    """Make every file older than the cache's "racy" window (two seconds), as files are in a
    repository checked out a while ago."""
    old = time.time() - 3600
    for path in root.rglob("*"):
        if path.is_file() and ".pytest_cache" not in path.parts:
            os.utime(path, (old, old))


def _project(pytester: pytest.Pytester, extra: str = "") -> Path:
    pytester.makepyprojecttoml(f'[tool.aisupply]\nartifacts = ["models"]\nlockfile = ""\npickle = "scan"\n{extra}')
    models = pytester.path / "models"
    models.mkdir()
    (models / "evil.pkl").write_bytes(global_reference_pickle(os.system))
    write_npy(models / "weights.npy")
    write_safetensors(models / "model.safetensors")
    (models / "plain.pkl").write_bytes(pickle.dumps({"labels": list(range(20))}, protocol=4))
    return models


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("--aisupply-only", "-p", "no:randomly", *args)


def _verdicts(result: pytest.RunResult) -> list[str]:
    """What a user reads, without timings and the cache line itself; xdist's lines dropped."""
    return sorted(line for line in result.outlines if line.strip() and not _VOLATILE.search(line))


def _cache_line(result: pytest.RunResult) -> str:
    lines = [line for line in result.outlines if line.startswith("facts cache:")]
    assert len(lines) == 1, result.outlines
    return lines[0]


def test_warm_run_reads_nothing_and_says_the_same(pytester: pytest.Pytester) -> None:
    _project(pytester)
    _age(pytester.path)
    cold = _run(pytester, "-rA")
    cold.assert_outcomes(passed=4, failed=1)
    assert "system" in cold.stdout.str()
    assert _cache_line(cold) == "facts cache: 0 files from the cache, 4 read"
    warm = _run(pytester, "-rA")
    warm.assert_outcomes(passed=4, failed=1)
    assert _cache_line(warm) == "facts cache: 4 files from the cache, 0 read"
    assert _verdicts(warm) == _verdicts(cold)


def test_torch_checkpoint_same_cold_and_warm(pytester: pytest.Pytester) -> None:
    if _torch is None:
        pytest.skip("torch is not installed: it writes the checkpoint")
    pytester.makepyprojecttoml('[tool.aisupply]\nartifacts = ["models"]\nlockfile = ""\n')
    write_torch_checkpoint(pytester.path / "models" / "model.pt")
    _age(pytester.path)
    cold = _run(pytester, "-rA")
    warm = _run(pytester, "-rA")
    cold.assert_outcomes(failed=1)  # pickle = "forbid" (the default): a torch pickle fails
    assert _verdicts(warm) == _verdicts(cold)
    assert _cache_line(warm) == "facts cache: 1 files from the cache, 0 read"


def _same_size_pickles() -> tuple[bytes, bytes]:
    """A harmless pickle and one importing os.system, of one size."""
    evil = global_reference_pickle(os.system)
    for length in range(200):
        benign = pickle.dumps("x" * length, protocol=4)
        if len(benign) == len(evil):
            return benign, evil
    raise AssertionError("no benign pickle of the size of the malicious one")


def test_file_changed_with_size_and_mtime_restored_is_read_again(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.aisupply]\nartifacts = ["data"]\nlockfile = ""\npickle = "scan"\n')
    benign, evil = _same_size_pickles()
    target = pytester.path / "data" / "item.pkl"
    target.parent.mkdir()
    target.write_bytes(benign)
    _age(pytester.path)
    _run(pytester).assert_outcomes(passed=1)
    warm = _run(pytester)
    warm.assert_outcomes(passed=1)
    assert _cache_line(warm) == "facts cache: 1 files from the cache, 0 read"
    before = os.stat(target)
    with open(target, "r+b") as handle:  # the same inode, the same size
        handle.write(evil)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(target)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    changed = _run(pytester)
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(["*posix.system*"])
    assert _cache_line(changed) == "facts cache: 0 files from the cache, 1 read"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda text: text[: len(text) // 2], id="cut-short"),
        pytest.param(lambda text: "{not json", id="corrupt"),
        # the malicious pickle's import made harmless-looking: the edit is detected, the file read again
        pytest.param(lambda text: text.replace("posix", "json"), id="hand-edited"),
        pytest.param(lambda text: text.replace('"version":1', '"version":999', 1), id="version-edited"),
        pytest.param(lambda text: "", id="empty"),
    ],
)
def test_damaged_cache_is_ignored(pytester: pytest.Pytester, damage: object) -> None:
    _project(pytester)
    _age(pytester.path)
    cold = _run(pytester, "-rA")
    cache = pytester.path / CACHE_FILE
    text = cache.read_text(encoding="utf-8")
    damaged = damage(text)  # type: ignore[operator]
    assert damaged != text
    cache.write_text(damaged, encoding="utf-8")
    again = _run(pytester, "-rA")
    assert _verdicts(again) == _verdicts(cold)
    assert _cache_line(again) == "facts cache: 0 files from the cache, 4 read"
    assert "Traceback" not in again.stdout.str() + again.stderr.str()
    # the next run rewrote the cache: the one after it reads nothing
    assert _cache_line(_run(pytester)) == "facts cache: 4 files from the cache, 0 read"


def test_other_version_cache_is_ignored(pytester: pytest.Pytester) -> None:
    """A cache written by another plugin version (a valid file with its own checksum)."""
    _project(pytester)
    _age(pytester.path)
    cold = _run(pytester, "-rA")
    cache = pytester.path / CACHE_FILE
    import hashlib
    import json

    _header, _, body = cache.read_bytes().partition(b"\n")
    document = json.loads(body)
    document["fingerprint"] = "0" * 64
    body = json.dumps(document).encode()
    cache.write_bytes(json.dumps({"sha256": hashlib.sha256(body).hexdigest()}).encode() + b"\n" + body)
    again = _run(pytester, "-rA")
    assert _verdicts(again) == _verdicts(cold)
    assert _cache_line(again) == "facts cache: 0 files from the cache, 4 read"


def test_unwritable_cache_is_no_error(pytester: pytest.Pytester) -> None:
    # a folder where the cache file should be: neither read nor replaced (permissions would not
    # stop a test running as root)
    _project(pytester)
    _age(pytester.path)
    (pytester.path / CACHE_FILE).mkdir(parents=True)
    for _ in range(2):
        result = _run(pytester)
        result.assert_outcomes(passed=4, failed=1)
        assert _cache_line(result) == "facts cache: 0 files from the cache, 4 read"
        assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert [path.name for path in (pytester.path / CACHE_FILE.parent).iterdir()] == [CACHE_FILE.name]


def test_changed_allowlist_applies_on_a_warm_run(pytester: pytest.Pytester) -> None:
    _project(pytester)
    _age(pytester.path)
    _run(pytester).assert_outcomes(passed=4, failed=1)
    pytester.makepyprojecttoml(
        '[tool.aisupply]\nartifacts = ["models"]\nlockfile = ""\npickle = "scan"\n'
        'pickle_allowed_globals = ["posix.system"]\n'
    )
    warm = _run(pytester)
    warm.assert_outcomes(passed=5)
    assert _cache_line(warm) == "facts cache: 4 files from the cache, 0 read"


def test_without_cacheprovider(pytester: pytest.Pytester) -> None:
    _project(pytester)
    _age(pytester.path)
    for _ in range(2):
        result = _run(pytester, "-p", "no:cacheprovider")
        result.assert_outcomes(passed=4, failed=1)
        assert _cache_line(result) == "facts cache: off"
    assert not (pytester.path / ".pytest_cache").exists()


def test_cache_clear_reads_again(pytester: pytest.Pytester) -> None:
    _project(pytester)
    _age(pytester.path)
    _run(pytester)
    assert _cache_line(_run(pytester, "--cache-clear")) == "facts cache: 0 files from the cache, 4 read"
    assert _cache_line(_run(pytester)) == "facts cache: 4 files from the cache, 0 read"


def test_recent_files_are_not_cached(pytester: pytest.Pytester) -> None:
    """A file written just before the run may change again within its mtime's tick: read it again."""
    _project(pytester)
    _run(pytester)
    assert _cache_line(_run(pytester)) == "facts cache: 0 files from the cache, 4 read"


@pytest.mark.parametrize(("first", "second"), [("2", "0"), ("0", "2")], ids=["xdist-then-serial", "serial-then-xdist"])
def test_xdist_and_serial_share_the_cache(pytester: pytest.Pytester, first: str, second: str) -> None:
    pytest.importorskip("xdist")
    models = _project(pytester)
    for index in range(6):
        write_npy(models / f"more-{index}.npy")
    _age(pytester.path)
    cold = _run(pytester, "-n", first, "-rA")
    cold.assert_outcomes(passed=10, failed=1)
    assert _cache_line(cold) == "facts cache: 0 files from the cache, 10 read"
    warm = _run(pytester, "-n", second, "-rA")
    warm.assert_outcomes(passed=10, failed=1)
    assert _cache_line(warm) == "facts cache: 10 files from the cache, 0 read"
    assert [line for line in _verdicts(warm) if "system" in line] == [
        line for line in _verdicts(cold) if "system" in line
    ]
    assert not list((pytester.path / CACHE_FILE.parent).glob("facts-shard-*"))


def test_warm_run_keeps_what_it_walked_and_adds_what_it_read(pytester: pytest.Pytester) -> None:
    """A warm run after files came and went: the cache it writes holds the unchanged files' entries,
    the new file's, and not the deleted file's, so the run after it reads nothing."""
    models = _project(pytester)
    _age(pytester.path)
    _run(pytester).assert_outcomes(passed=4, failed=1)
    (models / "plain.pkl").unlink()
    added = write_npy(models / "added.npy")
    old = time.time() - 3600
    os.utime(added, (old, old))  # only this file: dating the others again would change their ctime
    changed = _run(pytester, "-rA")
    changed.assert_outcomes(passed=4, failed=1)
    assert _cache_line(changed) == "facts cache: 3 files from the cache, 1 read"
    cache = (pytester.path / CACHE_FILE).read_text(encoding="utf-8")
    assert "added.npy" in cache
    assert "plain.pkl" not in cache
    again = _run(pytester, "-rA")
    assert _cache_line(again) == "facts cache: 4 files from the cache, 0 read"
    assert _verdicts(again) == _verdicts(changed)


def test_many_files_of_equal_facts_share_one_record(pytester: pytest.Pytester) -> None:
    """A folder of like arrays and distinct pickles: every file is cached (equal facts are written
    once in the cache file), and a warm run judges each as a cold one did."""
    pytester.makepyprojecttoml('[tool.aisupply]\nartifacts = ["data"]\nlockfile = ""\npickle = "scan"\n')
    data = pytester.path / "data"
    for index in range(30):
        write_npy(data / f"array-{index:02}.npy")
        (data / f"rows-{index:02}.pkl").write_bytes(pickle.dumps({"id": index}, protocol=4))
    (data / "evil.pkl").write_bytes(global_reference_pickle(os.system))
    _age(pytester.path)
    cold = _run(pytester, "-rA", "--aisupply-granularity=folder")
    cold.assert_outcomes(failed=1)
    cold.stdout.fnmatch_lines(["*data/evil.pkl*", "*posix.system*"])
    assert _cache_line(cold) == "facts cache: 0 files from the cache, 61 read"
    cache = (pytester.path / CACHE_FILE).read_text(encoding="utf-8")
    assert cache.count('"format\\":\\"numpy\\"') == 1  # one text for the 30 equal arrays
    assert cache.count('"format\\":\\"pickle\\"') == 31
    warm = _run(pytester, "-rA", "--aisupply-granularity=folder")
    assert _cache_line(warm) == "facts cache: 61 files from the cache, 0 read"
    assert _verdicts(warm) == _verdicts(cold)


@pytest.mark.parametrize("reader_module", ["numpy.py", "gguf.py"])
def test_an_edited_reader_module_makes_the_cache_stale(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    reader_module: str,
) -> None:
    """The cache's fingerprint names the source of every built-in reader, also of those not
    imported yet (the readers load per sniffed format): editing one, as a developer of the plugin
    or a patched install does, means reading every file again. The numpy reader reads this
    project's array; the gguf reader is never loaded for it, yet its edit must count as well,
    since the sniff asks it first for any file that could be GGUF."""
    import shutil

    import pytest_aisupply

    copy = tmp_path_factory.mktemp("installed") / "pytest_aisupply"
    shutil.copytree(Path(pytest_aisupply.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("PYTHONPATH", str(copy.parent))
    where = pytester.run("python", "-c", "import pathlib, pytest_aisupply as p; print(pathlib.Path(p.__file__).parent)")
    assert where.outlines[-1].strip() == str(copy)
    pytester.makepyprojecttoml('[tool.aisupply]\nartifacts = ["models"]\nlockfile = ""\n')
    (pytester.path / "models").mkdir()
    write_npy(pytester.path / "models" / "weights.npy")
    _age(pytester.path)

    cold = _run(pytester)
    cold.assert_outcomes(passed=1)
    assert _cache_line(cold) == "facts cache: 0 files from the cache, 1 read"
    assert _cache_line(_run(pytester)) == "facts cache: 1 files from the cache, 0 read"
    edited = copy / "formats" / reader_module
    later = edited.stat().st_mtime + 60
    os.utime(edited, (later, later))
    stale = _run(pytester)
    stale.assert_outcomes(passed=1)
    assert _cache_line(stale) == "facts cache: 0 files from the cache, 1 read"
