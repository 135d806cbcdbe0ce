"""``casekit demo [--out DIR]``: run the whole kit on a synthetic district and link the results.

Steps (each through the same code path as its CLI command, ``casekit.cli.main``):
synth -> validate -> network (working together, handover) -> rank (all, repeat filings) ->
whatif -> report, then the tutorial notebooks executed to HTML (two at a time), and
``DIR/index.html`` linking everything with a short summary. Each step is *ok*, *skipped* (on
purpose, with the reason: ``--notebooks none``, or a notebook whose cells say ``skipped:``
because the real logs are absent) or *failed* (reported; the others still run). The exit code is
0 when no step failed.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import io
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

DEFAULT_CASES = 20_000
DEFAULT_SEED = 2026


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` options."""
    parser.add_argument("--out", default="reports", metavar="DIR",
                        help="folder for the outputs and index.html (default: reports)")
    parser.add_argument("--data", default="data", metavar="DIR",
                        help="folder for the generated district (default: data)")
    parser.add_argument("--cases", type=int, default=DEFAULT_CASES, metavar="N",
                        help=f"cases in the synthetic district (default {DEFAULT_CASES})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, metavar="S",
                        help=f"seed of the district (default {DEFAULT_SEED})")
    parser.add_argument("--notebooks", metavar="DIR",
                        help="tutorial notebooks to execute (default: notebooks/tutorials of the "
                        "checkout); 'none' skips them")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run in parallel (default 2)")
    parser.add_argument("--timeout", type=float, default=180, metavar="S",
                        help="per-cell timeout for notebooks and the report (default 180)")


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _cli(argv: list[str]) -> tuple[int, str]:
    """Run ``casekit <argv>`` in-process; return (exit code, captured stderr)."""
    from casekit.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue().strip()


def _find_tutorials(option: str | None) -> Path | None:
    if option == "none":
        return None
    if option:
        return Path(option)
    import casekit

    for base in (Path.cwd(), Path(casekit.__file__).resolve().parents[1]):
        if (base / "notebooks" / "tutorials").is_dir():
            return base / "notebooks" / "tutorials"
    return None


def _quiet_worker(log_path: str) -> None:
    """Send a worker's stderr (and its kernels') to a log file, so the console shows the steps."""
    import os

    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)


def _run_report(csv: str, out_html: str, timeout: float) -> tuple[str, float, str]:
    """``casekit report`` on the district; runs in a worker process beside the notebooks."""
    t0 = time.perf_counter()
    code, err = _cli(["report", csv, "--out", out_html, "--timeout", str(timeout)])
    last = err.splitlines()[-1] if err else ""
    return csv, time.perf_counter() - t0, "" if code == 0 else f"exit {code}: {last}"


def _run_notebook(nb_path: str, out_html: str, timeout: float) -> tuple[str, float, str, str]:
    """Execute one notebook and write it as HTML (code shown); runs in a worker process.

    Returns ``(path, seconds, error, skipped)``: ``skipped`` is the first ``skipped: ...`` line
    the notebook printed (its cells skip when their data are absent), else empty.
    """
    from casekit.report import execute_notebook, export_html
    from casekit.static import copy_widget_assets, offline_notebook_html

    t0 = time.perf_counter()
    try:
        nb = execute_notebook(nb_path, timeout=timeout)
        copy_widget_assets(Path(out_html).parent)  # widgets render with no internet
        Path(out_html).write_text(offline_notebook_html(export_html(nb, exclude_input=False)),
                                  encoding="utf-8")
        return nb_path, time.perf_counter() - t0, "", skipped_line(nb)
    except Exception as exc:  # noqa: BLE001 - reported by the caller, the demo goes on
        return (nb_path, time.perf_counter() - t0,
                f"{type(exc).__name__}: {exc}".splitlines()[0], "")


def skipped_line(nb: Any) -> str:
    r"""Return the first output line of a run notebook that starts with ``skipped:`` (or "").

    Examples
    --------
    >>> import nbformat
    >>> cell = nbformat.v4.new_code_cell("print('x')", outputs=[nbformat.v4.new_output(
    ...     "stream", name="stdout", text="ok\nskipped: real logs not found: ../shared\n")])
    >>> skipped_line(nbformat.v4.new_notebook(cells=[cell]))
    'skipped: real logs not found: ../shared'
    """
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for line in str(out.get("text", "")).splitlines():
                if line.strip().startswith("skipped:"):
                    return line.strip()
    return ""


class _Steps:
    """Record of what ran, what was skipped and why (for the printout and index.html)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, name: str, ok: bool, seconds: float, detail: str, link: str | None = None,
            *, skipped: bool = False) -> None:
        """Record a step: ``ok``, or ``skipped`` on purpose (with the reason), else failed."""
        status = "skipped" if skipped else ("ok" if ok else "failed")
        self.rows.append({"step": name, "ok": ok and not skipped, "status": status,
                          "seconds": seconds, "detail": detail, "link": link})
        mark = {"ok": "ok  ", "skipped": "SKIP", "failed": "FAIL"}[status]
        _say(f"  [{mark}] {name:<28} {seconds:6.1f} s  {detail}")

    def cli(self, name: str, argv: list[str], link: Path | None, out: Path,
            ok_codes: tuple[int, ...] = (0,)) -> bool:
        t0 = time.perf_counter()
        try:
            code, err = _cli(argv)
        except Exception as exc:  # noqa: BLE001 - cli.main never raises by contract
            code, err = 2, f"{type(exc).__name__}: {exc}"
        ok = code in ok_codes and (link is None or link.exists())
        last = err.splitlines()[-1] if err else ""
        detail = f"casekit {' '.join(argv[:1])} exit {code}" + (f": {last}" if last else "")
        rel = str(link.relative_to(out)) if ok and link is not None and link.is_relative_to(out) \
            else None
        self.add(name, ok, time.perf_counter() - t0, detail, rel)
        return ok


def _summary(data_csv: Path, out: Path) -> str:
    """One paragraph on the district and the headline results (from the written outputs)."""
    parts = []
    truth_file = next(iter(sorted(data_csv.parent.glob(data_csv.stem + "*truth*.json"))), None)
    try:
        import pandas as pd

        ev = pd.read_csv(data_csv, usecols=["case_id", "agency"])
        parts.append(f"The synthetic district has {ev['case_id'].nunique():,} cases, "
                     f"{len(ev):,} events and {ev['agency'].nunique()} agencies.")
        rank = out / "ranking_repeat.csv"
        if rank.exists():
            r = pd.read_csv(rank)
            if len(r):
                parts.append(f"For repeat filings, the fastest collaboration pattern is "
                             f"<code>{html.escape(str(r['pattern'].iloc[0]))}</code> "
                             f"({len(r)} patterns ranked, censoring-aware).")
        if truth_file is not None:
            truth = json.loads(truth_file.read_text(encoding="utf-8"))
            planted = truth.get("fastest_repeat_pattern") or truth.get("fastest_pattern_repeat")
            if planted:
                parts.append(f"The generator planted <code>{html.escape(str(planted))}</code> "
                             "as the fastest for repeat filings.")
        wi = out / "whatif.json"
        if wi.exists():
            parts.append(whatif_headline(json.loads(wi.read_text(encoding="utf-8"))))
    except Exception as exc:  # noqa: BLE001 - the summary must not break the demo
        parts.append(f"(summary incomplete: {type(exc).__name__}: {exc})")
    return " ".join(parts)


def _lever_words(name: str, value: float, observed: float | None) -> str:
    """One lever of a scenario, said against the value the district showed (its baseline)."""
    interval = name.endswith("_interval_days")
    if name.endswith("_share") or name == "one_stop_center":
        shown, seen = f"{value:.0%}", None if observed is None else f"{observed:.0%}"
    elif interval:
        shown, seen = f"every {value:g} days", None if observed is None else \
            f"every {observed:.1f} days"
    else:
        shown, seen = f"{value:,.6g}", None if observed is None else f"{observed:,.6g}"
    label = name.removesuffix("_days").replace("_", " ")
    if observed is None:
        return f"{label} {shown} (no observed value to compare with)"
    if abs(value - observed) <= 1e-9 * max(1.0, abs(observed)):
        return f"{label} {shown}, as observed"
    up = value > observed
    word = (("less often" if up else "more often") if interval else ("more" if up else "less"))
    return f"{label} {shown} ({word} than the observed {seen})"


def whatif_headline(result: dict[str, Any]) -> str:
    """The demo's what-if sentence: every lever set, relative to the calibrated baseline.

    A lever is described as more / less (more / less often for an interval) than the value the
    district showed, never as an "improvement"; the outcome says which way it moved.

    Examples
    --------
    >>> r = {"levers_set": {"joint_conference_interval_days": 7, "leader_ownership_share": 0.9},
    ...      "levers_baseline": {"joint_conference_interval_days": 2.0,
    ...                          "leader_ownership_share": 0.35},
    ...      "baseline": {"median_days_to_close_repeat": 40.0},
    ...      "scenario": {"median_days_to_close_repeat": 44.5}}
    >>> print(whatif_headline(r))  # doctest: +NORMALIZE_WHITESPACE
    In the what-if scenario (joint conference interval every 7 days (less often than the
    observed every 2.0 days); leader ownership share 90% (more than the observed 35%)) the
    median days to close a repeat filing go from 40.0 to 44.5, longer (simulated; see the
    assumptions in whatif.json).
    """
    base_levers = result.get("levers_baseline", {})
    levers = "; ".join(_lever_words(k, float(v), None if base_levers.get(k) is None
                                    else float(base_levers[k]))
                       for k, v in sorted(result.get("levers_set", {}).items()))
    b, s = result.get("baseline", {}), result.get("scenario", {})
    key = "median_days_to_close_repeat"
    if key not in b or key not in s:
        return f"What-if scenario: {html.escape(levers)} (no median to compare)."
    bv, sv = float(b[key]), float(s[key])
    move = "shorter" if sv < bv else "longer" if sv > bv else "unchanged"
    return (f"In the what-if scenario ({html.escape(levers)}) the median days to close a repeat "
            f"filing go from {bv:.1f} to {sv:.1f}, {move} (simulated; see the assumptions in "
            "whatif.json).")


def _write_index(out: Path, steps: _Steps, summary: str) -> Path:
    rows = []
    for r in steps.rows:
        link = (f"<a href='{html.escape(r['link'])}'>{html.escape(r['link'])}</a>"
                if r["link"] else "")
        status = {"ok": "ok", "skipped": "<span style='color:#777'>skipped</span>",
                  "failed": "<b style='color:#b00'>failed</b>"}[r.get("status", "ok" if r["ok"]
                                                                   else "failed")]
        rows.append(f"<tr><td>{html.escape(r['step'])}</td><td>{status}</td>"
                    f"<td>{r['seconds']:.1f} s</td><td>{link}</td>"
                    f"<td>{html.escape(r['detail'])}</td></tr>")
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>casekit demo</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
td,th{{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}}</style></head>
<body><h1>casekit demo · 信访协同分析示例</h1>
<p>{summary}</p>
<p>Every number below comes from synthetic data generated by <code>casekit synth</code>; no real
petitioner appears. 以下结果均来自合成数据。</p>
<table><tr><th>step</th><th>status</th><th>time</th><th>output</th><th>detail</th></tr>
{''.join(rows)}
</table></body></html>
"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def run(args: argparse.Namespace) -> int:
    """Run the demo; print where to look."""
    t_start = time.perf_counter()
    out, data = Path(args.out).resolve(), Path(args.data).resolve()
    out.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    csv = data / "district.csv"
    steps = _Steps()
    _say(f"casekit demo: {args.cases:,} cases, seed {args.seed} -> {csv}; outputs in {out}")

    have_data = steps.cli("synth", ["synth", "--cases", str(args.cases), "--seed", str(args.seed),
                                    "--out", str(csv)], None, out)
    have_data = have_data and csv.exists()
    # the report and the tutorial notebooks each need a kernel: they run in a pool of
    # ``--jobs`` worker processes while the CLI steps run here
    tutorials = _find_tutorials(args.notebooks)
    notebooks = sorted(tutorials.glob("[0-9][0-9]-*.ipynb")) if tutorials else []
    pool = ProcessPoolExecutor(max_workers=max(1, args.jobs),
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=_quiet_worker, initargs=(str(out / "kernels.log"),))
    futures: list[tuple[Any, str, Path]] = []
    if have_data:
        report = out / "report.html"
        futures.append((pool.submit(_run_report, str(csv), str(report), args.timeout),
                        "report", report))
    (out / "notebooks").mkdir(exist_ok=True)
    for nb in notebooks:
        target = out / "notebooks" / (nb.stem + ".html")
        futures.append((pool.submit(_run_notebook, str(nb), str(target), args.timeout),
                        f"notebook {nb.stem}", target))
    if have_data:
        steps.cli("validate", ["validate", str(csv), "--quarantine", str(out / "quarantine.csv")],
                  out / "quarantine.csv", out, ok_codes=(0, 1))
        for kind in ("working-together", "handover"):
            target = out / f"network_{kind.replace('-', '_')}.csv"
            steps.cli(f"network {kind}", ["network", str(csv), "--kind", kind, "--out",
                                         str(target)], target, out)
        steps.cli("rank (all filings)", ["rank", str(csv), "--out", str(out / "ranking.csv")],
                  out / "ranking.csv", out)
        steps.cli("rank (repeat filings)", ["rank", str(csv), "--repeat-only", "--out",
                                            str(out / "ranking_repeat.csv")],
                  out / "ranking_repeat.csv", out)
        steps.cli("whatif", ["whatif", "--data", str(csv), "--seed", str(args.seed),
                             "--set", "leader_ownership_share=0.9",
                             "--set", "joint_conference_interval_days=7",
                             "--out", str(out / "whatif.json")], out / "whatif.json", out)
    else:
        steps.add("validate/network/rank/whatif/report", False, 0.0,
                  "not run: no synthetic district (synth step failed)")
    for fut, name, target in futures:
        _, seconds, error, *skip = fut.result()
        ok = not error and target.exists()
        skipped = bool(skip and skip[0])
        detail = error or (f"written; {skip[0]}" if skipped else "written")
        steps.add(name, ok, seconds, detail, str(target.relative_to(out)) if ok else None,
                  skipped=ok and skipped)
    pool.shutdown()
    if not notebooks:
        why = ("--notebooks none" if args.notebooks == "none" else
               "no notebooks/tutorials folder found (run from the checkout or pass --notebooks)")
        steps.add("tutorial notebooks", False, 0.0, f"skipped: {why}", skipped=True)
    index = _write_index(out, steps, _summary(csv, out) if have_data else "")
    n_failed = sum(r["status"] == "failed" for r in steps.rows)
    n_skipped = sum(r["status"] == "skipped" for r in steps.rows)
    _say(f"casekit demo: done in {time.perf_counter() - t_start:.0f} s; "
         f"{len(steps.rows) - n_failed - n_skipped} steps ok, {n_skipped} skipped, "
         f"{n_failed} failed")
    _say(f"  open {index}")
    _say(f"  data: {csv} (+ truth file); tables: {out}/*.csv; report: {out / 'report.html'}")
    _say(f"  kernel messages of the report and notebooks: {out / 'kernels.log'}")
    return 0 if n_failed == 0 else 1
