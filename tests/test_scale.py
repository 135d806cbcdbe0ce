"""casekit.scale on a real two-worker Dask cluster: equal to the in-memory path."""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import casekit as ck

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from casekit import scale  # noqa: E402
from casekit._utils import CasekitError, FileUnusableError  # noqa: E402
from casekit.cli import main  # noqa: E402

MEMORY_LIMIT = 1536 * 2**20  # bytes per worker


def _peak_rss() -> int:
    """Peak resident memory of the calling process in bytes: ``VmHWM`` on Linux (unlike
    ``ru_maxrss`` not inherited from the process that spawned this one)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak() -> None:
    """New peak-memory measurement for the calling process (Linux ``clear_refs``)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit=MEMORY_LIMIT, host="127.0.0.1",
                                  dashboard_address=":0") as lc, distributed.Client(lc) as c:
        yield c


@pytest.fixture(scope="module")
def sample_dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("sample")
    ck.load_sample_events().to_parquet(d / "log.parquet")
    meta = scale.partition_events(d / "log.parquet", d / "parts", partitions=4, block_rows=5000)
    return d / "log.parquet", d / "parts", meta


def _same_graph(G, G0) -> None:
    assert G.graph == G0.graph
    pd.testing.assert_frame_equal(ck.edges_to_frame(G), ck.edges_to_frame(G0))
    pd.testing.assert_frame_equal(ck.nodes_to_frame(G), ck.nodes_to_frame(G0))


def _same_everything(file: Path, parts: Path) -> None:
    """Every scale function on the folder equals the in-memory function on the file."""
    ev = ck.read_events(file)
    cases0 = ck.build_case_table(ev)
    cases = scale.build_case_table(parts)
    pd.testing.assert_frame_equal(cases, cases0)  # row for row, dtypes, column order
    assert cases.attrs == cases0.attrs
    iv0 = ck.build_case_intervals(ev, cases=cases0)
    iv = scale.build_case_intervals(parts, cases=cases)
    pd.testing.assert_frame_equal(iv, iv0)  # the time-varying ranking's rows

    W, H = scale.build_agency_networks(parts)
    W0, H0 = ck.build_agency_networks(ev)
    _same_graph(W, W0)
    _same_graph(H, H0)  # counts, shares and median lags
    Ht = scale.build_handover_network(parts, level="agency_type", include_self=True)
    _same_graph(Ht, ck.build_handover_network(ev, level="agency_type", include_self=True))

    m = scale.median_table(parts, min_cases=5)
    m0 = ck.median_table(cases0, min_cases=5)
    pd.testing.assert_frame_equal(m, m0)
    assert np.isfinite(m["median_ci_low"]).sum() >= 3  # the comparison is not vacuous
    fits, fits0 = scale.fit_time_to_close(parts), ck.fit_time_to_close(cases0)
    assert list(fits) == list(fits0)
    for g, f0 in fits0.items():
        pd.testing.assert_frame_equal(fits[g].confidence_interval_, f0.confidence_interval_)
        assert fits[g].median_survival_time_ == f0.median_survival_time_
    pd.testing.assert_frame_equal(scale.compare_patterns(parts, min_cases=10),
                                  ck.compare_patterns(cases0, min_cases=10))
    pd.testing.assert_frame_equal(scale.median_table(parts, outcome="settle"),
                                  ck.median_table(cases0, outcome="settle"))

    deadlines0 = ck.kpi.build_deadline_table(ev)
    for clock, by in (("handle", "agency"), ("route", "street"), ("notify", "pattern")):
        pd.testing.assert_frame_equal(scale.on_time_rates(parts, clock=clock, by=by),
                                      ck.kpi.on_time_rates(deadlines0, clock=clock, by=by))


def test_partitioning_keeps_cases_whole_and_sorted(sample_dataset):
    file, parts, meta = sample_dataset
    ev = ck.read_events(file)
    seen: dict[str, int] = {}
    for i, f in enumerate(sorted(parts.glob("part.*.parquet"))):
        p = pd.read_parquet(f)
        assert len(p) > 0
        for c in p["case_id"].unique():
            assert c not in seen, f"case {c} in partitions {seen[c]} and {i}"
            seen[c] = i
        key = p["case_id"].to_numpy()
        t = p["timestamp"].to_numpy()
        assert (key[1:] >= key[:-1]).all()
        assert not ((key[1:] == key[:-1]) & (t[1:] < t[:-1])).any()
    assert len(seen) == ev["case_id"].nunique() == meta["n_cases"] == 2000
    assert meta["n_read"] == meta["n_accepted"] == len(ev)
    assert meta["observation_end"] == str(ev.attrs["casekit"]["observation_end"])
    assert meta["column_mapping"] == ev.attrs["casekit"]["column_mapping"]
    assert scale.read_partitioned(parts).npartitions == 4


def test_sample_equals_in_memory(client, sample_dataset):
    file, parts, _ = sample_dataset
    _same_everything(file, parts)


def test_csv_blocks_duplicates_and_quarantine(client, tmp_path):
    """CSV streamed in small blocks (cases cut across blocks), a duplicate and a bad row."""
    ev = ck.load_sample_events().head(3000)
    rows = ev.sample(frac=1.0, random_state=1)  # shuffled: cases spread over every block
    rows = pd.concat([rows, rows.iloc[[5]]])  # one exact duplicate
    rows = rows.astype({"timestamp": "str"})
    rows.iloc[7, rows.columns.get_loc("timestamp")] = "not a date"
    file = tmp_path / "log.csv"
    rows.to_csv(file, index=False)
    meta = scale.partition_events(file, tmp_path / "parts", partitions=3, block_rows=400)
    rep = ck.io.read_events_report(file)
    for k in ("n_read", "n_accepted", "n_quarantined", "n_duplicates"):
        assert meta[k] == rep.metadata[k], k
    assert meta["n_duplicates"] == 1
    q = pd.read_csv(tmp_path / "parts" / "_quarantine.csv")
    assert q["reason"].tolist() == ["unparseable timestamp"]
    _same_everything(file, tmp_path / "parts")
    # counting events as recorded (duplicates kept), as casekit network does by default
    H = scale.build_handover_network(tmp_path / "parts", drop_duplicates=False)
    _same_graph(H, ck.build_handover_network(ck.read_events(file, drop_duplicates=False)))


def test_cli_partition_network_rank_equal_in_memory(client, tmp_path, capsys):
    log = tmp_path / "log.csv"
    assert main(["synth", "--cases", "1500", "--seed", "5", "--out", str(log)]) == 0
    parts = tmp_path / "parts"
    assert main(["partition", str(log), "--out", str(parts), "--partitions", "3"]) == 0
    addr = client.scheduler.address
    for kind in ("handover", "working-together"):
        assert main(["network", str(log), "--kind", kind, "--out", str(tmp_path / "a.csv")]) == 0
        assert main(["network", str(parts), "--kind", kind, "--scheduler", addr,
                     "--out", str(tmp_path / "b.csv")]) == 0
        assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert main(["rank", str(log), "--out", str(tmp_path / "r0.csv")]) == 0
    assert main(["rank", str(parts), "--scheduler", addr, "--out", str(tmp_path / "r1.csv")]) == 0
    assert (tmp_path / "r0.csv").read_bytes() == (tmp_path / "r1.csv").read_bytes()
    assert ((tmp_path / "r0.excluded.csv").read_bytes()
            == (tmp_path / "r1.excluded.csv").read_bytes())
    assert len(pd.read_csv(tmp_path / "r1.csv")) >= 3
    capsys.readouterr()
    assert main(["partition", str(log), "--out", str(parts), "--partitions", "2"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_partition_on_workers_equals_partition_here(client, tmp_path):
    """client=: Parquet row groups / CSV blocks done on the workers give the same dataset."""
    ev = ck.load_sample_events().sample(frac=1.0, random_state=3)  # cases cut across groups
    pq_file, csv_file = tmp_path / "log.parquet", tmp_path / "log.csv"
    ev.to_parquet(pq_file, index=False, row_group_size=4000)
    ev.to_csv(csv_file, index=False)
    for file in (pq_file, csv_file):
        here = scale.partition_events(file, tmp_path / "a", partitions=3, block_rows=1500,
                                      overwrite=True)
        there = scale.partition_events(file, tmp_path / "b", partitions=3, block_rows=1500,
                                       overwrite=True, client=client)
        assert here == there
        for name in ["_quarantine.csv", *(f"part.{k:05d}.parquet" for k in range(3))]:
            a, b = tmp_path / "a" / name, tmp_path / "b" / name
            if name.endswith(".csv"):
                assert a.read_bytes() == b.read_bytes()
            else:
                pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))
        assert not (tmp_path / "b" / "_spill").exists()
    assert here["n_cases"] == 2000


def test_progress_bar_only_when_asked(client, sample_dataset, tmp_path, capsys):
    """Dask's bar goes to stderr with --progress; a test's (non-terminal) stderr never sees it
    otherwise, and stdout never does."""
    _, parts, _ = sample_dataset
    addr = client.scheduler.address
    out = str(tmp_path / "e.csv")
    capsys.readouterr()
    assert main(["network", str(parts), "--kind", "handover", "--scheduler", addr,
                 "--out", out]) == 0
    quiet = capsys.readouterr()
    assert "Completed" not in quiet.err + quiet.out
    assert main(["network", str(parts), "--kind", "handover", "--scheduler", addr,
                 "--progress", "--out", str(tmp_path / "f.csv")]) == 0
    shown = capsys.readouterr()
    assert "% Completed" in shown.err
    assert "Completed" not in shown.out
    assert (tmp_path / "e.csv").read_bytes() == (tmp_path / "f.csv").read_bytes()


def test_errors(tmp_path):
    with pytest.raises(FileUnusableError, match="not a casekit partitioned dataset"):
        scale.read_partitioned(tmp_path)
    ev = ck.load_sample_events().head(500)
    import dask.dataframe as dd

    split = dd.from_pandas(ev, npartitions=3, sort=False)  # cut by position: splits cases
    with pytest.raises(CasekitError, match="split across partitions"):
        scale.build_case_table(split)
    with pytest.raises(CasekitError, match="partitions"):
        scale.partition_events(tmp_path / "x.parquet", tmp_path / "out", partitions=0)


@pytest.mark.slow
def test_100k_case_district_equal_and_within_memory_limit(client, tmp_path):
    ev, _ = ck.synth.generate_district(100_000, seed=7)
    file = tmp_path / "district.parquet"
    ev.to_parquet(file, index=False)
    del ev
    scale.partition_events(file, tmp_path / "parts", partitions=6, client=client)
    client.run(_reset_peak)  # the workers' peak memory from here on is this test's
    workers = set(client.scheduler_info()["workers"])
    _same_everything(file, tmp_path / "parts")
    peaks = client.run(_peak_rss)
    assert set(peaks) == workers  # no worker was lost or restarted (for memory) on the way
    assert all(p < MEMORY_LIMIT for p in peaks.values()), peaks


@pytest.mark.slow
def test_cli_on_100k_case_district_equal_in_memory(client, tmp_path):
    """casekit partition, then network --kind handover and rank on the folder: the same files
    as the in-memory commands on the log (100k cases)."""
    ev, _ = ck.synth.generate_district(100_000, seed=11)
    log = tmp_path / "district.parquet"
    ev.to_parquet(log, index=False)
    del ev
    parts = tmp_path / "parts"
    assert main(["partition", str(log), "--out", str(parts), "--partitions", "5"]) == 0
    addr = client.scheduler.address
    assert main(["network", str(log), "--kind", "handover", "--out", str(tmp_path / "a.csv")]) == 0
    assert main(["network", str(parts), "--kind", "handover", "--scheduler", addr,
                 "--out", str(tmp_path / "b.csv")]) == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert len(pd.read_csv(tmp_path / "a.csv")) > 100
    assert main(["rank", str(log), "--out", str(tmp_path / "r0.csv")]) == 0
    assert main(["rank", str(parts), "--scheduler", addr, "--out", str(tmp_path / "r1.csv")]) == 0
    assert (tmp_path / "r0.csv").read_bytes() == (tmp_path / "r1.csv").read_bytes()
    assert len(pd.read_csv(tmp_path / "r1.csv")) >= 5
