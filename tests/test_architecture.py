"""The package layout keeps the design: imports read from the source with ast (nothing is imported).

The engine (settings, inventory, formats, code, rules, lockfile, hub, verdicts, reports, and the run-time
guards) runs without pytest and never imports a face; the faces (collected checks, fixture and markers) ask
the engine and not each other; the package top holds the public types, the hook specs and the entry point;
no module imports one that imports it back, at module level or inside a function. docs/architecture.md
describes the same map.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "src" / "pytest_aisupply"
NAME = "pytest_aisupply"

#: The modules at the package top: public types, hook specs, the entry point and its built-in hook implementations.
TOP = {"pytest_aisupply", "findings", "hookspecs", "plugin", "plugin_hooks", "builtin"}
#: Folders of the engine: no pytest, no face.
ENGINE = {"settings", "inventory", "formats", "code", "rules", "lockfile", "hub", "verdicts", "reports", "guards"}
#: Folders of the two faces: pytest lives here (and in the top's wiring).
FACES = {"checks", "fixture"}
WIRING = {"plugin", "plugin_hooks", "builtin", "hookspecs"}
#: Test folders that hold no tests of a package part.
TEST_SUPPORT = {"helpers", "fuzz", "data", "__pycache__"}


def module_name(path: Path, package_dir: Path) -> tuple[str, bool]:
    relative = path.relative_to(package_dir.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def import_graph(package_dir: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Every module's imports of the package's own modules, and of anything else (top-level names);
    imports inside functions and under TYPE_CHECKING count too."""
    modules = {module_name(path, package_dir): path for path in sorted(package_dir.rglob("*.py"))}
    names = {name for name, _ in modules}
    root = package_dir.name
    own: dict[str, set[str]] = {}
    foreign: dict[str, set[str]] = {}
    for (name, is_package), path in modules.items():
        own[name], foreign[name] = set(), set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[: len(package) - node.level + 1]
                    base = ".".join(package + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in names else base for alias in node.names]
            for target in targets:
                if target == root or target.startswith(root + "."):
                    while target not in names:  # pytest_aisupply.x.Name -> pytest_aisupply.x
                        target = target.rpartition(".")[0]
                    if target != name:
                        own[name].add(target)
                else:
                    foreign[name].add(target.split(".")[0])
    return own, foreign


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def part(module: str) -> str:
    """The folder (or top-level module) a module belongs to."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else pieces[0]


def arrows(graph: dict[str, set[str]], sources: Iterable[str], targets: set[str]) -> list[str]:
    return sorted(f"{m} -> {t}" for m in sources for t in graph[m] if part(t) in targets)


OWN, FOREIGN = import_graph(PACKAGE)


def test_the_package_top_holds_the_public_names_and_the_entry_point_only() -> None:
    top = {part(module) for module in OWN if module.count(".") <= 1 and not (PACKAGE / part(module)).is_dir()}
    assert top == TOP


def test_every_folder_is_one_part_of_the_design() -> None:
    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    assert folders == ENGINE | FACES


def test_no_module_imports_one_that_imports_it_back() -> None:
    found = cycles(OWN)
    assert found == []


def test_the_folders_stand_in_layers() -> None:
    folders: dict[str, set[str]] = {}
    for module, targets in OWN.items():
        for target in targets:
            if part(target) != part(module):
                folders.setdefault(part(module), set()).add(part(target))
    assert cycles(folders) == []


def test_the_engine_imports_no_face_and_not_the_pytest_wiring() -> None:
    engine = [module for module in OWN if part(module) in ENGINE | {"findings"}]
    assert arrows(OWN, engine, FACES | WIRING) == []


def test_the_engine_runs_without_pytest() -> None:
    engine = [module for module in OWN if part(module) in ENGINE | {"findings"}]
    assert sorted(f"{m} imports {n}" for m in engine for n in FOREIGN[m] & {"pytest", "_pytest", "pluggy"}) == []


def test_format_readers_know_nothing_of_rules_or_the_rest_of_the_engine() -> None:
    readers = [module for module in OWN if part(module) == "formats"]
    allowed = {f"{NAME}.settings.limits", f"{NAME}.findings"}
    assert sorted(f"{m} -> {t}" for m in readers for t in OWN[m] if part(t) != "formats" and t not in allowed) == []


def test_the_two_faces_ask_the_engine_not_each_other() -> None:
    checks = [module for module in OWN if part(module) == "checks"]
    fixture = [module for module in OWN if part(module) == "fixture"]
    assert arrows(OWN, checks, {"fixture"}) + arrows(OWN, fixture, {"checks"}) == []


def test_the_tests_mirror_the_package() -> None:
    folders = {path.name for path in (REPO / "tests").iterdir() if path.is_dir()} - TEST_SUPPORT
    assert folders <= ENGINE | FACES, "a test folder names no part of the package"


def test_the_architecture_page_lists_every_module() -> None:
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    for path in PACKAGE.rglob("*.py"):
        shown = path.relative_to(PACKAGE).as_posix()
        if path.name == "__init__.py":
            shown = f"{shown.rpartition('/')[0]}/" if "/" in shown else shown
        assert f"`{shown}`" in page, f"docs/architecture.md does not list {shown}"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a.py": "from . import b\n", "b.py": "def f():\n    from .a import x\n"}, [["demo.a", "demo.b"]]),
        (
            {"a.py": "from .c.d import x\n", "c/__init__.py": "", "c/d.py": "from ..a import y\n"},
            [["demo.a", "demo.c.d"]],
        ),
        ({"a.py": "import demo.b\n", "b.py": "from .a import x\n"}, [["demo.a", "demo.b"]]),
        ({"a.py": "from . import b\n", "b.py": "import os\n"}, []),
    ],
)
def test_the_checker_finds_a_circle_however_it_is_spelled(
    tmp_path: Path, files: dict[str, str], expected: list[list[str]]
) -> None:
    package = tmp_path / "demo"
    for name, text in {"__init__.py": "", **files}.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    own, _ = import_graph(package)
    assert cycles(own) == expected


def test_the_checker_sees_an_engine_module_reach_into_a_face(tmp_path: Path) -> None:
    package = tmp_path / "demo"
    for name, text in {
        "__init__.py": "",
        "rules/__init__.py": "",
        "rules/r.py": "import pytest\n\ndef f():\n    from ..checks.items import Item\n",
        "checks/__init__.py": "",
        "checks/items.py": "from ..rules.r import f\n",
    }.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    own, foreign = import_graph(package)
    assert arrows(own, ["demo.rules.r"], FACES) == ["demo.rules.r -> demo.checks.items"]
    assert "pytest" in foreign["demo.rules.r"]
