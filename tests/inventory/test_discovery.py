"""Finding files under the roots: built-in and configured excludes, symbolic links and special
files (reported, never followed out of the project), globs, and a deterministic order."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from helpers.timing import run_with_timeout
from pytest_aisupply.inventory.discovery import FoundFile, Walker, display_relpath

needs_symlinks = pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")


def touch(root: Path, *relpaths: str) -> None:
    for relpath in relpaths:
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def found(root: Path, entries: Iterable[str] = (".",), exclude: Iterable[str] = ()) -> list[FoundFile]:
    return run_with_timeout(lambda: Walker(root, list(exclude)).files(list(entries)))


def relpaths(root: Path, entries: Iterable[str] = (".",), exclude: Iterable[str] = ()) -> list[str]:
    return [item.relpath for item in found(root, entries, exclude) if item.problem is None]


def problems(root: Path, entries: Iterable[str] = (".",), exclude: Iterable[str] = ()) -> dict[str, str]:
    return {item.relpath: item.problem for item in found(root, entries, exclude) if item.problem is not None}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


# --------------------------------------------------------------------------------------------
# Excludes and order
# --------------------------------------------------------------------------------------------


def test_built_in_excludes(project: Path) -> None:
    touch(
        project,
        "model.pt",
        "models/sub/weights.bin",
        ".hidden/kept.pkl",
        ".git/objects/ab/cdef",
        ".hg/store/x",
        ".venv/lib/m.pkl",
        "venv/lib/m.pkl",
        "envs/py311/pyvenv.cfg",
        "envs/py311/lib/site-packages/m.pkl",
        "__pycache__/mod.cpython-311.pyc",
        "src/pkg/__pycache__/mod.pyc",
        "build/lib/model.pkl",
        "dist/pkg.whl",
        "node_modules/pkg/model.onnx",
        ".tox/py/x.pkl",
        ".nox/s/x.pkl",
        ".mypy_cache/x",
        ".pytest_cache/x",
        "pkg.egg-info/PKG-INFO",
    )

    assert relpaths(project) == [".hidden/kept.pkl", "model.pt", "models/sub/weights.bin"]


def test_exclude_globs(project: Path) -> None:
    touch(project, "model.pt", "third_party/lib/model.pkl", "scratch.tmp", "data/run.tmp", "data/keep.bin")

    assert relpaths(project, exclude=["third_party/**", "*.tmp"]) == ["data/keep.bin", "model.pt"]


def test_exclude_of_a_directory_and_a_negation(project: Path) -> None:
    touch(project, "cache/a.pkl", "cache/keep.pkl", "models/a.pkl")

    assert relpaths(project, exclude=["cache/*", "!cache/keep.pkl"]) == ["cache/keep.pkl", "models/a.pkl"]


def test_order_is_sorted_and_deterministic(tmp_path: Path) -> None:
    names = [f"{directory}/{name}" for directory in ("b", "a", "a/z", "c") for name in ("y.pt", "x.pt", "Z.pt")]
    listings = []
    for seed in range(3):
        root = tmp_path / f"p{seed}"
        shuffled = names[:]
        random.Random(seed).shuffle(shuffled)
        touch(root, *shuffled)
        listings.append(relpaths(root))

    assert listings[0] == sorted(names)
    assert listings[0] == listings[1] == listings[2]


def test_overlapping_roots_list_each_file_once(project: Path) -> None:
    touch(project, "models/a.pt", "models/sub/b.pt", "c.pt")

    assert relpaths(project, [".", "models", "models/a.pt", "**/*.pt"]) == ["c.pt", "models/a.pt", "models/sub/b.pt"]


def test_explicit_roots_and_missing_entries(project: Path) -> None:
    touch(project, "models/a.pt", "models/b.pt", "other/c.pt", "build/explicit.pt")

    assert relpaths(project, ["models/a.pt", "other", "missing.pt"]) == ["models/a.pt", "other/c.pt"]
    assert relpaths(project, ["build/explicit.pt"]) == ["build/explicit.pt"]  # named explicitly


# --------------------------------------------------------------------------------------------
# Globs
# --------------------------------------------------------------------------------------------


def test_glob_roots(project: Path) -> None:
    touch(project, "a.pt", "models/b.pt", "models/deep/c.pt", "models/deep/d.bin", ".hidden/e.pt", "data/.f.pt")

    assert relpaths(project, ["*.pt"]) == ["a.pt"]
    assert relpaths(project, ["models/*.pt"]) == ["models/b.pt"]
    assert relpaths(project, ["**/*.pt"]) == ["a.pt", "models/b.pt", "models/deep/c.pt"]
    assert relpaths(project, ["models/**"]) == ["models/b.pt", "models/deep/c.pt", "models/deep/d.bin"]
    assert relpaths(project, ["**/deep"]) == ["models/deep/c.pt", "models/deep/d.bin"]
    assert relpaths(project, [".hidden/*"]) == [".hidden/e.pt"]  # a literal hidden segment matches
    assert relpaths(project, ["data/.*"]) == ["data/.f.pt"]


def test_glob_roots_skip_built_in_excludes_unless_named(project: Path) -> None:
    touch(project, "a.pt", "build/b.pt", "node_modules/pkg/c.pt", "env/pyvenv.cfg", "env/lib/d.pt")

    assert relpaths(project, ["**/*.pt"]) == ["a.pt"]
    assert relpaths(project, ["*/*.pt"]) == []
    assert relpaths(project, ["build/*.pt"]) == ["build/b.pt"]


# --------------------------------------------------------------------------------------------
# Symbolic links and special files
# --------------------------------------------------------------------------------------------


@needs_symlinks
def test_symlink_to_a_file_outside_the_project(tmp_path: Path, project: Path) -> None:
    outside = tmp_path / "outside.pkl"
    outside.write_bytes(b"x")
    (project / "model.pkl").symlink_to(outside)

    [item] = found(project)

    assert item.relpath == "model.pkl"
    assert item.problem is not None
    assert "outside the project" in item.problem


@needs_symlinks
def test_symlink_to_a_file_inside_the_project_is_listed(project: Path) -> None:
    touch(project, "real/model.pkl")
    (project / "alias.pkl").symlink_to("real/model.pkl")

    assert relpaths(project) == ["alias.pkl", "real/model.pkl"]
    assert problems(project) == {}


@needs_symlinks
def test_symlink_loop_and_broken_symlink(project: Path) -> None:
    (project / "loop").symlink_to("loop")
    (project / "a").symlink_to("b")
    (project / "b").symlink_to("a")
    (project / "broken.pkl").symlink_to("missing.pkl")

    reported = problems(project)

    assert set(reported) == {"loop", "a", "b", "broken.pkl"}
    assert "a loop" in reported["loop"]
    assert "a loop" in reported["a"]
    assert "missing" in reported["broken.pkl"]
    assert all("not followed" in text for text in reported.values())


@needs_symlinks
def test_directory_symlinks_are_not_followed(tmp_path: Path, project: Path) -> None:
    touch(project, "real/model.pkl")
    touch(tmp_path, "elsewhere/secret.pkl")
    (project / "inside_link").symlink_to(project / "real", target_is_directory=True)
    (project / "outside_link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)

    assert relpaths(project) == ["real/model.pkl"]
    reported = problems(project)
    assert list(reported) == ["outside_link"]
    assert "outside the project" in reported["outside_link"]


@needs_symlinks
def test_glob_roots_do_not_follow_directory_symlinks(tmp_path: Path, project: Path) -> None:
    """glob.glob follows directory links: a root like '**/*.pkl' must not reach outside the
    project through one."""
    touch(project, "real/model.pkl")
    touch(tmp_path, "elsewhere/secret.pkl", "elsewhere/deeper/secret2.pkl")
    (project / "outside_link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (project / "inside_link").symlink_to(project / "real", target_is_directory=True)

    for pattern in ("**/*.pkl", "*/*.pkl", "outside_link/*", "*_link/**"):
        listed = found(project, [pattern])
        assert all("secret" not in item.relpath for item in listed), (pattern, listed)
        assert all(not item.relpath.startswith("inside_link/") for item in listed), (pattern, listed)
    assert relpaths(project, ["**/*.pkl"]) == ["real/model.pkl"]


@needs_symlinks
def test_glob_roots_survive_symlink_loops(project: Path) -> None:
    """Two links back to the project root make glob.glob's '**' enumerate 2**40 paths."""
    touch(project, "models/a.pkl", "b.pkl")
    (project / "models" / "up").symlink_to("..", target_is_directory=True)
    (project / "models" / "again").symlink_to("..", target_is_directory=True)

    assert relpaths(project, ["**/*.pkl"]) == ["b.pkl", "models/a.pkl"]
    assert relpaths(project, ["**"]) == ["b.pkl", "models/a.pkl"]


@needs_symlinks
def test_explicit_root_through_a_directory_symlink_leaving_the_project(tmp_path: Path, project: Path) -> None:
    touch(tmp_path, "elsewhere/secret.pkl")
    (project / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)

    reported = problems(project, ["link/secret.pkl", "link"])

    assert set(reported) == {"link", "link/secret.pkl"}
    assert all("outside the project" in text for text in reported.values())
    assert relpaths(project, ["link/secret.pkl", "link"]) == []


@needs_fifo
def test_fifo_is_reported_and_never_opened(project: Path) -> None:
    touch(project, "model.pt")
    os.mkfifo(project / "pipe.pkl")

    items = found(project)  # opening the FIFO would block: found() fails after a timeout

    assert [item.relpath for item in items] == ["model.pt", "pipe.pkl"]
    assert items[1].problem is not None
    assert "not a regular file" in items[1].problem


@needs_fifo
@needs_symlinks
def test_symlink_to_a_fifo_is_reported(project: Path) -> None:
    os.mkfifo(project / "pipe")
    (project / "model.pkl").symlink_to("pipe")

    reported = problems(project)

    assert "special file" in reported["model.pkl"]
    assert "not a regular file" in reported["pipe"]


# --------------------------------------------------------------------------------------------
# File names
# --------------------------------------------------------------------------------------------

needs_byte_names = pytest.mark.skipif(
    sys.platform == "darwin" or os.name == "nt", reason="the file system refuses names that are not UTF-8"
)


@needs_byte_names
def test_non_utf8_names_are_listed_with_escapes(project: Path) -> None:
    raw_dir = os.path.join(os.fsencode(project), b"d\xe9j\xe0")
    os.mkdir(raw_dir)
    with open(os.path.join(raw_dir, b"model\xff.pkl"), "wb") as handle:
        handle.write(b"x")

    [item] = found(project)

    assert item.relpath == "d\\xe9j\\xe0/model\\xff.pkl"
    assert item.path.is_file()
    assert os.fsencode(item.path).endswith(b"d\xe9j\xe0/model\xff.pkl")


@needs_byte_names
def test_undecodable_name_cannot_hide_behind_a_look_alike(project: Path) -> None:
    """A file literally named 'model\\xff.pkl' (backslash, x, f, f) and one named model<0xff>.pkl
    must be listed as two files, not collapse into one (leaving the other unchecked)."""
    (project / "model\\xff.pkl").write_bytes(b"decoy")
    with open(os.path.join(os.fsencode(project), b"model\xff.pkl"), "wb") as handle:
        handle.write(b"payload")

    items = found(project)

    assert len(items) == 2
    assert len({item.relpath for item in items}) == 2
    assert {item.path.read_bytes() for item in items} == {b"decoy", b"payload"}


def test_display_relpath() -> None:
    root = Path("/project")

    assert display_relpath(Path("/project/models/a.pt"), root) == "models/a.pt"
    assert display_relpath(Path("/project"), root) == "."
    assert display_relpath(Path("/elsewhere/a.pt"), root) == "/elsewhere/a.pt"
