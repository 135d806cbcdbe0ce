"""Command-line start-up: how long a user waits before the first line.

Measures, each as the median of a few wall-clock runs in fresh processes, on this machine:

* ``python -c pass`` (the floor: an interpreter start);
* ``casekit --version`` (goal 0.5 s or less);
* ``casekit validate`` on a 30-row Chinese-header CSV (goal 2 s or less);
* ``casekit report`` on the same file (goal 20 s or less; run with ``--report``, it starts a
  kernel and takes much longer than the rest).

Prints each figure with its ratio to ``python -c pass`` and the machine load; last line
``cli version_s=<x> validate_s=<y> [report_s=<z>] floor_s=<f>``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = "信访件编号,登记时间,办理环节,办理单位,单位类型"
ROWS = [
    ("XF-001", "2024-03-01 09:00", "登记", "区信访局", "信访局"),
    ("XF-001", "2024-03-02 10:00", "转送", "金平街道办事处", "街道办事处"),
    ("XF-001", "2024-03-20 16:00", "办结", "金平街道办事处", "街道办事处"),
]


def _casekit() -> list[str]:
    exe = Path(sys.executable).with_name("casekit")
    return [str(exe)] if exe.exists() else [shutil.which("casekit") or "casekit"]


def _ledger(folder: Path) -> Path:
    lines = [HEADER]
    for i in range(10):
        for cid, t, act, agency, typ in ROWS:
            lines.append(f"{cid}-{i},{t},{act},{agency},{typ}")
    path = folder / "ledger.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _median_wall(cmd: list[str], repeats: int, ok: tuple[int, ...] = (0, 1)) -> float:
    """Median wall time of ``cmd`` in fresh processes; a run exiting otherwise is an error (a
    command that fails at once would look fast)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, check=False, capture_output=True, timeout=600)
        times.append(time.perf_counter() - t0)
        if done.returncode not in ok:
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
            raise SystemExit(f"{' '.join(cmd[-3:])}: exit {done.returncode}: {err}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--report", action="store_true", help="also time `casekit report`")
    parser.add_argument("--report-repeats", type=int, default=3,
                        help="runs of `casekit report` (default 3; the median is printed)")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ledger = _ledger(folder)
        floor = _median_wall([sys.executable, "-c", "pass"], args.repeats)
        version = _median_wall([*_casekit(), "--version"], args.repeats)
        validate = _median_wall([*_casekit(), "validate", str(ledger)], args.repeats)
        print(f"python -c pass:          {floor:6.3f} s")
        print(f"casekit --version:       {version:6.3f} s  ({version / floor:5.1f}x the floor; "
              "goal <= 0.5 s)")
        print(f"casekit validate 30 rows:{validate:6.3f} s  ({validate / floor:5.1f}x; goal <= 2 s)")
        line = f"cli version_s={version:.3f} validate_s={validate:.3f}"
        if args.report:
            report = _median_wall([*_casekit(), "report", str(ledger), "--out",
                                   str(folder / "r.html")], args.report_repeats, ok=(0,))
            print(f"casekit report 30 rows:  {report:6.3f} s  ({report / floor:5.1f}x; "
                  "goal <= 20 s)")
            line += f" report_s={report:.3f}"
    print(f"{line} floor_s={floor:.3f}")


if __name__ == "__main__":
    main()
