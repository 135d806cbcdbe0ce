"""The package's shape: imports run one way, the CLI lives in casekit/cli/, the facade is lazy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "casekit"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _import_graph() -> dict[str, set[str]]:
    """casekit module -> the casekit modules it imports (anywhere in the file, lazily or not)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name and t != "casekit":
                    deps.add(t)
        graph[name] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_casekit() -> None:
    """Arrows only run down: no module imports a module that imports it back (even lazily)."""
    cycle = _cycle(_import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cli_lives_in_its_folder() -> None:
    assert not list(PACKAGE.glob("_cmd_*.py"))
    assert (PACKAGE / "cli" / "__init__.py").exists()
    assert (PACKAGE / "cli" / "_common.py").exists()


@pytest.mark.parametrize("module", sorted(_module_name(p) for p in PACKAGE.rglob("*.py")
                                          if "templates" not in p.parts))
def test_every_module_imports_alone(module: str) -> None:
    """Each module imports in a fresh interpreter (no hidden order dependence)."""
    if module.endswith("widgets"):
        pytest.importorskip("ipywidgets")
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, cwd=ROOT,
                   capture_output=True, timeout=120)


def _stub_names() -> tuple[dict[str, str], set[str]]:
    """``casekit/__init__.pyi``: {public name: module} and the submodules it re-exports."""
    exports: dict[str, str] = {}
    submodules: set[str] = set()
    tree = ast.parse((PACKAGE / "__init__.pyi").read_text(encoding="utf-8"))
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom) or node.module == "typing":
            continue
        for alias in node.names:
            assert alias.asname == alias.name, f"{alias.name}: re-export as itself ('X as X')"
            if node.module == "casekit":
                submodules.add(alias.name)
            else:
                assert alias.name not in exports, f"{alias.name} is in the stub twice"
                exports[alias.name] = str(node.module)
    return exports, submodules


def test_stub_lists_exactly_the_lazy_exports() -> None:
    """Editors jump to definitions through the stub; it cannot drift from ``_EXPORTS``."""
    import casekit

    exports, submodules = _stub_names()
    assert exports == casekit._EXPORTS
    assert submodules == casekit._SUBMODULES


def test_stub_parser_sees_a_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a stub missing a name or naming another module differs."""
    text = (PACKAGE / "__init__.pyi").read_text(encoding="utf-8")
    (tmp_path / "__init__.pyi").write_text(
        text.replace("from casekit.repeat import link_repeats as link_repeats\n", "")
        .replace("from casekit.kpi import", "from casekit.cases import"), encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    exports, _ = _stub_names()
    import casekit

    assert "link_repeats" not in exports
    assert exports["build_deadline_table"] == "casekit.cases" != casekit._EXPORTS[
        "build_deadline_table"]
