"""Tests for casekit.network and the ``casekit network`` command.

The fixture log ``LOG`` (agencies B = bureau, S = street, C = court, H = housing)::

    c1: B(d0) S(d1) S(d2) C(d3) S(d5)
    c2: B(d0) S(d2) H(d3)
    c3: B(d0) B(d1)
    c4: C(d0)

Counted on paper:

* hand-over pairs (self pairs included): c1 B>S S>S S>C C>S, c2 B>S S>H, c3 B>B; 7 pairs in all
  = 11 events - 4 cases. B>S = 2 (lags 1 and 2 days -> median 1.5), S>S = 1, B>B = 1,
  S>C = C>S = S>H = 1.
* working together, agency sets: c1 {B,S,C}, c2 {B,S,H}, c3 {B}, c4 {C}: B-S 2, B-C 1, S-C 1,
  B-H 1, S-H 1, C-H 0; cases per agency B 3, S 2, C 2, H 1; share = count / 4.
* referral loops after collapsing repeats: c1 B S C S -> one loop S>C>S; 1 of 4 cases.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import casekit as ck
from casekit import network as cn
from casekit._utils import CasekitError
from casekit.cli import main

SHARED = Path(__file__).resolve().parents[2] / "shared"
RECEIPT = SHARED / "data" / "real" / "receipt" / "receipt.xes.gz"
REFERENCE = SHARED / "data" / "reference"

TYPES = {"B": "petition_bureau", "S": "street_office", "C": "court",
         "H": "housing_construction_bureau"}


def _log(rows: list[tuple[str, int, str]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["case_id", "day", "agency"])
    df["timestamp"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(df.pop("day"), unit="D")
    df["activity"] = "investigate"
    df["agency_type"] = df["agency"].map(TYPES).fillna("unknown")
    return df[["case_id", "timestamp", "activity", "agency", "agency_type"]]


LOG_ROWS = [
    ("c1", 0, "B"), ("c1", 1, "S"), ("c1", 2, "S"), ("c1", 3, "C"), ("c1", 5, "S"),
    ("c2", 0, "B"), ("c2", 2, "S"), ("c2", 3, "H"),
    ("c3", 0, "B"), ("c3", 1, "B"),
    ("c4", 0, "C"),
]


@pytest.fixture
def log() -> pd.DataFrame:
    return _log(LOG_ROWS)


def _edges(G: nx.Graph, attr: str = "count") -> dict[tuple[str, str], float]:
    return {(u, v) if G.is_directed() else tuple(sorted((u, v))): d[attr]
            for u, v, d in G.edges(data=True)}


# ------------------------------------------------------------------------ hand-checked counts
def test_handover_counts_match_the_paper_count(log):
    G = ck.build_handover_network(log)
    assert isinstance(G, nx.DiGraph)
    assert _edges(G) == {("B", "S"): 2, ("S", "C"): 1, ("C", "S"): 1, ("S", "H"): 1}
    assert G.graph["n_pairs"] == 7
    assert G.graph["n_self_pairs"] == 2
    assert G.edges["B", "S"]["share"] == pytest.approx(2 / 7)
    assert G.edges["B", "S"]["median_lag_days"] == pytest.approx(1.5)
    assert G.edges["C", "S"]["median_lag_days"] == pytest.approx(2.0)


def test_self_pairs_only_on_request(log):
    G = ck.build_handover_network(log, include_self=True)
    counts = _edges(G)
    assert counts[("S", "S")] == 1
    assert counts[("B", "B")] == 1
    assert sum(counts.values()) == 7  # all consecutive pairs = events - cases
    assert sum(_edges(G, "share").values()) == pytest.approx(1.0)


def test_working_together_counts_and_node_attributes(log):
    G = ck.build_working_together_network(log)
    assert isinstance(G, nx.Graph)
    assert not G.is_directed()
    assert _edges(G) == {("B", "S"): 2, ("B", "C"): 1, ("C", "S"): 1, ("B", "H"): 1,
                         ("H", "S"): 1}
    assert not G.has_edge("C", "H")
    assert G.edges["B", "S"]["share"] == pytest.approx(0.5)
    assert {n: d["n_cases"] for n, d in G.nodes(data=True)} == {"B": 3, "S": 2, "C": 2, "H": 1}
    assert G.nodes["S"]["agency_type"] == "street_office"
    assert G.graph["n_cases"] == 4


def test_agency_type_level_aggregates_agencies_of_one_type():
    # two street offices S and S2 in one case: at type level the pair becomes a self pair
    ev = _log([("a", 0, "B"), ("a", 1, "S"), ("a", 2, "S2"), ("b", 0, "S2"), ("b", 1, "C")])
    ev.loc[ev["agency"] == "S2", "agency_type"] = "street_office"
    H = ck.build_handover_network(ev, level="agency_type", include_self=True)
    assert _edges(H) == {("petition_bureau", "street_office"): 1,
                         ("street_office", "street_office"): 1,
                         ("street_office", "court"): 1}
    W = ck.build_working_together_network(ev, level="agency_type")
    assert _edges(W) == {("petition_bureau", "street_office"): 1, ("court", "street_office"): 1}
    assert W.nodes["street_office"]["n_cases"] == 2


def test_subset_of_cases_changes_counts_and_denominators(log):
    G = ck.build_working_together_network(log, cases=["c1", "c3"])
    assert G.graph["n_cases"] == 2
    assert _edges(G) == {("B", "S"): 1, ("B", "C"): 1, ("C", "S"): 1}
    assert G.edges["B", "S"]["share"] == pytest.approx(0.5)
    H = ck.build_handover_network(log, cases={"c2"})
    assert _edges(H) == {("B", "S"): 1, ("S", "H"): 1}
    assert H.graph["n_pairs"] == 2


def test_unsorted_input_gives_the_same_networks(log):
    shuffled = log.sample(frac=1, random_state=3).reset_index(drop=True)
    assert not shuffled.equals(log)
    for build in (ck.build_handover_network, ck.build_working_together_network):
        a, b = build(log), build(shuffled)
        assert _edges(a) == _edges(b)
        assert dict(a.nodes(data=True)) == dict(b.nodes(data=True))


def test_ties_in_time_keep_source_order():
    ts = pd.Timestamp("2024-03-01 09:00")
    ev = pd.DataFrame({"case_id": ["k", "k", "k"], "timestamp": [ts, ts, ts + pd.Timedelta("1h")],
                       "agency": ["X", "Y", "Z"]})
    assert _edges(ck.build_handover_network(ev)) == {("X", "Y"): 1, ("Y", "Z"): 1}
    swapped = ev.iloc[[1, 0, 2]].reset_index(drop=True)
    assert _edges(ck.build_handover_network(swapped)) == {("Y", "X"): 1, ("X", "Z"): 1}
    # a later case id before an earlier one (not sorted): still source order for the tie
    two = pd.concat([ev.assign(case_id="z"), swapped.assign(case_id="a")], ignore_index=True)
    assert _edges(ck.build_handover_network(two)) == {("X", "Y"): 1, ("Y", "X"): 1,
                                                     ("X", "Z"): 1, ("Y", "Z"): 1}


def test_missing_agency_is_a_node_or_dropped():
    ev = pd.DataFrame({"case_id": ["k"] * 3,
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
                       "agency": pd.Series(["X", None, "Y"], dtype="str")})
    assert _edges(ck.build_handover_network(ev)) == {("X", "unknown"): 1, ("unknown", "Y"): 1}
    assert _edges(ck.build_handover_network(ev, missing_agency=None)) == {("X", "Y"): 1}
    assert _edges(ck.build_working_together_network(ev, missing_agency=None)) == {("X", "Y"): 1}


def test_missing_column_is_a_readable_error(log):
    with pytest.raises(CasekitError, match=r"missing column 'agency'.*found: case_id"):
        ck.build_working_together_network(log.drop(columns="agency"))
    with pytest.raises(CasekitError, match="missing column 'timestamp'"):
        ck.build_handover_network(log.drop(columns="timestamp"))


def test_sparse_path_equals_bitmask_path():
    rng = np.random.default_rng(5)
    for k in (5, 70):  # 70 agencies: the public function itself takes the sparse path
        n = 3000
        ev = pd.DataFrame({
            "case_id": np.sort(rng.integers(0, 400, n)).astype(str),
            "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n),
                                                                      unit="s"),
            "agency": [f"a{i:02d}" for i in rng.integers(0, k, n)],
        })
        enc = cn._encode(ev, what="t", level="agency", need_time=False, cases=None,
                         missing_agency="unknown")
        n_sparse, sparse = cn._incidence_counts(enc, force_general=True)
        if k <= cn._BITMASK_MAX:
            n_mask, mask = cn._incidence_counts(enc)
            np.testing.assert_array_equal(n_mask, n_sparse)
            np.testing.assert_array_equal(mask.keys, sparse.keys)
            np.testing.assert_array_equal(mask.counts, sparse.counts)
        assert _edges(ck.build_working_together_network(ev)) == _naive_working_together(ev)


# ----------------------------------------------------------------------- joint conferences
def test_joint_conference_uses_participants_or_same_day_events():
    ev = pd.DataFrame({
        "case_id": ["c1", "c1", "c1", "c2", "c3"],
        "timestamp": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 15:00", "2024-01-02 09:00",
                                     "2024-02-01 09:00", "2024-02-03 09:00"]),
        "activity": ["joint_conference", "joint_conference", "mediate", "joint_conference",
                     "joint_conference"],
        "agency": ["S", "C", "S", "S", "B"],
        "agency_type": ["street_office", "court", "street_office", "street_office",
                        "petition_bureau"],
        "participants": [None, None, None, "C、H", "S；C;H"],
    })
    # conferences: c1 day1 {S, C} (same case, same day); c2 {S, C, H}; c3 {B, S, C, H}
    B, P = ck.build_joint_conference_network(ev)
    assert nx.is_bipartite(B)
    confs = [n for n, d in B.nodes(data=True) if d["bipartite"] == 0]
    assert len(confs) == 3
    assert _edges(P) == {("C", "S"): 3, ("C", "H"): 2, ("H", "S"): 2, ("B", "S"): 1,
                         ("B", "C"): 1, ("B", "H"): 1}
    assert P.edges["C", "S"]["share"] == pytest.approx(1.0)
    assert P.nodes["H"]["n_conferences"] == 2
    _, T = ck.build_joint_conference_network(ev, level="agency_type")
    assert T.edges["court", "street_office"]["count"] == 3
    assert T.has_node("unknown")  # H has no known type


# ----------------------------------------------------------------------------- tables etc.
def test_edge_and_node_tables(log):
    e = ck.edges_to_frame(ck.build_working_together_network(log))
    assert list(e.columns[:4]) == ["source", "target", "count", "share"]
    assert (e["source"] < e["target"]).all()
    assert e["count"].sum() == 6
    h = ck.edges_to_frame(ck.build_handover_network(log))
    assert "median_lag_days" in h.columns
    nodes = ck.nodes_to_frame(ck.build_working_together_network(log))
    assert set(nodes["node"]) == {"B", "S", "C", "H"}
    assert {"agency_type", "n_cases", "n_events"} <= set(nodes.columns)
    empty = ck.edges_to_frame(nx.Graph())
    assert list(empty.columns) == ["source", "target", "count", "share"]


def test_network_by_period_puts_each_case_in_its_opening_quarter(log):
    ev = log.copy()
    later = ev["case_id"].isin(["c3", "c4"])
    ev.loc[later, "timestamp"] += pd.Timedelta(days=120)  # c3, c4 open in 2024Q2
    out = ck.build_network_by_period(ev, kind="working_together", by="quarter")
    q1 = out[out["period"] == "2024Q1"]
    assert dict(zip(zip(q1["source"], q1["target"], strict=True), q1["count"], strict=True)) == {
        ("B", "S"): 2, ("B", "C"): 1, ("C", "S"): 1, ("B", "H"): 1, ("H", "S"): 1}
    assert q1.loc[q1["source"].eq("B") & q1["target"].eq("S"), "share"].item() == 1.0
    assert json.loads(out.attrs["n_cases"]) == {"2024Q1": 2, "2024Q2": 2}
    assert (out["period"] == "2024Q2").sum() == 0  # c3 and c4 have no pairs of agencies
    ho = ck.build_network_by_period(ev, kind="handover", by="year", include_self=True)
    assert ho["count"].sum() == 7


# ------------------------------------------------------------------------------- metrics
def test_metrics_on_the_working_together_graph(log):
    m = ck.network_metrics(ck.build_working_together_network(log))
    assert m["weighted_degree"].to_dict() == {"B": 4, "C": 2, "H": 2, "S": 4}
    # C-H: two shortest paths (via B, via S; distance 1 + 1), so B and S each get 1/2;
    # normalised by (n-1)(n-2)/2 = 3
    assert m.loc["B", "betweenness"] == pytest.approx(1 / 6)
    assert m.loc["S", "betweenness"] == pytest.approx(1 / 6)
    assert m.loc["C", "betweenness"] == 0
    assert m.loc["B", "eigenvector"] == pytest.approx(m.loc["S", "eigenvector"])
    assert m.loc["C", "eigenvector"] == pytest.approx(m.loc["H", "eigenvector"])
    assert m.loc["B", "eigenvector"] > m.loc["C", "eigenvector"]
    assert m["community"].notna().all()


def test_betweenness_uses_distance_one_over_count():
    # a-b strong (10), b-c strong (10), a-c weak (1): the path a-b-c (0.2) beats a-c (1),
    # so b brokers between a and c
    G = nx.Graph()
    G.add_edge("a", "b", count=10)
    G.add_edge("b", "c", count=10)
    G.add_edge("a", "c", count=1)
    m = ck.network_metrics(G)
    assert m.loc["b", "betweenness"] == pytest.approx(1.0)
    assert m.loc["a", "betweenness"] == 0


def test_louvain_finds_two_cliques_with_a_seed():
    G = nx.Graph()
    for group in (("a", "b", "c"), ("d", "e", "f")):
        for u, v in itertools.combinations(group, 2):
            G.add_edge(u, v, count=10)
    G.add_edge("c", "d", count=1)
    m = ck.network_metrics(G, seed=1)
    assert m.loc["a", "community"] == m.loc["b", "community"] == m.loc["c", "community"]
    assert m.loc["d", "community"] == m.loc["e", "community"] == m.loc["f", "community"]
    assert m.loc["a", "community"] != m.loc["d", "community"]
    assert m.attrs["n_communities"] == 2
    assert m.attrs["modularity"] > 0.3
    pd.testing.assert_frame_equal(m, ck.network_metrics(G, seed=1))


def test_reciprocity_of_handovers(log):
    m = ck.network_metrics(ck.build_handover_network(log))
    # edges B>S, S>C, C>S, S>H: only S<->C is reciprocated, 2 of 4 edges
    assert m.attrs["reciprocity"] == pytest.approx(0.5)
    assert m.loc["C", "reciprocity"] == pytest.approx(1.0)
    assert m.loc["B", "reciprocity"] == 0
    assert m.loc["S", "in_weight"] == 3
    assert m.loc["S", "out_weight"] == 2


def test_referral_loops(log):
    loops = ck.find_referral_loops(log)
    assert loops[["origin", "via", "count", "n_cases"]].to_dict("records") == [
        {"origin": "S", "via": "C", "count": 1, "n_cases": 1}]
    assert loops.attrs["n_cases_with_loop"] == 1
    assert loops.attrs["share_cases_with_loop"] == pytest.approx(0.25)
    # a ping-pong A B A B A: loops A>B>A twice, B>A>B once, in one case; never across cases
    ev = _log([("x", d, a) for d, a in enumerate("ABABA")] + [("y", 0, "A"), ("z", 0, "A")])
    got = ck.find_referral_loops(ev)
    assert got[["origin", "via", "count", "n_cases"]].to_dict("records") == [
        {"origin": "A", "via": "B", "count": 2, "n_cases": 1},
        {"origin": "B", "via": "A", "count": 1, "n_cases": 1}]
    assert got.attrs["share_cases_with_loop"] == pytest.approx(1 / 3)


# ------------------------------------------------------------------- property-based tests
def _naive_handover(ev: pd.DataFrame, include_self: bool) -> dict[tuple[str, str], int]:
    c: Counter = Counter()
    ordered = ev.reset_index(drop=True).reset_index()
    for _, g in ordered.groupby("case_id", sort=False):
        seq = g.sort_values(["timestamp", "index"])["agency"].tolist()
        for a, b in itertools.pairwise(seq):
            if include_self or a != b:
                c[(a, b)] += 1
    return dict(c)


def _naive_working_together(ev: pd.DataFrame) -> dict[tuple[str, str], int]:
    c: Counter = Counter()
    for _, g in ev.groupby("case_id"):
        for a, b in itertools.combinations(sorted(set(g["agency"])), 2):
            c[(a, b)] += 1
    return dict(c)


logs = st.lists(
    st.tuples(st.sampled_from(["c1", "c2", "c3", "c4", "c5"]), st.integers(0, 5),
              st.sampled_from(["A", "B", "C", "D"])),
    min_size=1, max_size=40,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=logs, include_self=st.booleans())
def test_handover_equals_a_plain_python_count(rows, include_self):
    ev = _log(rows)
    G = ck.build_handover_network(ev, include_self=include_self)
    assert _edges(G) == _naive_handover(ev, include_self)
    n_pairs = len(ev) - ev["case_id"].nunique()
    assert G.graph["n_pairs"] == n_pairs
    if include_self:
        assert sum(_edges(G).values()) == n_pairs
    for _, _, d in G.edges(data=True):
        assert d["share"] == pytest.approx(d["count"] / n_pairs)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=logs)
def test_working_together_equals_a_plain_python_count(rows):
    ev = _log(rows)
    G = ck.build_working_together_network(ev)
    assert _edges(G) == _naive_working_together(ev)
    n_cases = ev["case_id"].nunique()
    for u, v, d in G.edges(data=True):
        assert d["count"] <= min(G.nodes[u]["n_cases"], G.nodes[v]["n_cases"])
        assert d["share"] == pytest.approx(d["count"] / n_cases)


# ------------------------------------------------------------------------------------ CLI
@pytest.fixture
def log_csv(tmp_path, log) -> Path:
    p = tmp_path / "log.csv"
    log.to_csv(p, index=False)
    return p


def test_cli_handover_writes_the_contract_columns(log_csv, tmp_path, capsys):
    out = tmp_path / "edges.csv"
    rc = main(["network", str(log_csv), "--kind", "handover", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    e = pd.read_csv(out)
    assert list(e.columns) == ["source", "target", "count", "share"]
    got = {(s, t): c for s, t, c in zip(e["source"], e["target"], e["count"], strict=True)}
    assert got == {("B", "S"): 2, ("S", "C"): 1, ("C", "S"): 1, ("S", "H"): 1}
    assert e["share"].tolist() == pytest.approx((e["count"] / 7).tolist())
    rc = main(["network", str(log_csv), "--kind", "handover", "--include-self", "--out", str(out)])
    assert rc == 0
    assert pd.read_csv(out)["count"].sum() == 7


def test_cli_working_together_one_row_per_unordered_pair(log_csv, tmp_path):
    out = tmp_path / "wt.csv"
    assert main(["network", str(log_csv), "--kind", "working-together", "--out", str(out)]) == 0
    e = pd.read_csv(out)
    assert list(e.columns) == ["source", "target", "count", "share"]
    assert (e["source"] < e["target"]).all()
    assert len(e) == len(e.drop_duplicates(["source", "target"])) == 5
    assert e.set_index(["source", "target"]).loc[("B", "S"), "share"] == pytest.approx(0.5)


def test_cli_errors_are_one_line_with_exit_2(log_csv, tmp_path, capsys):
    out = tmp_path / "e.csv"
    bad = tmp_path / "bad.csv"
    pd.read_csv(log_csv).drop(columns="agency").to_csv(bad, index=False)
    rc = main(["network", str(bad), "--kind", "handover", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert "agency" in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err
    rc = main(["network", str(log_csv), "--columns", "agency=nope", "--kind", "handover",
               "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert "nope" in err
    assert len(err.splitlines()) == 1
    rc = main(["network", str(tmp_path / "absent.csv"), "--kind", "handover", "--out", str(out)])
    assert rc == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exc:
        main(["network", str(log_csv), "--kind", "sideways", "--out", str(out)])
    assert exc.value.code == 2
    assert not out.exists()


def test_cli_output_is_spreadsheet_safe(tmp_path):
    ev = _log([("k", 0, "=cmd|' /C calc'!A0"), ("k", 1, "S")])
    src = tmp_path / "evil.csv"
    ev.to_csv(src, index=False)
    out = tmp_path / "o.csv"
    assert main(["network", str(src), "--kind", "handover", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "\n=cmd" not in text
    assert ",=cmd" not in text


# ----------------------------------------------------------------------- real public log
def _reference(name: str, denominator: int) -> dict[tuple[str, str], int]:
    ref = pd.read_csv(REFERENCE / name)
    raw = ref["pm4py_value"] * denominator
    counts = np.rint(raw).astype(int)
    assert np.abs(raw - counts).max() < 1e-6  # the de-normalised values are whole numbers
    return dict(zip(zip(ref["source"], ref["target"], strict=True), counts, strict=True))


@pytest.mark.real
@pytest.mark.skipif(not RECEIPT.exists(), reason="../shared/data/real/receipt is not available")
def test_cli_handover_equals_pm4py_on_the_receipt_log(tmp_path):
    out = tmp_path / "h.csv"
    rc = main(["network", str(RECEIPT), "--columns", "agency=org:group", "--kind", "handover",
               "--include-self", "--out", str(out)])
    assert rc == 0
    e = pd.read_csv(out, keep_default_na=False)
    ours = dict(zip(zip(e["source"], e["target"], strict=True), e["count"], strict=True))
    assert ours == _reference("receipt_pm4py_handover_org_group.csv", 7143)
    assert e["count"].sum() == 7143
    ref = pd.read_csv(REFERENCE / "receipt_pm4py_handover_org_group.csv")
    merged = e.merge(ref, on=["source", "target"])
    np.testing.assert_allclose(merged["share"], merged["pm4py_value"], rtol=1e-12)


@pytest.mark.real
@pytest.mark.skipif(not RECEIPT.exists(), reason="../shared/data/real/receipt is not available")
def test_cli_working_together_equals_pm4py_on_the_receipt_log(tmp_path):
    out = tmp_path / "w.csv"
    rc = main(["network", str(RECEIPT), "--columns", "agency=org:group", "--kind",
               "working-together", "--out", str(out)])
    assert rc == 0
    e = pd.read_csv(out, keep_default_na=False)
    ref = _reference("receipt_pm4py_working_together_org_group.csv", 8577)
    # PM4Py stores each unordered pair in both directions; ours once with source < target
    assert all(ref[(t, s)] == c for (s, t), c in ref.items())
    expected = {(s, t): c for (s, t), c in ref.items() if s < t}
    ours = dict(zip(zip(e["source"], e["target"], strict=True), e["count"], strict=True))
    assert ours == expected
    np.testing.assert_allclose(e["share"], e["count"] / 1434)


# ------------------------------------------------------------------------- input variants
def test_categorical_agencies_and_numeric_case_ids_give_the_same_counts(log):
    ev = log.assign(agency=log["agency"].astype("category"),
                    case_id=log["case_id"].str[1:].astype(int))
    assert _edges(ck.build_handover_network(ev)) == _edges(ck.build_handover_network(log))
    assert _edges(ck.build_working_together_network(ev)) == _edges(
        ck.build_working_together_network(log))


def test_missing_timestamps_go_last_in_their_case_and_have_no_lag():
    ev = pd.DataFrame({"case_id": ["k"] * 3,
                       "timestamp": pd.to_datetime([None, "2024-01-01", "2024-01-03"]),
                       "agency": ["Z", "X", "Y"]})
    G = ck.build_handover_network(ev)
    assert _edges(G) == {("X", "Y"): 1, ("Y", "Z"): 1}
    assert G.edges["X", "Y"]["median_lag_days"] == 2.0
    assert np.isnan(G.edges["Y", "Z"]["median_lag_days"])


def test_empty_log_and_single_event_cases():
    empty = _log([]).iloc[0:0]
    for build in (ck.build_handover_network, ck.build_working_together_network):
        G = build(empty)
        assert G.number_of_nodes() == 0
        assert G.number_of_edges() == 0
    single = _log([("a", 0, "B"), ("b", 0, "S")])
    H = ck.build_handover_network(single, include_self=True)
    assert H.graph["n_pairs"] == 0
    assert H.number_of_edges() == 0
    assert set(H.nodes) == {"B", "S"}
    assert len(ck.find_referral_loops(single)) == 0


@pytest.mark.parametrize("include_self", [False, True])
def test_both_networks_in_one_pass_equal_the_separate_builders(log, include_self):
    shuffled = log.sample(frac=1, random_state=1).reset_index(drop=True)
    W, H = ck.build_agency_networks(shuffled, include_self=include_self)
    W1 = ck.build_working_together_network(log)
    H1 = ck.build_handover_network(log, include_self=include_self)
    for a, b in ((W, W1), (H, H1)):
        assert dict(a.edges.items()) == dict(b.edges.items())
        assert dict(a.nodes(data=True)) == dict(b.nodes(data=True))
        assert a.graph == b.graph


def test_cli_counts_exact_duplicate_events_as_recorded_unless_asked(tmp_path, capsys):
    """PM4Py counts every recorded event; so does `casekit network` unless --drop-duplicates."""
    from casekit.cli import main

    log = tmp_path / "dup.csv"
    log.write_text(
        "case_id,timestamp,activity,agency\n"
        "A,2023-01-01 09:00,register,X\n"
        "A,2023-01-01 09:00,register,X\n"
        "A,2023-01-02 09:00,close,Y\n",
        encoding="utf-8",
    )
    out = tmp_path / "e.csv"
    assert main(["network", str(log), "--kind", "handover", "--include-self", "--out", str(out)]) == 0
    kept = pd.read_csv(out).set_index(["source", "target"])["count"].to_dict()
    assert kept == {("X", "X"): 1, ("X", "Y"): 1}
    assert main(["network", str(log), "--kind", "handover", "--include-self",
                 "--drop-duplicates", "--out", str(out)]) == 0
    dropped = pd.read_csv(out).set_index(["source", "target"])["count"].to_dict()
    assert dropped == {("X", "Y"): 1}
    assert "1 exact duplicates" in capsys.readouterr().err


# ------------------------------------------------------- sparse counting, many agencies (issue 11)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=logs, include_self=st.booleans())
def test_sparse_counting_equals_the_dense_tables(rows, include_self):
    """The sorted, sparse kernels (used above 2048 agencies) give the dense kernels' counts."""
    ev = _log(rows)
    dense = ck.build_agency_networks(ev, include_self=include_self)
    loops = ck.find_referral_loops(ev)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cn, "_DENSE_MAX", 0)
        mp.setattr(cn, "_BITMASK_MAX", 0)
        sparse = ck.build_agency_networks(ev, include_self=include_self)
        sparse_loops = ck.find_referral_loops(ev)
    for a, b in zip(dense, sparse, strict=True):
        assert list(a.edges(data=True)) == list(b.edges(data=True))
        assert list(a.nodes(data=True)) == list(b.nodes(data=True))
    assert _edges(sparse[1]) == _naive_handover(ev, include_self)
    pd.testing.assert_frame_equal(loops, sparse_loops)


@pytest.mark.parametrize("unit", [10**9, 1])
def test_median_lags_by_packed_sort_and_by_partition_equal_numpy(unit):
    rng = np.random.default_rng(unit)
    keys = rng.integers(0, 50 if unit > 1 else 5000, 2000)
    lag = rng.integers(0, 400 * 86_400, 2000) * 10**9  # whole seconds, in ns
    if unit == 1:
        lag += rng.integers(0, 10**9, 2000)  # ... or not

    def median(v: np.ndarray) -> float:  # middle pair summed as integers, then halved
        v = sorted(v.tolist())
        return (v[(len(v) - 1) // 2] + v[len(v) // 2]) / 2

    expected = {k: median(lag[keys == k]) for k in set(keys.tolist())}
    general = cn._group_medians_general(keys, lag)
    assert dict(zip(general.keys.tolist(), general.counts.tolist(), strict=True)) == expected
    packed = cn._group_medians(keys, lag)
    if unit == 1:  # 400 days in ns (55 bits) + 13 key bits do not fit into 62 bits
        assert packed is None
    else:
        assert dict(zip(packed.keys.tolist(), packed.counts.tolist(), strict=True)) == expected


def test_median_lag_of_nanosecond_timestamps():
    ts = pd.Timestamp("2024-01-01")
    ev = pd.DataFrame({"case_id": ["a"] * 4 + ["b"] * 2,
                       "timestamp": [ts, ts + pd.Timedelta(days=300, nanoseconds=1),
                                     ts + pd.Timedelta(days=301),
                                     ts + pd.Timedelta(days=302, nanoseconds=3),
                                     ts, ts + pd.Timedelta(days=1, nanoseconds=5)],
                       "agency": ["X", "Y", "X", "Y", "X", "Y"]})
    G = ck.build_handover_network(ev)
    day = 86_400 * 10**9
    assert G.edges["X", "Y"]["count"] == 3  # lags 300 d + 1 ns, 1 d + 3 ns, 1 d + 5 ns
    assert G.edges["X", "Y"]["median_lag_days"] == (day + 5) / day
    assert G.edges["Y", "X"]["median_lag_days"] == (day - 1) / day


_MANY_AGENCIES = """
import resource, sys
import numpy as np, pandas as pd
import casekit as ck
k, n_cases = 100_000, 100_000
rng = np.random.default_rng(0)
sizes = rng.integers(1, 5, n_cases)
case = np.repeat(np.arange(n_cases), sizes)
ag = rng.integers(0, k, len(case))
ag[:k] = np.arange(k)  # every agency occurs
names = np.array([f"agency {i:06d}" for i in range(k)], dtype=object)
ev = pd.DataFrame({
    "case_id": pd.array([f"C{i:07d}" for i in case], dtype="str"),
    "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(case)), unit="s"),
    "agency": pd.array(names[ag], dtype="str"),
})
W, H = ck.build_agency_networks(ev, include_self=True)
loops = ck.find_referral_loops(ev)
d = ev[["case_id", "agency"]].drop_duplicates()
m = d.merge(d, on="case_id")
m = m[m["agency_x"] < m["agency_y"]].groupby(["agency_x", "agency_y"]).size()
ours = {tuple(sorted(e[:2])): e[2] for e in W.edges(data="count")}
assert ours == {kv: int(c) for kv, c in m.items()}, "working together differs from pandas"
assert sum(c for *_, c in H.edges(data="count")) == len(ev) - n_cases
print(W.number_of_nodes(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_networks_over_100000_agencies_stay_under_2_gib(tmp_path):
    """Counting is sparse: memory grows with the pairs that occur, not with agencies squared."""
    import subprocess
    import sys

    script = tmp_path / "many.py"
    script.write_text(_MANY_AGENCIES, encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    env = {**__import__("os").environ, "PYTHONPATH": str(root), "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=env, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    nodes, peak_kib = map(int, out.stdout.split())
    assert nodes == 100_000
    assert peak_kib < 2 * 1024 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"


@pytest.mark.parametrize("kind", ["handover", "working-together"])
def test_cli_network_on_the_sample_equals_the_in_memory_network(kind, tmp_path):
    """The CLI's edge file holds the library's counts and shares for the same file, exactly."""
    src = Path(ck.__file__).parent / "datasets" / "sample_events.csv.gz"
    out = tmp_path / "edges.csv"
    assert main(["network", str(src), "--kind", kind, "--out", str(out)]) == 0
    ev = ck.read_events(src)
    G = (ck.build_handover_network(ev) if kind == "handover"
         else ck.build_working_together_network(ev))
    ref = ck.edges_to_frame(G)
    got = pd.read_csv(out, dtype={"source": "str", "target": "str"})
    key = ["source", "target"]
    got = got.sort_values(key).reset_index(drop=True)
    ref = ref.sort_values(key).reset_index(drop=True)
    assert got[key].astype("str").equals(ref[key].astype("str"))
    np.testing.assert_array_equal(got["count"].to_numpy(), ref["count"].to_numpy())
    np.testing.assert_allclose(got["share"].to_numpy(), ref["share"].to_numpy(), rtol=1e-12)


def test_networks_do_not_depend_on_the_text_encoding():
    """Categorical, object, chunked arrow and contiguous-unsorted events: the same graphs."""
    import pyarrow as pa

    src = Path(ck.__file__).parent / "datasets" / "sample_events.csv.gz"
    ev = ck.read_events(src)
    half = len(ev) // 2
    order = ev["case_id"].iloc[::-1].unique()  # cases contiguous, ids not sorted
    pos = pd.Index(order).get_indexer(ev["case_id"])
    variants = {
        "categorical": ev.astype({c: pd.CategoricalDtype([*ev[c].dropna().unique(), "zz"])
                                  for c in ("case_id", "agency", "agency_type")}),
        "object": ev.astype(dict.fromkeys(("case_id", "agency", "agency_type"), object)),
        "two arrow chunks": pd.concat([ev.iloc[:half], ev.iloc[half:]]),
        "arrow dictionary": ev.astype({"agency": pd.ArrowDtype(pa.dictionary(pa.int32(),
                                                                              pa.string()))}),
        "reversed cases": ev.iloc[np.argsort(pos, kind="stable")].reset_index(drop=True),
    }

    def graphs(frame):
        W, H = ck.build_agency_networks(frame)
        H2 = ck.build_handover_network(frame, include_self=True)
        return [nx.node_link_data(G, edges="links") for G in (W, H, H2)]

    ref = graphs(ev)
    for name, frame in variants.items():
        assert graphs(frame) == ref, name
