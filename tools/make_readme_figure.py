"""Draw the README figure (docs/casekit-overview.png) from the bundled sample with casekit itself.

Run: .venv/bin/python tools/make_readme_figure.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import casekit as ck
from casekit import plotting


def main() -> None:
    plotting.use_cjk_font()
    events = ck.load_sample_events()
    G = ck.build_working_together_network(events, level="agency_type")
    ranking = ck.rank_collaborations(events, repeat_only=True, min_cases=30, check_ph=False)
    fig, (left, right) = plt.subplots(2, 1, figsize=(11, 12), height_ratios=[1.2, 1])
    plotting.plot_network(G, ax=left, seed=0)
    left.set_title("谁和谁一起办案 Who works with whom (agency types, bundled sample)")
    plotting.plot_forest(ranking, ax=right)
    right.set_title("重复信访办结速度 Repeat filings: adjusted hazard ratio of closing, pattern in force (>1 faster)")
    out = Path(__file__).resolve().parents[1] / "docs" / "casekit-overview.png"
    fig.savefig(out, dpi=90, bbox_inches="tight")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
