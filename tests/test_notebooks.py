"""The notebooks: stripped, paired with their jupytext .py files, logic-free, and they execute.

Execution runs in-process with nbclient (kernel ``python3``), a finite per-cell timeout and the
nbclient polling workaround (``casekit._jupyter_patch``): a stalled cell fails instead of passing.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIRS = [ROOT / "notebooks" / "tutorials", ROOT / "notebooks" / "training"]
NOTEBOOKS = sorted(p for d in NOTEBOOK_DIRS for p in d.glob("*.ipynb"))
APPS = sorted((ROOT / "notebooks" / "apps").glob("*.ipynb"))
CELL_TIMEOUT = 120


def _ids(paths):
    return [f"{p.parent.name}/{p.stem}" for p in paths]


def _code_cells(path: Path) -> list[dict]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _tracked_code_cells(path: Path) -> list[dict]:
    """The code cells of the notebook as git tracks it (the index), not as last saved.

    Using a notebook saves its outputs; that must not fail ``make test``. What is committed (or
    staged) is what has to be clean. Outside a git checkout, or for a file git does not track
    yet, the file itself is read.
    """
    rel = path.relative_to(ROOT).as_posix()
    try:
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f":{rel}"], capture_output=True,
                               check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return _code_cells(path)
    nb = json.loads(shown.stdout.decode("utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_at_least_six_notebooks_and_a_fengqiao_chaoyang_training_notebook():
    assert len(NOTEBOOKS) >= 6
    training = [p.read_text(encoding="utf-8") for p in NOTEBOOKS if p.parent.name == "training"]
    assert any("枫桥" in text and "潮阳" in text for text in training)


@pytest.mark.parametrize("path", NOTEBOOKS + APPS, ids=_ids(NOTEBOOKS + APPS))
def test_notebook_is_committed_without_outputs(path):
    for cell in _tracked_code_cells(path):
        assert cell.get("outputs") == [], f"{path.name}: a cell has outputs (strip them)"
        assert cell.get("execution_count") is None, f"{path.name}: a cell has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS + APPS, ids=_ids(NOTEBOOKS + APPS))
def test_notebook_is_in_sync_with_its_percent_script(path):
    jupytext = pytest.importorskip("jupytext")
    script = path.with_suffix(".py")
    assert script.exists(), f"{path.name} has no paired {script.name}"
    nb = jupytext.read(path)
    py = jupytext.read(script)
    assert [(c.cell_type, c.source) for c in nb.cells] == \
        [(c.cell_type, c.source) for c in py.cells], \
        f"{path.name} and {script.name} differ: run `jupytext --sync {script}`"


@pytest.mark.parametrize("path", NOTEBOOKS + APPS, ids=_ids(NOTEBOOKS + APPS))
def test_notebook_first_code_cell_is_the_papermill_parameters_cell(path):
    first = _code_cells(path)[0]
    assert "parameters" in first.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS + APPS, ids=_ids(NOTEBOOKS + APPS))
def test_notebook_has_no_logic_only_calls(path):
    """R14: no class, no def longer than about 5 lines; logic lives in casekit/."""
    for cell in _code_cells(path):
        source = "".join(cell["source"])
        tree = ast.parse("\n".join(line for line in source.splitlines()
                                   if not line.lstrip().startswith(("%", "!"))))
        for node in ast.walk(tree):
            assert not isinstance(node, ast.ClassDef), f"{path.name}: class {node.name}"
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                assert n <= 6, f"{path.name}: def {node.name} has {n} lines"


@pytest.mark.parametrize("path", NOTEBOOKS + APPS, ids=_ids(NOTEBOOKS + APPS))
def test_notebook_calls_use_cjk_font_before_plotting(path):
    source = "\n".join("".join(c["source"]) for c in _code_cells(path))
    if "plt." in source or "plot_" in source:
        assert "use_cjk_font()" in source
        assert source.index("use_cjk_font()") < min(
            i for i in (source.find("plt."), source.find("plot_")) if i >= 0)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS + APPS, ids=_ids(NOTEBOOKS + APPS))
def test_notebook_executes(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from casekit import _jupyter_patch

    _jupyter_patch.apply()
    # run a copy, from a scratch folder: notebooks must not depend on their location
    work = tmp_path / path.name
    shutil.copy(path, work)
    nb = nbformat.read(work, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
