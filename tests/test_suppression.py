"""Complementary small-cell suppression, attacked: no hidden cell can be worked out from the print.

The attacker below is written independently of casekit.privacy's planner: it reads the tables *as
printed* (numbers, "<5", "[c]"), knows every relation and printed total, and for each hidden cell
asks an integer solver for a reading of the whole publication in which that cell has a different
value than the truth. If there is none, the cell is recovered and the suppression failed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from casekit._utils import CasekitError
from casekit.privacy import (
    COMPLEMENTARY_LABEL,
    Relation,
    column_relations,
    row_relations,
    suppress_small_cells,
    suppress_tables,
)
from casekit.report import pattern_counts, publish_tables

K = 5


def printed_knowledge(printed, truth, public, k=K):
    """From the printed tables: known values, and bounds of each hidden cell (with its truth)."""
    known, hidden = dict(public), {}
    for name, table in printed.items():
        for col in table.columns:
            for idx, shown in table[col].items():
                cell = (name, idx, col)
                if cell not in truth:
                    continue
                if shown == f"<{k}":
                    hidden[cell] = (1, k - 1)
                elif shown == COMPLEMENTARY_LABEL:
                    hidden[cell] = (0, None)
                else:
                    assert int(shown) == truth[cell], f"{cell} printed wrongly"
                    known[cell] = int(shown)
    return known, hidden


def recoverable(relations, known, hidden, truth, k=K):
    """Hidden cells whose value is the same in every integer reading consistent with the print.

    A "[c]" cell is 0 or at least k (a count of 1 .. k-1 would be printed "<k"): modelled with
    an indicator z, k*z <= x <= big*z.
    """
    cells = sorted(hidden, key=repr)
    comp = [c for c in cells if hidden[c][1] is None]
    n, m = len(cells), len(comp)
    pos = {c: i for i, c in enumerate(cells)}
    big = 10 * (sum(truth.values()) + k)
    rows, lo, hi = [], [], []
    for rel in relations:
        row, const = np.zeros(n + m), 0.0
        for sign, c in [(1, rel.total), *((-1, p) for p in rel.parts)]:
            if c in pos:
                row[pos[c]] += sign
            else:
                const += sign * known[c]
        if not row.any():
            continue
        rows.append(row)
        lo.append(-const)
        hi.append(-const if rel.kind == "eq" else np.inf)
    for j, c in enumerate(comp):
        for coef, low, high in ((-k, 0, np.inf), (-big, -np.inf, 0)):
            row = np.zeros(n + m)
            row[pos[c]], row[n + j] = 1, coef
            rows.append(row)
            lo.append(low)
            hi.append(high)
    lower = np.array([hidden[c][0] for c in cells] + [0] * m, dtype=float)
    upper = np.array([big if hidden[c][1] is None else hidden[c][1] for c in cells] + [1] * m,
                     dtype=float)
    found = []
    for c in cells:
        v, i = truth[c], pos[c]
        other_value_exists = False
        for lo_c, hi_c in ((lower[i], v - 1), (v + 1, upper[i])):
            if lo_c > hi_c:
                continue
            lb, ub = lower.copy(), upper.copy()
            lb[i], ub[i] = lo_c, hi_c
            cons = [LinearConstraint(np.array(rows), lo, hi)] if rows else []
            res = milp(np.zeros(n + m), constraints=cons, integrality=np.ones(n + m),
                       bounds=Bounds(lb, ub))
            if res.status == 0:
                other_value_exists = True
                break
        if not other_value_exists:
            found.append(c)
    return found


def small(cells, hidden):
    """The hidden cells printed "<k"."""
    return [c for c in cells if hidden[c][1] is not None]


def truth_of(tables, public):
    truth = dict(public)
    for name, t in tables.items():
        for col in t.columns:
            if pd.api.types.is_integer_dtype(t[col].dtype):
                truth.update({(name, idx, col): int(v) for idx, v in t[col].items()})
    return truth


# --- random publications: a pattern-like table with row and column totals, and a second table
# sharing one of its columns (the same cases printed twice), with an inequality between them

_count = st.one_of(st.integers(0, 6), st.integers(5, 60))


@st.composite
def publication(draw):
    n = draw(st.integers(1, 6))
    closed = draw(st.lists(_count, min_size=n, max_size=n))
    open_ = draw(st.lists(_count, min_size=n, max_size=n))
    a = pd.DataFrame({"n_closed": closed, "n_open": open_})
    a.insert(0, "n_cases", a["n_closed"] + a["n_open"])
    a["n_repeat"] = [draw(st.integers(0, int(c))) for c in a["n_cases"]]
    shared = draw(st.lists(st.sampled_from(list(a.index)), unique=True, max_size=n))
    b = pd.DataFrame({"n_cases": a.loc[shared, "n_repeat"].to_numpy()}, index=shared)
    b["n_closed"] = [draw(st.integers(0, int(c))) for c in b["n_cases"]]
    totals_printed = draw(st.sets(st.sampled_from(["n_cases", "n_closed", "n_open", "n_repeat"])))
    public = {("text", "total", c): int(a[c].sum()) for c in totals_printed}
    rel = row_relations("a", a, total="n_cases", parts=["n_closed", "n_open"])
    rel += [Relation(("a", i, "n_cases"), (("a", i, "n_repeat"),), "ge") for i in a.index]
    rel += column_relations("a", a, totals={c: ("text", "total", c) for c in totals_printed})
    rel += [Relation(("b", i, "n_cases"), (("a", i, "n_repeat"),)) for i in b.index]
    rel += [Relation(("b", i, "n_cases"), (("b", i, "n_closed"),), "ge") for i in b.index]
    return {"a": a, "b": b}, rel, public


def hide_everything(tables, k=K):
    """The print with every small cell "<k" and every other table cell "[c]"."""
    printed = {}
    for name, t in tables.items():
        out = t.astype("str")
        for col in t.columns:
            small_cell = (t[col] >= 1) & (t[col] < k)
            out[col] = np.where(small_cell, f"<{k}", COMPLEMENTARY_LABEL)
        printed[name] = out
    return printed


@settings(max_examples=60, deadline=None)
@given(publication())
def test_attacker_recovers_no_suppressed_cell(pub):
    tables, relations, public = pub
    truth = truth_of(tables, public)
    try:
        printed = suppress_tables(tables, relations, k=K, public=public)
    except CasekitError as exc:  # a refusal must be justified: even hiding every cell fails
        assert "cannot be protected" in str(exc)
        known, hidden = printed_knowledge(hide_everything(tables), truth, public)
        assert small(recoverable(relations, known, hidden, truth), hidden)
        return
    known, hidden = printed_knowledge(printed, truth, public)
    assert small(recoverable(relations, known, hidden, truth), hidden) == []
    for cell, (_low, high) in hidden.items():  # labels tell the truth
        if high is not None:
            assert 1 <= truth[cell] < K
        else:
            assert truth[cell] == 0 or truth[cell] >= K
    small_cells = {c for c, v in truth.items() if 1 <= v < K and c[0] != "text"}
    assert small_cells <= set(hidden)  # every small cell is hidden


def test_the_attacker_does_recover_what_plain_suppression_leaves():
    """The attacker is not toothless: on primary-only suppression it finds n_open = n_cases - n_closed."""
    t = pd.DataFrame({"n_cases": [40, 12], "n_closed": [37, 9], "n_open": [3, 3]})
    rel = row_relations("t", t, total="n_cases", parts=["n_closed", "n_open"])
    printed = {"t": suppress_small_cells(t)}
    truth = truth_of({"t": t}, {})
    known, hidden = printed_knowledge(printed, truth, {})
    assert sorted(recoverable(rel, known, hidden, truth)) == [("t", 0, "n_open"), ("t", 1, "n_open")]


def test_values_of_five_or_more_are_hidden_only_when_needed():
    t = pd.DataFrame({"n_cases": [40, 12, 7], "n_closed": [30, 9, 7], "n_open": [10, 3, 0]})
    rel = row_relations("t", t, total="n_cases", parts=["n_closed", "n_open"])
    out = suppress_tables({"t": t}, rel)["t"]
    assert out.loc[0].tolist() == ["40", "30", "10"]  # nothing small in its relations
    assert out.loc[2].tolist() == ["7", "7", "0"]
    assert out.loc[1].tolist() == ["12", COMPLEMENTARY_LABEL, "<5"]
    assert suppress_tables({"t": t}, [])["t"].loc[1].tolist() == ["12", "9", "<5"]


def test_a_cell_printed_in_two_tables_is_hidden_in_both_or_neither():
    a = pd.DataFrame({"n_cases": [30, 40], "n_repeat": [3, 20]})
    b = pd.DataFrame({"n_cases": [3, 20]})  # the repeat filings again, in a ranking
    rel = [Relation(("b", i, "n_cases"), (("a", i, "n_repeat"),)) for i in a.index]
    rel += column_relations("a", a, totals={"n_repeat": ("text", "all", "n_repeat")})
    out = suppress_tables({"a": a, "b": b}, rel, public={("text", "all", "n_repeat"): 23})
    assert out["a"]["n_repeat"].tolist() == ["<5", COMPLEMENTARY_LABEL]
    assert out["b"]["n_cases"].tolist() == ["<5", COMPLEMENTARY_LABEL]


def test_suppression_refuses_what_it_cannot_protect_and_bad_relations():
    t = pd.DataFrame({"n": [3, 10]})
    rel = column_relations("t", t, totals={"n": ("text", "all", "n")})
    with pytest.raises(CasekitError, match="cannot be protected"):
        suppress_tables({"t": t}, rel, public={("text", "all", "n"): 13}, fixed=[("t", 1, "n")])
    with pytest.raises(CasekitError, match="does not hold"):
        suppress_tables({"t": t}, rel, public={("text", "all", "n"): 14})
    with pytest.raises(CasekitError, match="not a count cell"):
        suppress_tables({"t": t}, [Relation(("t", 0, "n"), (("t", 0, "nope"),))])


def test_the_reports_tables_resist_the_attacker_on_a_hand_made_case_table():
    rng = np.random.default_rng(4)
    pats = rng.choice(["a", "b", "c", "d", "e"], p=[0.5, 0.3, 0.15, 0.03, 0.02], size=600)
    cases = pd.DataFrame({"pattern": pats, "closed": rng.random(600) < 0.8,
                          "repeat_ordinal": rng.choice([1, 2], size=600, p=[0.8, 0.2])})
    counts = pattern_counts(cases).set_index("pattern", drop=False)
    rep = counts[counts["n_repeat"] >= 20]
    ranking = pd.DataFrame({"pattern": rep.index, "n_cases": rep["n_repeat"].to_numpy(),
                            "n_closed": (rep["n_repeat"] - 2).to_numpy()})
    out = publish_tables(cases, ranking=ranking)
    printed = {"patterns": out["patterns"].set_index("pattern", drop=False),
               "ranking": out["ranking"].set_index("pattern", drop=False)}
    cols = ["n_cases", "n_closed", "n_open", "n_repeat"]
    public = {("text", "all", c): int(counts[c].sum()) for c in cols}
    tables = {"patterns": counts[cols], "ranking": ranking.set_index("pattern")}
    truth = truth_of(tables, public)
    rel = row_relations("patterns", counts, total="n_cases", parts=["n_closed", "n_open"])
    rel += [Relation(("patterns", p, "n_cases"), (("patterns", p, "n_repeat"),), "ge")
            for p in counts.index]
    rel += column_relations("patterns", counts, totals={c: ("text", "all", c) for c in cols})
    rel += [Relation(("ranking", p, "n_cases"), (("patterns", p, "n_repeat"),))
            for p in ranking["pattern"]]
    known, hidden = printed_knowledge(printed, truth, public)
    assert small(hidden, hidden)  # the small patterns are there
    assert small(recoverable(rel, known, hidden, truth), hidden) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pooled_tail_and_the_ranked_total_in_the_text_resist_the_attacker(seed):
    # a rare tail (pooled into "other patterns (m)"), no repeat filings (that column is left
    # out), one ranked pattern whose count the text prints as "n filings in the ranked patterns"
    from casekit.report import merge_small_patterns

    rng = np.random.default_rng(seed)
    pats = rng.choice(list("abcdefg"), p=[0.6, 0.25, 0.08, 0.03, 0.02, 0.01, 0.01], size=300)
    cases = pd.DataFrame({"pattern": pats, "closed": rng.random(300) < 0.6,
                          "repeat_ordinal": 1})
    counts = pattern_counts(cases).set_index("pattern", drop=False)
    ranking = pd.DataFrame({"pattern": ["a"], "n_cases": [int(counts.loc["a", "n_cases"])],
                            "n_closed": [int(counts.loc["a", "n_closed"])]})
    ranking.attrs["n_cases_used"] = int(ranking["n_cases"].sum())
    out = publish_tables(cases, ranking=ranking)
    pooled = merge_small_patterns(pattern_counts(cases), keep={"a"}).set_index("pattern",
                                                                            drop=False)
    assert any(str(p).startswith("other patterns") for p in pooled.index)
    assert "n_repeat" not in out["patterns"].columns
    cols = ["n_cases", "n_closed", "n_open"]
    printed = {"patterns": out["patterns"].set_index("pattern", drop=False),
               "ranking": out["ranking"].set_index("pattern", drop=False)}
    public = {("text", "all", c): int(pooled[c].sum()) for c in cols}
    public[("text", "all", "ranked")] = ranking.attrs["n_cases_used"]
    tables = {"patterns": pooled[cols], "ranking": ranking.set_index("pattern")}
    truth = truth_of(tables, public)
    rel = row_relations("patterns", pooled, total="n_cases", parts=["n_closed", "n_open"])
    rel += column_relations("patterns", pooled, totals={c: ("text", "all", c) for c in cols})
    rel += [Relation(("ranking", "a", "n_cases"), (("patterns", "a", "n_cases"),)),
            Relation(("ranking", "a", "n_closed"), (("patterns", "a", "n_closed"),)),
            Relation(("text", "all", "ranked"), (("ranking", "a", "n_cases"),))]
    known, hidden = printed_knowledge(printed, truth, public)
    assert small(hidden, hidden)  # there are small cells to protect
    assert small(recoverable(rel, known, hidden, truth), hidden) == []
