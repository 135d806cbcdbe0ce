"""The ``casekit`` command line: every option of every command, its error paths and exit codes.

Contract (ARCHITECTURE.md): exit 0 success, 1 partial (``validate``: rows quarantined; ``rank``:
nothing to rank), 2 unusable input or bad usage; errors are one readable line on stderr
(``casekit CMD: error: ...``) naming the option and the expected form, never a traceback.
Inputs are tiny (an 80-case synthetic district); the report and the demo are run elsewhere
(tests/test_report.py, tests/test_demo.py), here only their options and errors.
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

import pandas as pd
import pytest

from casekit.cli import _COMMANDS, _build_parser, main

# every reading option (add_read_options) set away from its default, and what it parses to
READ_ARGV = ["--columns", "case_id=ID", "--sheet", "2", "--labels", "labels.json", "--shape",
             "cases", "--timezone", "UTC", "--dayfirst", "--max-unpacked", "4G",
             "--observation-end", "2024-01-01"]
READ_PARSED = {"columns": "case_id=ID", "sheet": "2", "labels": "labels.json", "shape": "cases",
               "timezone": "UTC", "dayfirst": True, "monthfirst": False, "max_unpacked": "4G",
               "observation_end": "2024-01-01"}

# (command, argv after the command, expected attributes): together they set every option
PARSE_CASES: list[tuple[str, list[str], dict[str, object]]] = [
    ("synth", ["--cases", "50", "--seed", "3", "--out", "d.csv", "--start", "2024-01-01",
               "--observation-end", "2024-06-30", "--mode", "upfront", "--effect-scale", "0",
               "--start-cut", "2024-02-01", "--debug"],
     {"cases": 50, "seed": 3, "out": "d.csv", "start": "2024-01-01",
      "observation_end": "2024-06-30", "mode": "upfront", "effect_scale": 0.0,
      "start_cut": "2024-02-01", "debug": True}),
    ("synth", ["--out", "d.csv"], {"cases": 2000, "seed": 0, "mode": "dynamic",
                                   "effect_scale": None, "debug": False, "partitions": None,
                                   "chunk_cases": None, "policy_change": None,
                                   "mechanism_scale": None}),
    ("synth", ["--out", "d", "--partitions", "4", "--chunk-cases", "500", "--policy-change",
               "2024-01-01:leader_ownership_share=0.6", "--mechanism-scale", "0.5"],
     {"partitions": 4, "chunk_cases": 500,
      "policy_change": {"date": "2024-01-01", "leader_ownership_share": 0.6},
      "mechanism_scale": 0.5}),
    ("validate", ["log.csv", *READ_ARGV, "--quarantine", "q.csv", "--encoding", "gb18030",
                  "--max-lines", "5", "--debug"],
     {"path": "log.csv", **READ_PARSED, "quarantine": "q.csv", "encoding": "gb18030",
      "max_lines": 5}),
    ("validate", ["log.csv", "--monthfirst"],
     {"monthfirst": True, "dayfirst": False, "shape": "auto", "timezone": "auto",
      "max_lines": 200, "quarantine": None}),
    ("network", ["log.csv", *READ_ARGV, "--kind", "handover", "--include-self", "--level",
                 "agency_type", "--drop-duplicates", "--out", "e.csv", "--scheduler",
                 "tcp://127.0.0.1:8786", "--progress"],
     {**READ_PARSED, "kind": "handover", "include_self": True, "level": "agency_type",
      "drop_duplicates": True, "out": "e.csv", "scheduler": "tcp://127.0.0.1:8786",
      "progress": True}),
    ("network", ["log.csv", "--monthfirst", "--kind", "working-together", "--out", "e.csv"],
     {"monthfirst": True, "include_self": False, "level": "agency", "drop_duplicates": False,
      "progress": False}),
    ("rank", ["log.csv", *READ_ARGV, "--repeat-only", "--outcome", "settle", "--method",
              "landmark-30", "--cluster", "petitioner", "--stratify", "matter", "--min-cases",
              "5", "--unadjusted", "--seed", "7", "--settle-window-days", "90", "--out", "r.csv",
              "--scheduler", "tcp://127.0.0.1:8786", "--progress"],
     {**READ_PARSED, "repeat_only": True, "outcome": "settle", "method": "landmark-30",
      "cluster": "petitioner", "stratify": "matter", "min_cases": 5, "unadjusted": True,
      "seed": 7, "settle_window_days": 90.0, "out": "r.csv", "progress": True}),
    ("rank", ["log.csv", "--monthfirst", "--all-filings", "--out", "r.csv"],
     {"monthfirst": True, "repeat_only": False, "outcome": "close", "method": "time-varying", "cluster": "matter",
      "stratify": None, "min_cases": 30, "seed": 0, "settle_window_days": 180}),
    ("rank", ["log.csv", "--out", "r.csv"], {"repeat_only": None}),  # decided from the log
    ("whatif", ["--data", "log.csv", *READ_ARGV, "--set", "mediators=3", "--set",
                "one_stop_center=1", "--seed", "4", "--replications", "3", "--n-cases", "100",
                "--out", "w.json"],
     {"data": "log.csv", **READ_PARSED, "sets": ["mediators=3", "one_stop_center=1"],
      "seed": 4, "replications": 3, "n_cases": 100, "out": "w.json"}),
    ("whatif", ["--data", "log.csv", "--route-to", "street_office+court", "--assumed-effects",
                "--out", "w.json"],
     {"route_to": "street_office+court", "assumed_effects": True}),
    # the seed and replications defaults are the simulator's (one home: simulate.DEFAULT_*)
    ("whatif", ["--monthfirst", "--out", "w.json"],
     {"monthfirst": True, "data": None, "sets": [], "seed": 0, "replications": 10,
      "n_cases": None, "route_to": None, "assumed_effects": False}),
    ("report", ["log.csv", *READ_ARGV, "--out", "r.html", "--min-cases", "10", "--timeout",
                "60"],
     {**READ_PARSED, "out": "r.html", "min_cases": 10, "timeout": 60.0}),
    ("report", ["log.csv", "--monthfirst", "--out", "r.html"],
     {"monthfirst": True, "min_cases": 30, "timeout": 300, "repeat_only": None,
      "outcome": "close", "scheduler": None}),
    ("report", ["log.csv", "--all-filings", "--outcome", "settle", "--scheduler",
                "tcp://127.0.0.1:8786", "--out", "r.html"],
     {"repeat_only": False, "outcome": "settle", "scheduler": "tcp://127.0.0.1:8786"}),
    ("report", ["log.csv", "--repeat-only", "--out", "r.html"], {"repeat_only": True}),
    ("partition", ["log.csv", "--columns", "case_id=ID", "--out", "part", "--partitions", "4",
                   "--observation-end", "2024-01-01", "--block-rows", "1000", "--overwrite"],
     {"columns": "case_id=ID", "out": "part", "partitions": 4,
      "observation_end": "2024-01-01", "block_rows": 1000, "overwrite": True}),
    ("demo", ["--out", "o", "--data", "d", "--cases", "100", "--seed", "1", "--notebooks",
              "none", "--jobs", "1", "--timeout", "30"],
     {"out": "o", "data": "d", "cases": 100, "seed": 1, "notebooks": "none", "jobs": 1,
      "timeout": 30.0}),
    ("demo", [], {"out": "reports", "data": "data", "cases": 20_000, "seed": 2026, "jobs": 2}),
]


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser, subparsers = _build_parser()
    for name, sub in subparsers.items():
        importlib.import_module(f"casekit.cli.{name}").add_arguments(sub)
    return parser, subparsers


def _options(sub: argparse.ArgumentParser) -> set[str]:
    return {o for a in sub._actions for o in a.option_strings if o not in ("-h", "--help")}


def test_the_parse_table_sets_every_option_of_every_command() -> None:
    """A new option must get a row in PARSE_CASES (and so a test) to pass."""
    _, subparsers = _parsers()
    assert set(subparsers) == set(_COMMANDS)
    for name, sub in subparsers.items():
        given = {a for cmd, argv, _ in PARSE_CASES if cmd == name for a in argv}
        missing = _options(sub) - given - {"--debug"}  # --debug: test_debug_shows_...
        assert not missing, f"casekit {name}: options without a parse case: {sorted(missing)}"


@pytest.mark.parametrize(("command", "argv", "expected"), PARSE_CASES,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(PARSE_CASES)])
def test_each_option_is_parsed(command: str, argv: list[str], expected: dict) -> None:
    parser, _ = _parsers()
    args = vars(parser.parse_args([command, *argv]))
    assert args["command"] == command
    assert {k: args[k] for k in expected} == expected


# --------------------------------------------------------------------------------------------
# runs on a tiny log
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "log.csv"
    assert main(["synth", "--cases", "80", "--seed", "1", "--out", str(path)]) == 0
    return path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``casekit ARGV`` in-process: (exit code, stdout, stderr); argparse's exit included."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage errors and --help
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_synth_writes_the_log_and_its_truth(log: Path) -> None:
    truth = json.loads(log.with_name("log.truth.json").read_text(encoding="utf-8"))
    events = pd.read_csv(log)
    assert truth["n_cases"] == events["case_id"].nunique() == 80
    assert truth["n_events"] == len(events)


def test_validate_exit_codes_follow_the_contract(log: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["validate", str(log)], capsys)
    assert code == 0
    assert "quarantined 0" in out
    bad = tmp_path / "bad.csv"
    lines = log.read_text(encoding="utf-8").splitlines()
    fields = lines[1].split(",")
    fields[1] = "not a time"
    bad.write_text("\n".join([*lines, ",".join(fields)]) + "\n", encoding="utf-8")
    quarantine = tmp_path / "q.csv"
    code, out, err = _run(["validate", str(bad), "--quarantine", str(quarantine)], capsys)
    assert code == 1
    assert "quarantined 1" in out
    assert len(pd.read_csv(quarantine)) == 1
    assert "not a time" in err or "timestamp" in err  # the problem line names the column
    code, _, err = _run(["validate", str(bad), "--max-lines", "0"], capsys)
    assert code == 1
    assert "more problem line(s) not shown" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    code, _, err = _run(["validate", str(empty)], capsys)
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("casekit validate: error:")


@pytest.mark.parametrize("argv", [
    ["--kind", "working-together"],
    ["--kind", "handover", "--include-self", "--level", "agency_type", "--drop-duplicates"],
])
def test_network_writes_the_edge_table(log: Path, tmp_path: Path, argv: list[str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "edges.csv"
    code, _, err = _run(["network", str(log), *argv, "--out", str(out)], capsys)
    assert code == 0, err
    edges = pd.read_csv(out)
    assert list(edges.columns) == ["source", "target", "count", "share"]
    assert len(edges) > 0
    assert (edges["count"] > 0).all()
    if "handover" in argv:
        assert edges["share"].sum() == pytest.approx(1.0)  # self pairs kept: every pair a row


def test_rank_writes_the_ranking_and_the_excluded_patterns(
        log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ranking.csv"
    code, stdout, err = _run(["rank", str(log), "--min-cases", "3", "--all-filings",
                              "--observation-end", "2024-01-01", "--out", str(out)], capsys)
    assert code == 0, err
    ranking = pd.read_csv(out)
    assert list(ranking.columns[:11]) == [
        "rank", "pattern", "n_cases", "n_closed", "median_days", "median_ci_low",
        "median_ci_high", "hazard_ratio", "hr_ci_low", "hr_ci_high", "p_value"]
    assert (ranking["n_cases"] >= 3).all()
    excluded = pd.read_csv(tmp_path / "ranking.excluded.csv")
    assert {"pattern", "n_cases", "reason"} <= set(excluded.columns)
    assert "observation_end: 2024-01-01" in stdout


def test_rank_with_nothing_to_rank_is_a_partial_exit(log: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["rank", str(log), "--min-cases", "100000", "--out",
                         str(tmp_path / "r.csv")], capsys)
    assert code == 1
    assert "nothing to rank" in err
    assert "--min-cases" in err
    assert "Traceback" not in err


def test_whatif_writes_baseline_and_scenario(log: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "w.json"
    code, _, err = _run(["whatif", "--data", str(log), "--set", "mediators=3", "--seed", "2",
                         "--replications", "2", "--n-cases", "60", "--out", str(out)], capsys)
    assert code == 0, err
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["seed"] == 2
    assert result["replications"] == 2
    assert result["levers_set"] == {"mediators": 3}
    assert set(result["baseline"]) == set(result["scenario"])


# --------------------------------------------------------------------------------------------
# error paths: one line, exit 2, the option named
# --------------------------------------------------------------------------------------------

# (argv with {log} for the tiny log and {tmp} for a fresh folder, text the one line must hold)
BAD_CASES: list[tuple[list[str], str]] = [
    # reading options, the same for every command that reads a log
    (["validate", "{log}", "--columns", "caseid=A"], "--columns"),
    (["validate", "{log}", "--columns", "case_id"], "--columns"),
    (["network", "{log}", "--kind", "handover", "--timezone", "Mars/Base", "--out",
      "{tmp}/e.csv"], "--timezone"),
    (["rank", "{log}", "--max-unpacked", "lots", "--out", "{tmp}/r.csv"], "--max-unpacked"),
    (["rank", "{log}", "--labels", "{tmp}/none.json", "--out", "{tmp}/r.csv"], "--labels"),
    (["rank", "{log}", "--shape", "rows", "--out", "{tmp}/r.csv"], "--shape"),
    (["rank", "{log}", "--dayfirst", "--monthfirst", "--out", "{tmp}/r.csv"], "--monthfirst"),
    (["rank", "{log}", "--observation-end", "2023-13-45", "--out", "{tmp}/r.csv"],
     "--observation-end"),
    # inputs and outputs
    (["rank", "{tmp}/missing.csv", "--out", "{tmp}/r.csv"], "missing.csv"),
    (["rank", "{log}", "--out", "{log}"], "--out"),
    (["network", "{log}", "--kind", "handover", "--out", "{tmp}"], "--out"),
    (["validate", "{log}", "--quarantine", "{log}"], "--quarantine"),
    (["network", "{log}", "--kind", "handover"], "--out"),
    (["rank", "--out", "{tmp}/r.csv"], "PATH"),
    # validate
    (["validate", "{log}", "--encoding", "klingon"], "--encoding"),
    (["validate", "{log}", "--max-lines", "-1"], "--max-lines"),
    (["validate", "{log}", "--max-lines", "many"], "--max-lines"),
    # network
    (["network", "{log}", "--kind", "friends", "--out", "{tmp}/e.csv"], "--kind"),
    (["network", "{log}", "--kind", "working-together", "--include-self", "--out",
      "{tmp}/e.csv"], "--include-self"),
    (["network", "{log}", "--kind", "handover", "--level", "street", "--out", "{tmp}/e.csv"],
     "--level"),
    # rank
    (["rank", "{log}", "--min-cases", "0", "--out", "{tmp}/r.csv"], "--min-cases"),
    (["rank", "{log}", "--min-cases", "x", "--out", "{tmp}/r.csv"], "--min-cases"),
    (["rank", "{log}", "--seed", "-1", "--out", "{tmp}/r.csv"], "--seed"),
    (["rank", "{log}", "--settle-window-days", "-1", "--out", "{tmp}/r.csv"],
     "--settle-window-days"),
    (["rank", "{log}", "--outcome", "win", "--out", "{tmp}/r.csv"], "--outcome"),
    (["rank", "{log}", "--cluster", "street", "--out", "{tmp}/r.csv"], "--cluster"),
    (["rank", "{log}", "--stratify", "street", "--out", "{tmp}/r.csv"], "--stratify"),
    (["rank", "{log}", "--method", "bogus", "--out", "{tmp}/r.csv"], "method"),
    (["rank", "{log}", "--repeat-only", "--all-filings", "--out", "{tmp}/r.csv"],
     "--all-filings"),
    # whatif
    (["whatif", "--set", "bogus=1", "--out", "{tmp}/w.json"], "bogus"),
    (["whatif", "--set", "leader_ownership_share=7", "--out", "{tmp}/w.json"],
     "leader_ownership_share"),
    (["whatif", "--set", "mediators", "--out", "{tmp}/w.json"], "--set"),
    (["whatif", "--seed", "-1", "--out", "{tmp}/w.json"], "--seed"),
    (["whatif", "--replications", "0", "--out", "{tmp}/w.json"], "--replications"),
    (["whatif", "--n-cases", "3", "--out", "{tmp}/w.json"], "--n-cases"),
    (["whatif", "--data", "{tmp}/missing.csv", "--out", "{tmp}/w.json"], "missing.csv"),
    (["whatif", "--data", "{log}", "--out", "{log}"], "--out"),
    # synth
    (["synth", "--cases", "0", "--out", "{tmp}/s.csv"], "--cases"),
    (["synth", "--cases", "10", "--out", "{tmp}/s.txt"], ".txt"),
    (["synth", "--cases", "10", "--effect-scale", "-1", "--out", "{tmp}/s.csv"],
     "--effect-scale"),
    (["synth", "--cases", "10", "--start", "soon", "--out", "{tmp}/s.csv"], "--start"),
    (["synth", "--cases", "10", "--start-cut", "soon", "--out", "{tmp}/s.csv"], "--start-cut"),
    (["synth", "--cases", "10", "--seed", "-2", "--out", "{tmp}/s.csv"], "--seed"),
    (["synth", "--cases", "10", "--observation-end", "2022-01-01", "--out", "{tmp}/s.csv"],
     "--observation-end"),
    (["synth", "--cases", "10", "--mode", "later", "--out", "{tmp}/s.csv"], "--mode"),
    # report (checked before the notebook runs)
    (["report", "{log}", "--min-cases", "0", "--out", "{tmp}/r.html"], "--min-cases"),
    (["report", "{log}", "--timeout", "0", "--out", "{tmp}/r.html"], "--timeout"),
    (["report", "{log}", "--out", "{log}"], "--out"),
    (["report", "{log}", "--shape", "rows", "--out", "{tmp}/r.html"], "--shape"),
    # partition
    (["partition", "{log}", "--out", "{tmp}/p", "--partitions", "0"], "--partitions"),
    (["partition", "{log}", "--out", "{tmp}/p", "--partitions", "2", "--block-rows", "0"],
     "--block-rows"),
    (["partition", "{log}", "--out", "{tmp}/p", "--partitions", "2", "--observation-end",
      "soon"], "--observation-end"),
    (["partition", "{log}", "--out", "{tmp}/p"], "--partitions"),
    # demo (checked before anything is generated)
    (["demo", "--cases", "0", "--out", "{tmp}/d"], "--cases"),
    (["demo", "--jobs", "0", "--out", "{tmp}/d"], "--jobs"),
    (["demo", "--timeout", "-1", "--out", "{tmp}/d"], "--timeout"),
    (["demo", "--seed", "-1", "--out", "{tmp}/d"], "--seed"),
    # the command itself
    (["bogus"], "bogus"),
]


@pytest.mark.parametrize(("argv", "named"), BAD_CASES,
                         ids=[" ".join(a[:1] + [x for x in a if x.startswith("--")][:2])
                              for a, _ in BAD_CASES])
def test_a_bad_value_is_one_line_naming_the_option(
        argv: list[str], named: str, log: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(log=log, tmp=tmp_path) for a in argv]
    code, _out, err = _run(argv, capsys)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"casekit {argv[0]}: error: " if argv[0] in _COMMANDS
                               else "casekit: error: "), lines[0]
    assert named in lines[0]
    assert "Traceback" not in err
    assert "unexpected" not in err
    assert not (tmp_path / "d").exists()
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("argv", [
    ["rank", "{log}", "--out", "{tmp}/r.csv"],
    ["network", "{log}", "--kind", "handover", "--out", "{tmp}/e.csv"],
    ["whatif", "--data", "{log}", "--out", "{tmp}/w.json"],
    ["report", "{log}", "--out", "{tmp}/r.html"],
    ["partition", "{log}", "--out", "{tmp}/p", "--partitions", "2"],
    ["synth", "--out", "{tmp}/s.csv"],
])
def test_a_bad_observation_end_reads_as_in_validate(argv: list[str], log: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14: ``casekit rank --observation-end notadate`` says what ``validate`` says."""
    _, _, reference = _run(["validate", str(log), "--observation-end", "notadate"], capsys)
    argv = [a.format(log=log, tmp=tmp_path) for a in argv]
    code, _, err = _run([*argv, "--observation-end", "notadate"], capsys)
    assert code == 2
    assert err.split(": error: ", 1)[1] == reference.split(": error: ", 1)[1]
    assert reference.startswith("casekit validate: error: --observation-end: cannot read "
                                "'notadate'; expected a date")


def test_no_command_and_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run([], capsys)
    assert code == 2
    assert "COMMAND" in err
    for name in _COMMANDS:
        code, out, _ = _run([name, "--help"], capsys)
        assert code == 0
        assert f"casekit {name}" in out
    code, out, _ = _run(["--version"], capsys)
    assert code == 0
    assert out.startswith("casekit ")


def test_debug_shows_the_exception_instead_of_the_line(log: Path, tmp_path: Path) -> None:
    from casekit._utils import CasekitError

    with pytest.raises(CasekitError, match="--min-cases"):
        main(["rank", str(log), "--min-cases", "0", "--debug", "--out", str(tmp_path / "r.csv")])


@pytest.mark.parametrize("option", ["--observation-end", "--start", "--start-cut"])
def test_date_options_use_the_library_parser(option: str) -> None:
    """Issue 14: one date parser; the CLI and the library word a bad date the same way."""
    from casekit._utils import CasekitError
    from casekit.cases import parse_observation_end as library_parse
    from casekit.cli._common import check_options

    with pytest.raises(CasekitError) as cli_err:
        check_options(argparse.Namespace(**{option[2:].replace("-", "_"): "31.13.2023"}))
    with pytest.raises(CasekitError) as lib_err:
        library_parse("31.13.2023", option=option)
    assert str(cli_err.value) == str(lib_err.value)
    assert str(cli_err.value).startswith(f"{option}: cannot read '31.13.2023'; expected a date")
