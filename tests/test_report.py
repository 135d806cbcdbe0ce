"""casekit report: HTML with figures, no code, no PII; and the helpers behind it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from casekit import report
from casekit._utils import CasekitError, FileUnusableError
from casekit.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from independent_district import COLUMNS, make_independent_district


def test_report_template_is_stripped_and_has_the_parameters_the_command_passes():
    path = report._template_path()
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert all(c.get("outputs", []) == [] for c in nb["cells"] if c["cell_type"] == "code")
    assert set(report.read_parameters(path)) == {"EVENTS_PATH", "SOURCE_NAME", "COLUMNS",
                                                 "OBSERVATION_END", "MIN_CASES", "K"}
    source = "\n".join("".join(c["source"]) for c in nb["cells"])
    assert "use_cjk_font()" in source
    assert "suppress_small_cells" in source


def test_pattern_counts_and_description_from_a_hand_made_case_table():
    cases = pd.DataFrame({
        "pattern": ["a", "a", "a", "b"], "closed": [True, True, False, False],
        "repeat_ordinal": [1, 2, 3, 1],
        "observation_end": pd.to_datetime(["2024-03-31"] * 4),
    })
    counts = report.pattern_counts(cases)
    assert counts.to_dict("records")[0] == {"pattern": "a", "n_cases": 3, "n_closed": 2,
                                            "n_open": 1, "n_repeat": 2}
    text = report.describe_log(pd.DataFrame({"agency": ["x"] * 9}), cases)
    assert "4 cases, 9 events, 1 agencies" in text
    assert "2024-03-31" in text
    assert "open (censored) 未办结: 50.0%" in text
    assert "repeat filings 重复信访: 50.0%" in text


def test_html_pii_scan_ignores_embedded_images_but_finds_an_id_number_in_text():
    assert report.find_pii_in_html(
        "<img src='data:image/png;base64,44052419800101001X13812345678=='>") == []
    kinds = {f.kind for f in report.find_pii_in_html("<td>440524188001010014</td>")}
    assert kinds == {"id_number"}


def test_build_report_refuses_to_write_html_that_would_leak_an_id_number(monkeypatch, tmp_path):
    src = tmp_path / "log.csv"
    src.write_text("case_id\n1\n", encoding="utf-8")
    monkeypatch.setattr(report, "execute_notebook", lambda *a, **k: nbformat.v4.new_notebook())
    monkeypatch.setattr(report, "export_html", lambda nb, **k: "<p>身份证 440524188001010014</p>")
    out = tmp_path / "r.html"
    with pytest.raises(CasekitError, match="raw PII"):
        report.build_report(src, out=out)
    assert not out.exists()


def test_build_report_names_a_missing_file():
    with pytest.raises(FileUnusableError, match="no such file"):
        report.build_report("/nonexistent/log.csv", out="x.html")


def test_cli_report_on_a_missing_file_exits_2_with_one_line(tmp_path, capsys):
    code = main(["report", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "missing.csv" in err


def test_export_html_drops_code_and_prompts_and_embeds_images():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## 结果"),
        nbformat.v4.new_code_cell("secret_variable_name = 1", execution_count=1, outputs=[
            nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="}),
        ]),
    ])
    html = report.export_html(nb)
    assert "secret_variable_name" not in html
    assert "In&nbsp;[1]" not in html
    assert "In [1]" not in html
    assert "data:image/png;base64,iVBORw0KGgo=" in html


@pytest.mark.slow
def test_cli_report_on_a_raw_pii_export_writes_figures_and_no_identities(tmp_path, capsys):
    src = tmp_path / "信访件导出.csv"
    make_independent_district(src, n_petitioners=150, seed=3)
    out = tmp_path / "report.html"
    code = main(["report", str(src), "--columns", COLUMNS, "--min-cases", "10", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    html = out.read_text(encoding="utf-8")
    assert html.count("<img") >= 2  # network and Kaplan-Meier figures, embedded
    assert "data:image/png;base64," in html
    assert "import casekit" not in html  # no code cells
    assert report.find_pii_in_html(html) == []
    raw = pd.read_csv(src, encoding="gb18030", dtype=str)
    for column in ("身份证号", "联系电话", "信访人姓名"):
        leaked = [v for v in raw[column].unique()[:200] if v in html]
        assert not leaked, f"raw {column} in the report"


def test_report_template_is_in_sync_with_its_reviewable_script():
    jupytext = pytest.importorskip("jupytext")
    script = Path(__file__).resolve().parents[1] / "notebooks" / "report" / "report.py"
    nb = jupytext.read(report._template_path())
    py = jupytext.read(script)
    assert [(c.cell_type, c.source) for c in nb.cells] == \
        [(c.cell_type, c.source) for c in py.cells], (
        "regenerate: jupytext --to ipynb -o casekit/templates/report.ipynb "
        "notebooks/report/report.py")
