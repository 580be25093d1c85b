"""The code base keeps its rules: ruff clean (docstrings included), formatted, no upward imports."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gridmap", "web", "tests", "benchmarks")


def _ruff() -> list[str]:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.fail("ruff is not installed: install the test extra (pip install -e '.[test]')")
    return [exe]


def test_ruff_lint_is_clean():
    result = subprocess.run(
        [*_ruff(), "check", *PACKAGES], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = subprocess.run(
        [*_ruff(), "format", "--check", *PACKAGES], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if node.module == "gridmap":  # from gridmap import io -> gridmap.io
                names.update(f"gridmap.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "gridmap").rglob("*.py")), ids=lambda p: p.name)
def test_engine_never_imports_the_web_layer(path):
    upward = {n for n in _imports(path) if n.split(".")[0] in ("web", "flask", "werkzeug")}
    assert not upward, f"{path.name} imports {upward}: the engine must not depend on the web app"


# Modules in data-flow order (DESIGN.md): a module may import only those before it.
FLOW = [
    "errors", "schema", "crs", "io", "layers", "units", "graph", "metrics", "rebalance",
    "partition",
    "coding", "index", "plan", "compare", "edit", "redraw", "store", "accounts", "incidents",
    "transfer",
    "hotspots", "sample", "cli",
]  # fmt: skip


@pytest.mark.parametrize("module", FLOW)
def test_no_module_imports_upward(module):
    path = ROOT / "gridmap" / f"{module}.py"
    if not path.exists():
        pytest.fail(f"gridmap/{module}.py is listed in FLOW but does not exist")
    later = set(FLOW[FLOW.index(module) + 1 :])
    upward = {n for n in _imports(path) if n.startswith("gridmap.") and n.split(".")[1] in later}
    assert not upward, f"gridmap/{module}.py imports {upward}, which come later in the data flow"


def test_public_api_names_resolve():
    import gridmap

    for name in gridmap.__all__:
        assert getattr(gridmap, name) is not None, name
