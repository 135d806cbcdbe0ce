"""casekit demo: every step through the CLI code paths, index.html linking what was written."""

from __future__ import annotations

import argparse
import json
import re

import pandas as pd
import pytest

from casekit.cli import demo as _cmd_demo
from casekit.cli import main


def test_demo_options_default_to_reports_and_data():
    parser = argparse.ArgumentParser()
    _cmd_demo.add_arguments(parser)
    args = parser.parse_args([])
    assert (args.out, args.data, args.cases, args.jobs) == ("reports", "data", 20_000, 2)


def test_find_tutorials_honours_none_and_finds_the_checkouts_notebooks():
    assert _cmd_demo._find_tutorials("none") is None
    found = _cmd_demo._find_tutorials(None)
    assert found is not None
    assert (found / "01-quickstart.ipynb").exists()


def test_index_lists_every_step_and_links_only_what_was_written(tmp_path):
    steps = _cmd_demo._Steps()
    steps.add("rank", True, 1.0, "ok", "ranking.csv")
    steps.add("report", False, 0.0, "skipped: exit 2: boom")
    index = _cmd_demo._write_index(tmp_path, steps, "summary <b>here</b>")
    page = index.read_text(encoding="utf-8")
    assert "href='ranking.csv'" in page
    assert "skipped" in page
    assert "skipped: exit 2: boom" in page
    assert "summary <b>here</b>" in page


def test_summary_reads_the_written_outputs(tmp_path):
    data = tmp_path / "district.csv"
    pd.DataFrame({"case_id": ["a", "a", "b"], "agency": ["x", "y", "x"]}).to_csv(data, index=False)
    (tmp_path / "district.truth.json").write_text(json.dumps({"fastest_repeat_pattern": "p+q"}))
    pd.DataFrame({"rank": [1], "pattern": ["p+q"]}).to_csv(tmp_path / "ranking_repeat.csv",
                                                           index=False)
    text = _cmd_demo._summary(data, tmp_path)
    assert "2 cases, 3 events and 2 agencies" in text
    assert text.count("p+q") == 2


@pytest.mark.slow
def test_demo_runs_every_cli_step_and_writes_a_linked_index(tmp_path, capsys):
    out, data = tmp_path / "reports", tmp_path / "data"
    code = main(["demo", "--out", str(out), "--data", str(data), "--cases", "1500",
                 "--notebooks", "none"])
    err = capsys.readouterr().err
    assert "open " in err and "index.html" in err  # says where to look
    page = (out / "index.html").read_text(encoding="utf-8")
    links = re.findall(r"href='([^']+)'", page)
    for expected in ("quarantine.csv", "network_working_together.csv", "network_handover.csv",
                     "ranking.csv", "ranking_repeat.csv", "whatif.json", "report.html"):
        assert expected in links, f"{expected} missing from index.html:\n{err}"
        assert (out / expected).exists()
    assert (data / "district.csv").exists()
    ranking = pd.read_csv(out / "ranking_repeat.csv")
    assert {"rank", "pattern", "n_cases", "median_days", "hazard_ratio"} <= set(ranking.columns)
    # only the notebooks were skipped, and on purpose
    assert code == 1
    assert "skipped: --notebooks none" in page
    assert page.count("<b style='color:#b00'>skipped</b>") == 1
