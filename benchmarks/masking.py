"""Free-text PII masking benchmark: ``mask_free_text`` on N distinct free-text values.

    python benchmarks/masking.py [--values 1000000] [--seed 1] [--baseline-commit 4f61fb3]

Measured in one run, CPU and wall time, against:

- ``before``: ``mask_free_text`` of the commit before the vectorised pass (loaded from git), a
  Python regex per distinct value with that commit's (fewer) patterns;
- ``python``: today's patterns run in Python on every distinct value
  (``casekit.privacy._mask_all_python``), the reference the fast path must equal;
- ``floor``: one bare ``pyarrow.compute.match_substring_regex`` pass over the values.

The values look like the free text of a district export: addresses, notes with dates, amounts
and case numbers, and a share (``--pii-share``, default 5%) carrying a mobile, a landline, an ID
number or a marked name. The fast output is checked equal to the ``python`` reference.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_values(n: int, seed: int, pii_share: float) -> pd.Series:
    """Distinct free-text values; ``pii_share`` of them carry PII."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    streets = np.array(["西兴社区", "棉北街道", "城南街道", "华浦社区", "和平里"])
    notes = np.array(["已办结，群众满意", "转交属地办理", "要求退还押金", "反映噪音扰民", "已电话回访"])
    base = (pd.Series(streets[i % 5]) + (i % 977).astype(str) + "巷" + (i % 1000).astype(str)
            + "号；" + pd.Series(notes[rng.integers(0, 5, n)]) + "，"
            + pd.Series(pd.date_range("2023-01-01", periods=n, freq="min").strftime("%Y-%m-%d"))
            + " 金额" + rng.integers(100, 99999, n).astype(str) + "元，编号XF" + i.astype(str))
    pii = rng.random(n) < pii_share
    kinds = rng.integers(0, 4, n)
    mobile = "，电话138 " + (1000 + i % 9000).astype(str) + " " + (1000 + i % 8999).astype(str)
    landline = "，座机0754-" + (8000000 + i % 999999).astype(str)
    ident = "，身份证11010519491231002X"
    name = "，信访人张三反映"
    extra = np.where(kinds == 0, mobile, np.where(kinds == 1, landline,
                                                  np.where(kinds == 2, ident, name)))
    return pd.Series(np.where(pii, base + extra, base), dtype="str")


def load_before(commit: str):
    """casekit.privacy as it was at ``commit`` (a module of its own)."""
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:casekit/privacy.py"],
                          check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "privacy_before.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("privacy_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["privacy_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def timed(fn, *args, **kwargs):
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pii-share", type=float, default=0.05)
    parser.add_argument("--baseline-commit", default="4f61fb3")
    args = parser.parse_args()

    import pyarrow as pa
    import pyarrow.compute as pc

    from casekit.privacy import _NUMBER_PREFILTER, _mask_all_python, mask_free_text

    values = make_values(args.values, args.seed, args.pii_share)
    before = load_before(args.baseline_commit)
    print(f"{len(values):,} distinct free-text values, {args.pii_share:.0%} with PII; "
          f"pandas {pd.__version__}, pyarrow {pa.__version__}")
    rows = []
    fast, cpu, wall = timed(mask_free_text, values)
    rows.append(("mask_free_text (vectorised prefilter)", cpu, wall))
    ref, cpu, wall = timed(_mask_all_python, values)
    rows.append(("same patterns, Python per value", cpu, wall))
    _, cpu, wall = timed(before.mask_free_text, values)
    rows.append((f"before ({args.baseline_commit}), Python per value", cpu, wall))
    arr = pa.array(values.array)
    _, cpu, wall = timed(pc.match_substring_regex, arr, _NUMBER_PREFILTER)
    rows.append(("floor: one pyarrow regex pass", cpu, wall))
    assert fast.equals(ref), "the vectorised output differs from the Python patterns"
    changed = int((fast != values).sum())
    base_cpu = rows[0][1]
    for label, cpu, wall in rows:
        print(f"{label:<44} cpu {cpu:7.2f} s  wall {wall:7.2f} s  ({cpu / base_cpu:5.1f}x the vectorised CPU)")
    print(f"identical to the Python reference: True; values changed by masking: {changed:,}")


if __name__ == "__main__":
    main()
