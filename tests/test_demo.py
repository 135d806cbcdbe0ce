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
    steps.add("report", False, 0.0, "exit 2: boom")
    steps.add("notebook 06-real-logs", True, 3.0, "written; skipped: real logs not found",
              "notebooks/06-real-logs.html", skipped=True)
    index = _cmd_demo._write_index(tmp_path, steps, "summary <b>here</b>")
    page = index.read_text(encoding="utf-8")
    assert "href='ranking.csv'" in page
    assert "exit 2: boom" in page
    assert "summary <b>here</b>" in page
    rows = {re.search(r"<td>([^<]+)</td>", r).group(1): r for r in page.split("<tr>")[2:]}
    assert "<td>ok</td>" in rows["rank"]
    assert ">failed<" in rows["report"]
    assert ">skipped<" in rows["notebook 06-real-logs"] and "<td>ok</td>" not in \
        rows["notebook 06-real-logs"]
    assert [r["status"] for r in steps.rows] == ["ok", "failed", "skipped"]


def test_a_notebook_whose_cells_skip_is_marked_skipped_not_ok():
    import nbformat

    ran = nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text="loaded 1,434 cases\n")])
    skipped = nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text="skipped: real logs not found 未找到真实数据: x\n")])
    assert _cmd_demo.skipped_line(nbformat.v4.new_notebook(cells=[ran])) == ""
    assert _cmd_demo.skipped_line(nbformat.v4.new_notebook(cells=[ran, skipped])).startswith(
        "skipped: real logs not found")


def test_headline_describes_each_lever_against_the_observed_baseline():
    base = {"baseline": {"median_days_to_close_repeat": 30.0},
            "scenario": {"median_days_to_close_repeat": 33.0}}
    dense = _cmd_demo.whatif_headline({
        **base, "levers_set": {"joint_conference_interval_days": 7.0},
        "levers_baseline": {"joint_conference_interval_days": 2.0}})
    assert "every 7 days (less often than the observed every 2.0 days)" in dense
    assert "improve" not in dense and "from 30.0 to 33.0, longer" in dense
    sparse = _cmd_demo.whatif_headline({
        **base, "levers_set": {"joint_conference_interval_days": 7.0,
                               "leader_ownership_share": 0.9},
        "levers_baseline": {"joint_conference_interval_days": 15.5,
                            "leader_ownership_share": 0.12}})
    assert "more often than the observed every 15.5 days" in sparse
    assert "leader ownership share 90% (more than the observed 12%)" in sparse


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
    # only the notebooks were skipped, and on purpose: a skip is not a failure (exit 0)
    assert code == 0
    assert "skipped: --notebooks none" in page
    assert page.count(">skipped</span>") == 1
    assert ">failed<" not in page
    assert "than the observed" in page  # the what-if levers against the district's baseline
