"""Beyond one machine: casekit's analyses on a Dask cluster, equal to the in-memory results.

A log too large for one machine is *partitioned once* (:func:`partition_events`, ``casekit
partition``): a folder of Parquet files in which every case sits whole in one file (cases are
assigned by a hash of ``case_id``), rows sorted by case and time (ties in source order). The same
analyses then run on the folder (or on a Dask DataFrame whose partitions hold whole cases):
casekit's own vectorised kernels run on each partition (``map_partitions``), their small tallies
are summed, and the final step is the in-memory code itself, so the results are the same pandas
and networkx objects as :func:`casekit.build_case_table`, :func:`casekit.build_agency_networks`,
:func:`casekit.median_table`, :func:`casekit.compare_patterns` and
:func:`casekit.kpi.on_time_rates` give on the whole log. Dask does the scheduling, the
spilling and the cluster (:func:`cluster`: a ``LocalCluster`` sized to the machine, or the
address of a running scheduler); casekit adds no engine of its own.

What is reduced across partitions, and how:

* observation end: global (given, recorded at partitioning, or the largest timestamp of all
  partitions), never a partition's own;
* networks: per-partition pair counts (consecutive pairs within cases; cases in which both
  agencies acted) are additive and are summed; shares are computed after the sum; median lags
  come from summed (edge, lag) counts, so they are exact too;
* Kaplan-Meier and log-rank: per-partition counts of (group, time, event) are summed; the
  product-limit estimator, Greenwood / log-log intervals and the log-rank statistics are then
  computed by :mod:`casekit.survival`'s own code on those counts;
* deadline KPIs: per-partition counts of (group, met / missed / pending) are summed;
* the case table: built per partition (durations, patterns, process features are per case),
  gathered (one row per case), then repeat linking and settlement, which look across cases of
  the same matter, run on the gathered table exactly as in memory. Functions that need the whole
  case table at once (the Cox models of :func:`casekit.rank_collaborations`, time to settle) run
  on this gathered table.

Needs the optional extra ``casekit[scale]`` (``dask[dataframe]``, ``distributed``).
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import json
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from casekit._utils import CasekitError, FileUnusableError

if TYPE_CHECKING:
    import dask.dataframe as dd
    import networkx as nx

__all__ = [
    "build_agency_networks",
    "build_case_table",
    "build_handover_network",
    "build_network",
    "build_working_together_network",
    "cluster",
    "compare_patterns",
    "dataset_metadata",
    "fit_time_to_close",
    "from_pandas",
    "median_table",
    "on_time_rates",
    "partition_events",
    "read_metadata",
    "read_partitioned",
]

METADATA_FILE = "_casekit.json"
_SEQ = "_casekit_seq"  # source row order, used while partitioning (ties in source order)
_DUP = "_duplicate"  # exact duplicate of an earlier event of the same case (kept, flagged)
_BIG = np.iinfo(np.int64).max
_NAT = np.iinfo(np.int64).min
_PROGRESS: contextvars.ContextVar[bool | str] = contextvars.ContextVar("casekit_progress",
                                                                 default=False)


def _dask() -> Any:
    try:
        import dask
        import dask.dataframe  # noqa: F401
    except ImportError:
        raise CasekitError("this needs Dask: pip install 'casekit[scale]'") from None
    return dask


# ---------------------------------------------------------------------------------------------
# partitioning (streaming: one block of rows, then one partition, in memory at a time)
# ---------------------------------------------------------------------------------------------


def _case_bucket(case_id: pd.Series, partitions: int) -> np.ndarray:
    """Partition number of each event: a stable hash of its case id (same in every process)."""
    h = pd.util.hash_array(case_id.astype("str").to_numpy(dtype=object))
    return (h % np.uint64(partitions)).astype(np.int64)


def _csv_blocks(path: Path, encoding: str | None, block_bytes: int) -> Iterator[Any]:
    """RawTables of a CSV file read block by block (pyarrow's streaming reader)."""
    import pyarrow as pa
    import pyarrow.csv as pv

    from casekit.io import _decode, _header_names, _sniff_sep
    from casekit.validate import RawTable

    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise FileUnusableError(f"{path.name}: the file is empty; expected a header row and events")
    cut = head.rfind(b"\n")
    notes: list[str] = []
    body, enc, undecodable = _decode(head if cut < 0 else head[: cut + 1], encoding, path.name,
                                     notes)
    if undecodable:
        raise FileUnusableError(
            f"{path.name}: {len(undecodable)} line(s) in the first MiB do not decode as {enc}; "
            "expected one encoding for the whole file (casekit validate lists them by row)")
    first_line = body.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    sep = "\t" if path.name.lower().endswith(".tsv") else _sniff_sep(first_line)
    names = _header_names(next(csv.reader([first_line], delimiter=sep), []), notes)
    bad: list[tuple[int, str | None, str, str]] = []

    def on_invalid(row: Any) -> str:
        bad.append((0, None, row.text or "",
                    f"row has {row.actual_columns} fields; expected {row.expected_columns}"))
        return "skip"

    arrow_enc = "utf8" if enc.startswith("utf-8") else enc
    reader = pv.open_csv(
        path,
        read_options=pv.ReadOptions(column_names=names, skip_rows=1, block_size=block_bytes,
                                    encoding=arrow_enc),
        parse_options=pv.ParseOptions(delimiter=sep, newlines_in_values=True,
                                      invalid_row_handler=on_invalid),
        convert_options=pv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                          strings_can_be_null=False),
    )
    start = 2
    for batch in reader:
        df = batch.to_pandas()
        rows = np.arange(start, start + len(df), dtype="int64")
        start += len(df)
        yield RawTable(df, rows, "csv", enc, list(notes), bad_rows=list(bad))
        bad.clear()
        notes = []


def _blocks(path: Path, *, encoding: str | None, block_rows: int, sheet: Any) -> Iterator[Any]:
    """The input as RawTables of at most about ``block_rows`` rows each."""
    from casekit.io import _detect_format, read_table
    from casekit.validate import RawTable

    if not path.exists():
        raise FileUnusableError(f"{path}: no such file")
    fmt = _detect_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with open(path, "rb") as fh:
            if fh.read(4) != b"PAR1":
                raise FileUnusableError(f"{path.name}: empty or not a Parquet file (no PAR1 "
                                        "magic bytes); expected a Parquet file")
        try:
            pf = pq.ParquetFile(path)
        except Exception as exc:  # noqa: BLE001 - any pyarrow failure: the file is unusable
            raise FileUnusableError(f"{path.name}: not a readable Parquet file ({exc})") from None
        start = 1
        for batch in pf.iter_batches(batch_size=block_rows):
            df = batch.to_pandas()
            yield RawTable(df, np.arange(start, start + len(df), dtype="int64"), "parquet")
            start += len(df)
    elif fmt == "csv" and not path.name.lower().endswith(".gz"):
        yield from _csv_blocks(path, encoding, block_bytes=max(block_rows * 100, 1 << 16))
    else:  # Excel, XES, gzip CSV: not streamable; read whole, validate in blocks
        raw = read_table(path, sheet=sheet, encoding=encoding)
        for s in range(0, max(len(raw.data), 1), block_rows):
            yield RawTable(raw.data.iloc[s:s + block_rows].reset_index(drop=True),
                           raw.source_rows[s:s + block_rows], raw.fmt, raw.encoding,
                           raw.notes if s == 0 else [], raw.bad_rows if s == 0 else [],
                           raw.extra)


def _mark_duplicates(df: pd.DataFrame) -> np.ndarray:
    """Exact duplicates (every column equal) of an earlier event; rows sorted by case, time."""
    cand = df.duplicated(subset=["case_id", "timestamp"], keep=False).to_numpy()
    out = np.zeros(len(df), dtype=bool)
    if cand.any():
        cols = [c for c in df.columns if c not in (_SEQ, _DUP)]
        out[np.flatnonzero(cand)] = df.loc[cand, cols].astype("str").duplicated().to_numpy()
    return out


def _sorted_partition(files: Sequence[str | Path], dtypes: dict[str, Any]) -> pd.DataFrame:
    """Read one partition's spilled blocks (``.arrow`` or ``.parquet``) back.

    Rows sorted by case, time and source order; exact duplicates flagged.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyarrow import feather

    tables = [feather.read_table(f, memory_map=False) if str(f).endswith(".arrow")
              else pq.read_table(f) for f in files]
    df = (pa.concat_tables(tables, promote_options="permissive").to_pandas() if tables
          else pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()}))
    del tables
    df = df.reindex(columns=list(dtypes)).astype(dtypes)
    df = df.sort_values(["case_id", "timestamp", _SEQ], kind="stable").reset_index(drop=True)
    df[_DUP] = _mark_duplicates(df)
    return df


def _finish_partition(files: Sequence[str | Path], target: str | Path, dtypes: dict[str, Any]
                      ) -> tuple[int, int]:
    """Read one partition's spilled blocks, sort, flag duplicates, write it; (events, dups).

    Also used by :func:`casekit.synth.write_district` (``partitions=``).
    """
    df = _sorted_partition(files, dtypes)
    df.drop(columns=[_SEQ]).to_parquet(target, index=False)
    return len(df), int(df[_DUP].sum())


def _finish_folder(folder: str, target: str, dtypes: dict[str, Any]) -> tuple[int, int, int]:
    """:func:`_finish_partition` of a spill folder, then remove it; (events, dups, cases)."""
    df = _sorted_partition(sorted(Path(folder).glob("*.arrow")), dtypes)
    df.drop(columns=[_SEQ]).to_parquet(target, index=False)
    shutil.rmtree(folder, ignore_errors=True)
    return len(df), int(df[_DUP].sum()), int(df["case_id"].nunique())


def _as_text(ev: pd.DataFrame) -> pd.DataFrame:
    """Validated events with their ``category`` columns as ``str``: the partitioned layout keeps
    text as text (its files as they were; blocks validated apart have different categories)."""
    from casekit.validate import _category_text

    cats = [c for c in ev.columns if isinstance(ev[c].dtype, pd.CategoricalDtype)]
    return ev.assign(**{c: _category_text(ev[c]) for c in cats}) if cats else ev


def _spill_block(raw: Any, name: str, spill: str, partitions: int,
                 options: dict[str, Any]) -> dict[str, Any]:
    """Validate one block (its rows numbered in ``_SEQ``) and spill it.

    Its events go to the partition folders of their cases as ``NAME.arrow``; returns what the
    reduction needs (metadata, quarantine, dtypes, vocabulary).
    """
    from casekit.validate import validate_table

    res = validate_table(raw, drop_duplicates=False, **options)
    ev = _as_text(res.events)
    out: dict[str, Any] = {"meta": res.metadata, "quarantine": res.quarantine, "dtypes": None,
                           "vocab": {}}
    if not len(ev):
        return out
    out["dtypes"] = {c: ev[c].dtype for c in ev.columns}
    out["vocab"] = {c: set(ev[c].dropna().astype("str").unique().tolist())
                    for c in ("agency_type", "activity") if c in ev}
    import pyarrow as pa
    from pyarrow import feather

    bucket = _case_bucket(ev["case_id"], partitions)
    order = np.argsort(bucket, kind="stable")
    table = pa.Table.from_pandas(ev, preserve_index=False).take(order)
    cuts = np.searchsorted(bucket[order], np.arange(partitions + 1))
    for k in np.unique(bucket).tolist():
        d = Path(spill) / f"{k:05d}"
        d.mkdir(exist_ok=True)
        feather.write_feather(table.slice(cuts[k], cuts[k + 1] - cuts[k]),
                              d / f"{name}.arrow", compression="uncompressed")
    return out


def _spill_parquet_group(path: str, group: int, first_seq: int, block_rows: int, spill: str,
                         partitions: int, options: dict[str, Any]) -> list[dict[str, Any]]:
    """:func:`_spill_block` on every batch of one Parquet row group (run on a worker)."""
    import pyarrow.parquet as pq

    from casekit.validate import RawTable

    out = []
    seq = first_seq
    for i, batch in enumerate(pq.ParquetFile(path).iter_batches(batch_size=block_rows,
                                                                 row_groups=[group])):
        df = batch.to_pandas()
        df[_SEQ] = np.arange(seq, seq + len(df), dtype="int64")
        raw = RawTable(df, np.arange(seq + 1, seq + 1 + len(df), dtype="int64"), "parquet")
        seq += len(df)
        out.append(_spill_block(raw, f"{group:06d}-{i:05d}", spill, partitions, options))
    return out


def _spilled_blocks(path: Path, spill: Path, partitions: int, options: dict[str, Any], *,
                    encoding: str | None, block_rows: int, sheet: Any, client: Any
                    ) -> Iterator[dict[str, Any]]:
    """Validate and spill every block of the input; the blocks' summaries in input order.

    With a client, Parquet row groups are read, validated and spilled on the workers; blocks of
    other formats are read here and validated and spilled on the workers (at most two per
    worker in flight, so memory stays bounded).
    """
    from casekit.io import _detect_format

    if client is not None and path.exists() and _detect_format(path) == "parquet":
        import pyarrow.parquet as pq

        next(_blocks(path, encoding=encoding, block_rows=1, sheet=sheet), None)  # checks
        md = pq.ParquetFile(path).metadata
        starts = np.r_[0, np.cumsum([md.row_group(g).num_rows for g in range(md.num_row_groups)])]
        futures = [client.submit(_spill_parquet_group, str(path), g, int(starts[g]), block_rows,
                                 str(spill), partitions, options, pure=False)
                   for g in range(md.num_row_groups)]
        for f in futures:
            yield from f.result()
            f.release()
        return
    pending: list[Any] = []
    limit = 2 * max(len(client.scheduler_info()["workers"]), 1) if client is not None else 0
    seq = 0
    for b, raw in enumerate(_blocks(path, encoding=encoding, block_rows=block_rows,
                                    sheet=sheet)):
        raw.data[_SEQ] = np.arange(seq, seq + len(raw.data), dtype="int64")
        seq += len(raw.data)
        if client is None:
            yield _spill_block(raw, f"{b:06d}", str(spill), partitions, options)
            continue
        pending.append(client.submit(_spill_block, raw, f"{b:06d}", str(spill), partitions,
                                     options, pure=False))
        del raw
        while len(pending) > limit:
            yield pending.pop(0).result()
    for f in pending:
        yield f.result()


def partition_events(
    path: str | Path,
    out_dir: str | Path,
    *,
    partitions: int,
    columns: dict[str, str] | None = None,
    observation_end: Any = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    timezone: str | None = "Asia/Shanghai",
    label_map: Any = None,
    key: str | bytes | None = None,
    block_rows: int = 1_000_000,
    overwrite: bool = False,
    client: Any = None,
) -> dict[str, Any]:
    """Write an event log as a case-hash-partitioned Parquet dataset, streaming.

    The input is read in blocks (Parquet row groups / record batches, CSV by pyarrow's streaming
    reader; Excel and XES, which cannot be streamed, are read whole and validated in blocks).
    Each block goes through casekit's own validation (:func:`casekit.validate.validate_table`:
    column mapping, timestamps, labels, pseudonymisation, quarantine) and its events are spilled
    to the partition of their case (a stable hash of ``case_id``). Each partition is then read
    alone, sorted by ``(case_id, timestamp)`` with ties in source order, and written as
    ``part.NNNNN.parquet``. Memory holds one block and one partition at a time, so the input may
    be larger than memory: choose ``partitions`` so that one partition fits comfortably.

    Parameters
    ----------
    path : str or Path
        The event log (``.parquet``, ``.csv``/``.tsv``, ``.xlsx``, ``.xes`` ...).
    out_dir : str or Path
        Folder to create (must not exist unless ``overwrite``).
    partitions : int
        Number of output partitions (files).
    columns, observation_end, sheet, encoding, timezone, label_map, key
        As in :func:`casekit.read_events`.
    block_rows : int, default 1_000_000
        Rows read and validated at a time.
    overwrite : bool, default False
        Replace an existing casekit dataset folder.
    client : distributed.Client, optional
        Do the work on this Dask cluster's workers, in parallel: blocks are validated and
        spilled there (Parquet row groups are also read there), then partitions are sorted and
        written there. Its workers must see ``path`` and ``out_dir`` (a local cluster, or a
        shared filesystem). Default: all in this process. The output is the same.

    Returns
    -------
    dict
        The metadata also written to ``out_dir/_casekit.json``: ``observation_end`` (the given
        one, else the largest accepted timestamp over all partitions), ``column_mapping``,
        ``n_read``, ``n_accepted``, ``n_quarantined`` (duplicates included, as
        :func:`casekit.read_events` counts them), ``n_duplicates``, ``n_cases``, ``partitions``,
        ``unknown_labels``, ``notes``. The quarantined rows (values masked) are in
        ``out_dir/_quarantine.csv``.

    Notes
    -----
    Exact duplicate events are kept and flagged (column ``_duplicate``), so that
    ``casekit network`` can count events as recorded and the other analyses drop them, as the
    in-memory readers do. Two rows count as duplicates when all their canonical values are
    equal (after label mapping). Row numbers of streamed CSV input are physical data rows
    (cells with line breaks shift them); a title line above the header is not detected there.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> ck.load_sample_events().to_parquet(d / "log.parquet")
    >>> meta = ck.scale.partition_events(d / "log.parquet", d / "parts", partitions=4)
    >>> meta["n_cases"], meta["partitions"], sorted(p.name for p in (d / "parts").glob("*.parquet"))[0]
    (2000, 4, 'part.00000.parquet')
    """
    if partitions < 1:
        raise CasekitError(f"partitions: expected a positive integer, got {partitions}")
    path, out = Path(path), Path(out_dir)
    if out.exists():
        if not (overwrite and (out / METADATA_FILE).exists()):
            raise CasekitError(f"{out}: already exists (pass overwrite=True / --overwrite to "
                               "replace a casekit dataset)")
        shutil.rmtree(out)
    spill = out / "_spill"
    spill.mkdir(parents=True)
    totals = {"n_read": 0, "n_accepted": 0, "n_quarantined": 0}
    meta0: dict[str, Any] | None = None
    dtypes: dict[str, Any] | None = None
    last = first = None
    unknown: dict[str, set[str]] = {}
    vocab: dict[str, set[str]] = {"agency_type": set(), "activity": set()}
    notes: list[str] = []
    q_path = out / "_quarantine.csv"
    pd.DataFrame(columns=["source_row", "column", "value", "reason"]).to_csv(q_path, index=False)
    options = {"source": path.name, "columns": columns, "observation_end": observation_end,
               "timezone": timezone, "label_map": label_map, "key": key, "path": str(path)}
    try:
        for block in _spilled_blocks(path, spill, partitions, options, encoding=encoding,
                                     block_rows=block_rows, sheet=sheet, client=client):
            m = block["meta"]
            meta0 = meta0 or m
            for k in totals:
                totals[k] += int(m[k])
            for c, labs in m["unknown_labels"].items():
                unknown.setdefault(c, set()).update(labs)
            notes.extend(n for n in m["notes"] if n not in notes and len(notes) < 50)
            if len(block["quarantine"]):
                block["quarantine"].to_csv(q_path, mode="a", header=False, index=False)
            if block["dtypes"] is None:
                continue
            dtypes = dtypes or block["dtypes"]
            lo, hi = pd.Timestamp(m["first_timestamp"]), pd.Timestamp(m["last_timestamp"])
            last = hi if last is None else max(last, hi)
            first = lo if first is None else min(first, lo)
            for col, seen in block["vocab"].items():
                vocab[col].update(seen)
        if meta0 is None or dtypes is None:
            raise FileUnusableError(f"{path.name}: no usable rows; expected at least one valid "
                                    "event")
        jobs = [(str(spill / f"{k:05d}"), str(out / f"part.{k:05d}.parquet"))
                for k in range(partitions)]
        if client is None:
            done = [_finish_folder(src, dst, dtypes) for src, dst in jobs]
        else:
            done = client.gather(client.map(_finish_folder, *zip(*jobs, strict=True), dtypes=dtypes,
                                            pure=False))
        n_dup = sum(d[1] for d in done)
        n_cases = sum(d[2] for d in done)
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    obs = observation_end if observation_end is not None else last
    meta = {
        "source": path.name,
        "format": meta0["format"],
        "encoding": meta0.get("encoding"),
        "column_mapping": meta0["column_mapping"],
        "timezone": timezone,
        "observation_end": str(pd.Timestamp(obs)),
        "observation_end_explicit": observation_end is not None,
        "first_timestamp": str(first),
        "last_timestamp": str(last),
        "n_read": totals["n_read"],
        "n_accepted": totals["n_accepted"] - n_dup,
        "n_quarantined": totals["n_quarantined"] + n_dup,
        "n_duplicates": n_dup,
        "n_cases": n_cases,
        "partitions": partitions,
        "partitioned_by": "hash of case_id; sorted by case_id, timestamp (ties in source order)",
        "unknown_labels": {c: sorted(v) for c, v in unknown.items()},
        "vocabulary": {c: sorted(v) for c, v in vocab.items()},
        "pseudonymisation": meta0.get("pseudonymisation"),
        "notes": notes,
    }
    (out / METADATA_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1,
                                                default=str), encoding="utf-8")
    return meta


def dataset_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of a partitioned dataset (``_casekit.json``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> ck.load_sample_events().to_parquet(d / "log.parquet")
    >>> _ = ck.scale.partition_events(d / "log.parquet", d / "parts", partitions=2)
    >>> ck.scale.dataset_metadata(d / "parts")["observation_end"]
    '2023-12-31 23:06:33'
    """
    p = Path(path) / METADATA_FILE
    if not p.exists():
        raise FileUnusableError(f"{path}: is a directory, and not a casekit partitioned dataset "
                                f"(no {METADATA_FILE}; write one with casekit partition)")
    return json.loads(p.read_text(encoding="utf-8"))


def read_metadata(path: str | Path, *, drop_duplicates: bool = True) -> dict[str, Any]:
    """The dataset's metadata with the counts a read with ``drop_duplicates`` would report.

    ``n_quarantined`` and ``n_duplicates`` then match ``read_events(..., drop_duplicates=)``'s
    metadata: with ``drop_duplicates=False`` duplicates are kept, so neither counts them.
    """
    meta = dict(dataset_metadata(path))
    if not drop_duplicates:
        meta["n_accepted"] = meta["n_accepted"] + meta["n_duplicates"]
        meta["n_quarantined"] = meta["n_quarantined"] - meta["n_duplicates"]
        meta["n_duplicates"] = 0
    return meta


def read_partitioned(path: str | Path, *, drop_duplicates: bool = True) -> dd.DataFrame:
    """Open a partitioned dataset as a Dask DataFrame: one partition per file, cases whole.

    Parameters
    ----------
    path : str or Path
        A folder written by :func:`partition_events`.
    drop_duplicates : bool, default True
        Leave out exact duplicate events (as :func:`casekit.read_events` does); ``False`` keeps
        them (event counting, as ``casekit network`` does by default).

    Returns
    -------
    dask.dataframe.DataFrame
        Canonical events, each partition sorted by ``(case_id, timestamp)``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> ck.load_sample_events().to_parquet(d / "log.parquet")
    >>> _ = ck.scale.partition_events(d / "log.parquet", d / "parts", partitions=3)
    >>> ddf = ck.scale.read_partitioned(d / "parts")
    >>> ddf.npartitions, len(ddf)
    (3, 18447)
    """
    dask = _dask()
    import pyarrow.parquet as pq

    dataset_metadata(path)
    files = sorted(Path(path).glob("part.*.parquet"))
    if not files:
        raise FileUnusableError(f"{path}: no part.*.parquet files")
    meta = pq.read_schema(files[0]).empty_table().to_pandas().drop(columns=[_DUP],
                                                                   errors="ignore")
    return dask.dataframe.from_map(_read_part, [str(f) for f in files],
                                   drop_duplicates=drop_duplicates, meta=meta,
                                   enforce_metadata=False)


def from_pandas(events: pd.DataFrame, npartitions: int) -> dd.DataFrame:
    """A Dask DataFrame of in-memory events cut at case boundaries (cases never split).

    ``dask.dataframe.from_pandas`` cuts by row position and may split a case; this cuts only
    where the case changes, after sorting by ``(case_id, timestamp)`` (stable) when needed.

    Examples
    --------
    >>> ev = ck.load_sample_events()
    >>> ddf = ck.scale.from_pandas(ev, npartitions=3)
    >>> ddf.npartitions, len(ddf) == len(ev)
    (3, True)
    """
    dask = _dask()
    if npartitions < 1:
        raise CasekitError(f"npartitions: expected a positive integer, got {npartitions}")
    case = events["case_id"].astype("str")
    if not (case.is_monotonic_increasing or len(events) < 2):
        events = events.assign(_k=case).sort_values(["_k", "timestamp"], kind="stable")
        events = events.drop(columns="_k")
        case = events["case_id"].astype("str")
    starts = np.flatnonzero(np.r_[True, case.to_numpy()[1:] != case.to_numpy()[:-1]])
    cuts = starts[np.linspace(0, len(starts), npartitions + 1).astype(int)[1:-1]]
    bounds = np.r_[0, cuts, len(events)].astype(int)
    pieces = [events.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return dask.dataframe.from_map(lambda piece: piece, pieces, meta=events.iloc[:0],
                                   enforce_metadata=False)


def _read_part(file: str, drop_duplicates: bool) -> pd.DataFrame:
    df = pd.read_parquet(file)
    if _DUP in df:
        if drop_duplicates and df[_DUP].any():
            df = df.loc[~df[_DUP].to_numpy()].reset_index(drop=True)
        df = df.drop(columns=[_DUP])
    return df


# ---------------------------------------------------------------------------------------------
# cluster, compute, inputs
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def cluster(address: str | None = None, *, progress: bool | Literal["always"] = False,
            **local_options: Any) -> Iterator[Any]:
    """A Dask client for the duration of a ``with`` block.

    Parameters
    ----------
    address : str, optional
        A running scheduler (``tcp://host:8786``). Default: a ``LocalCluster`` sized to this
        machine (one single-threaded worker process per core), bound to 127.0.0.1, no dashboard.
    progress : bool or "always", default False
        Show Dask's progress bar on stderr for each computation inside the block: ``True``
        when stderr is a terminal, ``"always"`` also when it is not (``--progress``).
    **local_options
        Passed to ``distributed.LocalCluster`` (e.g. ``n_workers``, ``memory_limit``).

    Yields
    ------
    distributed.Client
    """
    _dask()
    from distributed import Client, LocalCluster

    token = _PROGRESS.set(progress)
    try:
        if address:
            try:
                client = Client(address, timeout="20s")
            except OSError as exc:
                raise CasekitError(f"--scheduler {address}: cannot connect ({exc})") from None
            with client:
                yield client
        else:
            opts = {"threads_per_worker": 1, "processes": True, "host": "127.0.0.1",
                    "dashboard_address": ":0", **local_options}  # any free port
            with LocalCluster(**opts) as lc, Client(lc) as client:
                yield client
    finally:
        _PROGRESS.reset(token)


def _client() -> Any:
    """Return the current distributed client, or None (then Dask's local scheduler runs)."""
    try:
        from distributed import Client

        return Client.current(allow_global=True)
    except (ImportError, ValueError):
        return None


def _share(obj: Any) -> Any:
    """A large object every task needs: scattered once to the workers (not sent in the graph)
    when a distributed client is running, else a plain delayed value."""
    client = _client()
    if client is None:
        return _dask().delayed(obj, traverse=False)
    return client.scatter(obj, broadcast=True, hash=False)


def _show_progress() -> bool:
    """Whether computations show Dask's progress bar now (see :func:`cluster`)."""
    want = _PROGRESS.get()
    return want == "always" or (want is True and sys.stderr.isatty())


def _compute(*objs: Any) -> tuple[Any, ...]:
    """``dask.compute`` on the current distributed client if any.

    Each result is fetched as soon as it is ready and its future released, so finished results
    do not pile up in the workers' memory. With the progress bar shown (:func:`cluster`), the
    bar (Dask's ``progress``, on stderr) runs until all are done, then the results are fetched.
    """
    dask = _dask()
    client = _client()
    if client is None:
        return dask.compute(*objs)
    from distributed import as_completed

    futures = client.compute(list(objs))
    if _show_progress():
        from distributed import progress

        with contextlib.redirect_stdout(sys.stderr):
            progress(futures, multi=False)  # clears its line when done
    position = {f.key: i for i, f in enumerate(futures)}
    out: list[Any] = [None] * len(futures)
    done = as_completed(futures, with_results=True)
    del futures
    for future, result in done:
        out[position[future.key]] = result
        future.release()
    return tuple(out)


def _events(data: Any, drop_duplicates: bool = True) -> tuple[dd.DataFrame, dict[str, Any]]:
    """A Dask DataFrame of events and the dataset metadata (empty for a bare DataFrame)."""
    dask = _dask()
    if isinstance(data, (str, Path)):
        return read_partitioned(data, drop_duplicates=drop_duplicates), dataset_metadata(data)
    if isinstance(data, dask.dataframe.DataFrame):
        return data, {}
    raise CasekitError(f"expected a partitioned dataset folder or a Dask DataFrame, got "
                       f"{type(data).__name__}")


def _observation_end(ddf: dd.DataFrame, meta: dict[str, Any], given: Any) -> pd.Timestamp:
    """The global observation end: given, else the dataset's, else the largest timestamp."""
    from casekit.cases import _resolve_observation_end

    if given is None and meta.get("observation_end"):
        given = meta["observation_end"]
    if given is not None:
        return _resolve_observation_end(pd.DataFrame({"timestamp": []}), given)
    (last,) = _compute(ddf["timestamp"].max())
    if pd.isna(last):
        raise CasekitError("events: the log is empty, so there is no observation end")
    return pd.Timestamp(last)


def _tallies(ddf: dd.DataFrame, kernel: Any, meta: pd.DataFrame, **kw: Any) -> pd.DataFrame:
    """Run ``kernel`` on every partition and gather its tallies here, one partition at a time.

    Never concatenated on a worker: a tally can have a row per case (the Kaplan-Meier counts),
    which on a large log is more than one worker should hold.
    """
    dask = _dask()
    parts = [dask.delayed(kernel)(p, **kw) for p in ddf.to_delayed()]
    out = [t for t in _compute(*parts) if len(t)]
    return pd.concat(out, ignore_index=True) if out else meta.iloc[:0]


def _expand(tally: pd.DataFrame, cols: Sequence[str], key: str = "first_case") -> pd.DataFrame:
    """Rows back from summed counts, groups in order of their first case (as in memory).

    ``tally`` has ``cols`` + ``n`` + ``key``; rows of one group come together, groups ordered by
    their smallest case id, which is their order of first appearance in a case table sorted by
    case (the in-memory order). Counts are small integers, so sums in float are exact.
    """
    g = tally.groupby(list(cols), sort=False, dropna=False).agg(n=("n", "sum"),
                                                                first=(key, "min"))
    g = g.reset_index()
    first_of_group = g.groupby(cols[0], sort=False)["first"].transform("min")
    g = g.assign(_f=first_of_group).sort_values(["_f", *cols[1:]], kind="stable")
    reps = g["n"].to_numpy(dtype=np.int64)
    return pd.DataFrame({c: np.repeat(g[c].to_numpy(), reps) for c in cols})


# ---------------------------------------------------------------------------------------------
# the case table
# ---------------------------------------------------------------------------------------------

_REPEAT_COLUMNS = ("matter_id", "repeat_ordinal", "repeat_kind")


def _plain(part: pd.DataFrame) -> pd.DataFrame:
    """Dask's ``string`` columns (missing = pd.NA) back to pandas' default ``str``."""
    if int(pd.__version__.split(".")[0]) < 3:
        return part
    conv = {c: "str" for c, t in part.dtypes.items()
            if isinstance(t, pd.StringDtype) and t.na_value is pd.NA}
    return part.astype(conv) if conv else part


def _kept_events(part: pd.DataFrame, obs_ns: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Events on or before the observation end, their case codes and case starts."""
    from casekit._utils import datetime_ns

    ts = datetime_ns(part["timestamp"], "timestamp")
    keep = (ts != _NAT) & (ts <= obs_ns)
    ev = part.loc[keep].reset_index(drop=True)
    case = ev["case_id"].astype("str").to_numpy()
    new = np.r_[True, case[1:] != case[:-1]] if len(case) else np.zeros(0, dtype=bool)
    return ev, np.cumsum(new) - 1, np.flatnonzero(new)


def _partition_cases(part: pd.DataFrame, obs_end: pd.Timestamp, pattern_on: str,
                     settle_window_days: float, carry_pledge: bool = True) -> pd.DataFrame:
    """The case table of one partition (cases whole in it), before cross-case steps.

    Repeat fields are the events' own (first valid value per case), the cessation pledge time
    is kept (``_pledge_ns``) for the settlement step on the gathered table.
    """
    from casekit.cases import DelayedEntryWarning, _first_valid, _first_where, _identifier_codes
    from casekit.cases import build_case_table as _build

    part = _plain(part)
    obs_ns = int(obs_end.as_unit("ns").value)
    ev, codes, starts = _kept_events(part, obs_ns)
    if not len(ev):
        return pd.DataFrame()
    with warnings.catch_warnings():  # said once, with the global counts, after the gather
        warnings.simplefilter("ignore", DelayedEntryWarning)
        table = _build(part, observation_end=obs_end, settle_window_days=settle_window_days,
                       link=False, pattern_on=pattern_on)
    columns = list(table.columns)  # the in-memory column order
    table = table.drop(columns=[c for c in _REPEAT_COLUMNS if c in table])
    for col in _REPEAT_COLUMNS:
        if col in ev:
            table[col] = _first_valid(ev[col], starts, len(ev)).to_numpy()
    if carry_pledge:
        act, names = _identifier_codes(ev["activity"], "activity")
        hit = np.r_[np.isin(names, ["cessation_pledge"]), False][act]
        ts = ev["timestamp"].to_numpy().astype("datetime64[ns]").view(np.int64)
        table["_pledge_ns"] = _first_where(ts, hit, codes, len(starts))[0]
    table.attrs["columns"] = columns
    return table


def _survey(part: pd.DataFrame, obs_ns: int | None = None) -> pd.DataFrame:
    """Distinct agency types and activities of a partition (events up to ``obs_ns``)."""
    if obs_ns is not None:
        part = _kept_events(part, obs_ns)[0]
    types = (part["agency_type"].astype("str").fillna("unknown") if "agency_type" in part
             else pd.Series(["unknown"] * min(len(part), 1), dtype="str"))
    rows = [("agency_type", v) for v in pd.unique(types)]
    rows += [("activity", v) for v in pd.unique(part["activity"].astype("str").dropna())]
    return pd.DataFrame(rows, columns=["what", "value"]).astype("str")


def _resolve_pattern_on(ddf: dd.DataFrame, pattern_on: str, meta: dict[str, Any],
                        obs: pd.Timestamp) -> tuple[str, set[str]]:
    """The global pattern_on (``auto``: agencies when every type is unknown) and activities.

    From the dataset's metadata when it was surveyed up to the same observation end, else by
    one pass over the partitions.
    """
    from casekit.cases import _to_identifiers

    vocab = meta.get("vocabulary")
    if vocab and pd.Timestamp(meta["observation_end"]) == obs:
        s = pd.DataFrame([(w, v) for w, vals in vocab.items() for v in vals],
                         columns=["what", "value"]).astype("str")
    else:
        s = _tallies(ddf, _survey, pd.DataFrame({"what": pd.Series(dtype="str"),
                                                 "value": pd.Series(dtype="str")}),
                     obs_ns=int(obs.as_unit("ns").value))
    types = set(_to_identifiers(s.loc[s["what"] == "agency_type", "value"].drop_duplicates()
                                .reset_index(drop=True), "agency_type"))
    acts = set(_to_identifiers(s.loc[s["what"] == "activity", "value"].drop_duplicates()
                               .reset_index(drop=True), "activity"))
    if pattern_on == "auto":
        pattern_on = "agency" if types <= {"unknown"} else "agency_type"
    return pattern_on, acts


def build_case_table(
    data: Any,
    *,
    observation_end: Any = None,
    settle_window_days: float = 180,
    link: bool = True,
    repeat_keys: Sequence[str] = ("petitioner_id", "category", "address"),
    repeat_window_days: float = 365,
    pattern_on: str = "auto",
) -> pd.DataFrame:
    """:func:`casekit.build_case_table` on a partitioned dataset or a Dask DataFrame.

    Each partition's cases are built by the in-memory code (censored at the *global*
    observation end); the per-case rows are gathered (one row per case, so this needs the case
    table, not the events, to fit in memory) and sorted by case id; repeat linking and
    settlement, which look across the filings of a matter, then run on the gathered table with
    the in-memory code. The result equals ``casekit.build_case_table(events)`` row for row on
    the same events sorted by case (as :func:`casekit.read_events` returns them).

    Parameters
    ----------
    data : path or dask.dataframe.DataFrame
        A folder from :func:`partition_events`, or events whose partitions hold whole cases.
    observation_end, settle_window_days, link, repeat_keys, repeat_window_days, pattern_on
        As in :func:`casekit.build_case_table`. Default observation end: the dataset's, else the
        largest timestamp over all partitions.

    Returns
    -------
    pandas.DataFrame
        The case table, ``attrs`` as in memory.

    Examples
    --------
    >>> ev = ck.load_sample_events()
    >>> cases = ck.scale.build_case_table(ck.scale.from_pandas(ev, npartitions=2),
    ...                                   observation_end="2024-01-01")
    >>> cases.equals(ck.build_case_table(ev, observation_end="2024-01-01"))
    True
    """
    from casekit.cases import _add_repeats, _add_settlement, _timing_from_table

    ddf, meta = _events(data)
    obs = _observation_end(ddf, meta, observation_end)
    pattern_on, _ = _resolve_pattern_on(ddf, pattern_on, meta, obs)
    dask = _dask()
    parts = [dask.delayed(_partition_cases)(p, obs, pattern_on, settle_window_days)
             for p in ddf.to_delayed()]
    tables = [t for t in _compute(*parts) if len(t.columns)]
    if not tables:
        raise CasekitError(f"events: no event on or before the observation end {obs}")
    order = max((t.attrs["columns"] for t in tables), key=len)
    n_after = sum(int(t.attrs.get("n_events_after_observation_end", 0)) for t in tables)
    table = pd.concat(tables, ignore_index=True)
    del tables
    table = table.sort_values("case_id", kind="stable").reset_index(drop=True)
    split = table["case_id"].duplicated()
    if split.any():
        raise CasekitError(f"events: {int(split.sum())} case(s) are split across partitions; "
                           "partition by case (casekit partition, casekit.scale.from_pandas)")
    pledge = table.pop("_pledge_ns").to_numpy(dtype=np.int64)
    table = _add_repeats(table, link=link, keys=repeat_keys, window_days=repeat_window_days)
    table = _add_settlement(table, _timing_from_table(table, pledge), int(obs.as_unit("ns").value),
                            settle_window_days)
    order = [c for c in order if c in table and c != "_pledge_ns"]
    table = table[order + [c for c in table if c not in order]]
    table.attrs = {}
    table.attrs.update(observation_end=obs, settle_window_days=settle_window_days,
                       pattern_on=pattern_on, n_events_after_observation_end=n_after,
                       n_prevalent=int(table["prevalent"].sum()),
                       n_prevalent_excluded=int((~table["duration_known"]).sum()),
                       n_competing_exits=int((~table["exit_type"].isin(["close", "censored"]))
                                             .sum()))
    if table.attrs["n_prevalent_excluded"]:
        from casekit.cases import DelayedEntryWarning

        warnings.warn(f"{table.attrs['n_prevalent_excluded']:,} of {len(table):,} cases were open "
                      "before the log starts and their opening time is unknown: duration "
                      "estimates leave them out (give an 'opened_at' column to let them enter "
                      "late)", DelayedEntryWarning, stacklevel=2)
    return table


def _partition_intervals(part: pd.DataFrame, cases: pd.DataFrame, obs_end: pd.Timestamp,
                         pattern_on: str) -> pd.DataFrame:
    """Counting-process rows of one partition, with the gathered case table's view of its cases
    (repeat links and prevalence are decided across partitions, never inside one)."""
    from casekit.cases import build_case_intervals as _build

    part = _plain(part)
    ids = pd.unique(part["case_id"].astype("str"))
    sub = cases[cases["case_id"].astype("str").isin(ids)]
    if not len(sub):
        return pd.DataFrame()
    return _build(part, observation_end=obs_end, cases=sub, pattern_on=pattern_on)


def build_case_intervals(
    data: Any,
    *,
    observation_end: Any = None,
    cases: pd.DataFrame | None = None,
    settle_window_days: float = 180,
    pattern_on: str = "auto",
) -> pd.DataFrame:
    """:func:`casekit.build_case_intervals` on a partitioned dataset or a Dask DataFrame.

    The case table is gathered first (:func:`build_case_table`, or ``cases=``); each partition's
    rows are then built by the in-memory code from its events and its cases' rows of that table,
    and gathered (a few rows per case: the counting-process rows must fit in memory, as the Cox
    models that use them need them whole). Agency-type columns missing from a partition are 0.

    Returns
    -------
    pandas.DataFrame
        Equal to ``casekit.build_case_intervals(events)`` on the same events sorted by case.

    Examples
    --------
    >>> ev = ck.load_sample_events()
    >>> iv = ck.scale.build_case_intervals(ck.scale.from_pandas(ev, npartitions=2),
    ...                                    observation_end="2024-01-01")
    >>> iv.equals(ck.build_case_intervals(ev, observation_end="2024-01-01"))
    True
    """
    ddf, _ = _events(data)
    if cases is None:
        cases = build_case_table(data, observation_end=observation_end,
                                 settle_window_days=settle_window_days, pattern_on=pattern_on)
    obs = pd.Timestamp(cases.attrs["observation_end"])
    pattern_on = cases.attrs.get("pattern_on", pattern_on)
    dask = _dask()
    shared = _share(cases)
    parts = [dask.delayed(_partition_intervals)(p, shared, obs, pattern_on)
             for p in ddf.to_delayed()]
    rows = [r for r in _compute(*parts) if len(r.columns)]
    if not rows:
        raise CasekitError(f"events: no case with follow-up before the observation end {obs}")
    counts = {k: sum(int(r.attrs.get(k, 0)) for r in rows)
              for k in ("n_cases", "n_cases_with_rows", "n_prevalent_excluded", "n_zero_length",
                        "n_events", "n_rows")}
    out = pd.concat(rows, ignore_index=True)
    at = sorted(c for c in out if c.startswith("at_"))
    out[at] = out[at].fillna(0).astype("int8")
    lead = [c for c in rows[0].columns if not c.startswith("at_")]
    head = lead[: lead.index("pattern") + 1]
    out = out[head + at + [c for c in lead if c not in head]]
    out = out.sort_values(["case_id", "start"], kind="stable").reset_index(drop=True)
    out.attrs = {"observation_end": obs, "pattern_on": pattern_on, **counts}
    return out


# ---------------------------------------------------------------------------------------------
# networks: additive pair counts per partition
# ---------------------------------------------------------------------------------------------

_NET_META = pd.DataFrame({"table": pd.Series(dtype="str"), "u": pd.Series(dtype="str"),
                          "v": pd.Series(dtype="str"), "count": pd.Series(dtype="int64"),
                          "value": pd.Series(dtype="int64"), "case": pd.Series(dtype="str"),
                          "type": pd.Series(dtype="str")})


def _net_rows(table: str, u: Any, v: Any, count: Any, value: Any = 0, case: Any = "",
              typ: Any = "") -> pd.DataFrame:
    n = len(count)
    return pd.DataFrame({
        "table": table, "u": pd.array(np.asarray(u, dtype=object), dtype="str"),
        "v": pd.array(np.asarray(v, dtype=object) if np.ndim(v) else [v] * n, dtype="str"),
        "count": np.asarray(count, dtype=np.int64),
        "value": np.broadcast_to(np.asarray(value, dtype=np.int64), (n,)),
        "case": pd.array(np.asarray(case, dtype=object) if np.ndim(case) else [case] * n,
                         dtype="str"),
        "type": pd.array(np.asarray(typ, dtype=object) if np.ndim(typ) else [typ] * n,
                         dtype="str"),
    }, index=range(n))


def _network_kernel(part: pd.DataFrame, level: str, missing_agency: str | None, lags: bool,
                    handover: bool, cases: frozenset | None) -> pd.DataFrame:
    """Tallies of one partition: nodes, working-together pairs, hand-over pairs (+ lags)."""
    from casekit.network import (
        _encode,
        _first_index,
        _handover_counts,
        _incidence_counts,
        _node_types,
    )

    part = _plain(part)
    enc = _encode(part, what="agency networks", level=level, need_time=handover,
                  cases=cases, missing_agency=missing_agency)
    k = len(enc.labels)
    if enc.n_events == 0 or k == 0:
        return _NET_META.iloc[:0]
    labels = np.asarray(enc.labels, dtype=object)
    ev = part if cases is None else part.loc[part["case_id"].isin(cases).to_numpy()]
    types = _node_types(ev, enc, level)
    pos = _first_index(enc.node, k)
    seen = pos < enc.n_events
    rows = pos[seen] if enc.row is None else enc.row[pos[seen]]
    first_case = ev["case_id"].astype("str").to_numpy()[rows]
    node_cases, pairs = _incidence_counts(enc)  # sparse pairs: keys lo * K + hi, lo < hi
    n_events = np.bincount(enc.node, minlength=k)
    out = [
        _net_rows("total", ["n_cases", "n_events"], "", [enc.n_cases, enc.n_events]),
        _net_rows("node", labels[seen], "", n_events[seen], 0, first_case,
                  np.asarray(types, dtype=object)[seen]),
        _net_rows("node_cases", labels, "", node_cases),
    ]
    a, b = labels[pairs.keys // k], labels[pairs.keys % k]
    swap = (b < a).astype(bool)  # the same unordered pair in every partition: source < target
    out.append(_net_rows("wt", np.where(swap, b, a), np.where(swap, a, b), pairs.counts))
    if handover:
        ho, _ = _handover_counts(enc, lags=False)
        out.append(_net_rows("ho", labels[ho.keys // k], labels[ho.keys % k], ho.counts))
        if lags and enc.n_events > 1:
            out.append(_lag_rows(enc, labels))
    return pd.concat(out, ignore_index=True)


def _lag_rows(enc: Any, labels: np.ndarray) -> pd.DataFrame:
    """Counts of (pair, lag in ns) over the consecutive pairs within cases."""
    k = len(labels)
    t = enc.time
    key = enc.node[:-1].astype(np.int64) * k + enc.node[1:]
    ok = np.ones(len(key), dtype=bool)
    ok[enc.starts[1:] - 1] = False
    if enc.has_nat:
        ok &= (t[1:] != _BIG) & (t[:-1] != _BIG)
    vc = pd.DataFrame({"key": key[ok], "lag": (t[1:] - t[:-1])[ok]}).value_counts(sort=False)
    key_v = vc.index.get_level_values("key").to_numpy()
    return _net_rows("lag", labels[key_v // k], labels[key_v % k], vc.to_numpy(),
                     vc.index.get_level_values("lag").to_numpy())


def _median_from_counts(lag: np.ndarray, count: np.ndarray) -> float:
    """Median of a multiset given as sorted distinct values and counts (as np.partition)."""
    m = int(count.sum())
    cum = np.cumsum(count)
    h = m // 2

    def nth(i: int) -> Any:
        return lag[np.searchsorted(cum, i, side="right")]

    return nth(h) if m % 2 else (nth(h - 1) + nth(h)) / 2


def _network_tallies(data: Any, *, level: str, missing_agency: str | None, lags: bool,
                     handover: bool, cases: Any, drop_duplicates: bool) -> pd.DataFrame:
    ddf, _ = _events(data, drop_duplicates=drop_duplicates)
    wanted = None if cases is None else frozenset(map(str, cases))
    return _tallies(ddf, _network_kernel, _NET_META, level=level, missing_agency=missing_agency,
                    lags=lags, handover=handover, cases=wanted)


def _nodes(G: nx.Graph, t: pd.DataFrame) -> None:
    nodes = t[t["table"] == "node"].sort_values("case", kind="stable")
    first = nodes.drop_duplicates("u")
    n_events = nodes.groupby("u")["count"].sum()
    n_cases = t[t["table"] == "node_cases"].groupby("u")["count"].sum()
    typ = dict(zip(first["u"], first["type"], strict=True))
    for label in sorted(n_events.index):
        if n_events[label] == 0:
            continue
        G.add_node(label, agency_type=typ[label], n_cases=int(n_cases.get(label, 0)),
                   n_events=int(n_events[label]))


def _totals(t: pd.DataFrame) -> tuple[int, int]:
    tot = t[t["table"] == "total"].groupby("u")["count"].sum()
    return int(tot.get("n_cases", 0)), int(tot.get("n_events", 0))


def _wt_graph(t: pd.DataFrame, level: str) -> nx.Graph:
    import networkx as nx

    n_cases, n_events = _totals(t)
    G = nx.Graph(kind="working_together", level=level, n_cases=n_cases, n_events=n_events)
    _nodes(G, t)
    pairs = t[t["table"] == "wt"].groupby(["u", "v"])["count"].sum()
    denom = n_cases or 1
    rows = sorted((min(u, v), max(u, v), int(c)) for (u, v), c in pairs.items())
    G.add_edges_from((u, v, {"count": c, "share": float(c / denom)}) for u, v, c in rows)
    return G


def _ho_graph(t: pd.DataFrame, level: str, include_self: bool, lags: bool) -> nx.DiGraph:
    import networkx as nx

    n_cases, n_events = _totals(t)
    pairs = t[t["table"] == "ho"].groupby(["u", "v"])["count"].sum()
    n_pairs = max(n_events - n_cases, 0)
    n_self = int(sum(c for (u, v), c in pairs.items() if u == v))
    G = nx.DiGraph(kind="handover", level=level, n_cases=n_cases, n_events=n_events,
                   n_pairs=n_pairs, n_self_pairs=n_self, include_self=include_self)
    _nodes(G, t)
    med: dict[tuple[str, str], float] = {}
    if lags:
        lag = t[t["table"] == "lag"].groupby(["u", "v", "value"])["count"].sum().sort_index()
        for (u, v), s in lag.groupby(level=[0, 1]):
            med[(u, v)] = float(_median_from_counts(
                s.index.get_level_values("value").to_numpy(), s.to_numpy()) / 86_400e9)
    denom = n_pairs or 1
    for (u, v), c in sorted(pairs.items()):
        if u == v and not include_self:
            continue
        attrs: dict[str, Any] = {"count": int(c), "share": float(np.int64(c) / denom)}
        if lags:
            attrs["median_lag_days"] = med.get((u, v), float("nan"))
        G.add_edge(u, v, **attrs)
    return G


def build_agency_networks(
    data: Any,
    *,
    include_self: bool = False,
    level: str = "agency",
    cases: Any = None,
    missing_agency: str | None = "unknown",
    lags: bool = True,
    drop_duplicates: bool = True,
) -> tuple[nx.Graph, nx.DiGraph]:
    """:func:`casekit.build_agency_networks` on a partitioned dataset or a Dask DataFrame.

    Each partition is encoded and counted by :mod:`casekit.network`'s own kernels; pair counts
    (consecutive pairs within cases; cases in which both agencies acted), node counts and the
    (pair, lag) counts behind the median lags are summed over partitions; shares and medians
    are computed after the sum. Counts, shares and medians equal the in-memory graphs.

    Parameters
    ----------
    data : path or dask.dataframe.DataFrame
        A folder from :func:`partition_events`, or events whose partitions hold whole cases.
    include_self, level, cases, missing_agency, lags
        As in :func:`casekit.build_agency_networks`. ``lags`` sends (pair, lag) counts from
        every partition: set it False on very large logs when the median lags are not needed.
    drop_duplicates : bool, default True
        For a dataset folder: leave out exact duplicate events.

    Returns
    -------
    working_together : networkx.Graph
    handover : networkx.DiGraph

    Examples
    --------
    >>> ev = ck.load_sample_events()
    >>> W, H = ck.scale.build_agency_networks(ck.scale.from_pandas(ev, npartitions=2))
    >>> W0, H0 = ck.build_agency_networks(ev)
    >>> ck.edges_to_frame(H).equals(ck.edges_to_frame(H0)), W.graph == W0.graph
    (True, True)
    """
    t = _network_tallies(data, level=level, missing_agency=missing_agency, lags=lags,
                         handover=True, cases=cases, drop_duplicates=drop_duplicates)
    return _wt_graph(t, level), _ho_graph(t, level, include_self, lags)


def build_network(data: Any, kind: str, **options: Any) -> nx.Graph:
    """One network by name (``"handover"`` or ``"working_together"``), median lags off.

    What ``casekit network DIR --kind ...`` runs; ``options`` go to the builder.
    """
    if kind == "handover":
        return build_handover_network(data, lags=False, **options)
    if kind == "working_together":
        options.pop("include_self", None)
        return build_working_together_network(data, **options)
    raise CasekitError(f"kind: expected 'handover' or 'working_together', got {kind!r}")


def build_working_together_network(
    data: Any, *, level: str = "agency", cases: Any = None,
    missing_agency: str | None = "unknown", drop_duplicates: bool = True,
) -> nx.Graph:
    """:func:`casekit.build_working_together_network` on a dataset folder or Dask DataFrame.

    See :func:`build_agency_networks` for how partitions are reduced.

    Examples
    --------
    >>> ev = ck.load_sample_events()
    >>> W = ck.scale.build_working_together_network(ck.scale.from_pandas(ev, npartitions=2))
    >>> ck.edges_to_frame(W).equals(ck.edges_to_frame(ck.build_working_together_network(ev)))
    True
    """
    t = _network_tallies(data, level=level, missing_agency=missing_agency, lags=False,
                         handover=False, cases=cases, drop_duplicates=drop_duplicates)
    return _wt_graph(t, level)


def build_handover_network(
    data: Any, *, include_self: bool = False, level: str = "agency", cases: Any = None,
    missing_agency: str | None = "unknown", lags: bool = True, drop_duplicates: bool = True,
) -> nx.DiGraph:
    """:func:`casekit.build_handover_network` on a dataset folder or Dask DataFrame.

    See :func:`build_agency_networks` for how partitions are reduced.

    Examples
    --------
    >>> ev = ck.load_sample_events()
    >>> H = ck.scale.build_handover_network(ck.scale.from_pandas(ev, npartitions=2), lags=False)
    >>> H.graph == ck.build_handover_network(ev, lags=False).graph
    True
    """
    t = _network_tallies(data, level=level, missing_agency=missing_agency, lags=lags,
                         handover=True, cases=cases, drop_duplicates=drop_duplicates)
    return _ho_graph(t, level, include_self, lags)


# ---------------------------------------------------------------------------------------------
# survival: (group, time, event) counts per partition
# ---------------------------------------------------------------------------------------------

_LOCAL_BY = ("pattern", "agencies", "first_agency", "first_agency_type", "category", "street",
             "channel", "year", "n_agencies", "n_agency_types", "joint_conference",
             "leader_involved")


def _km_kernel(part: pd.DataFrame, obs_end: pd.Timestamp, pattern_on: str, by: str
               ) -> pd.DataFrame:
    """Counts of (group, duration, closed) and each group's first case in one partition."""
    table = _partition_cases(part, obs_end, pattern_on, 180, carry_pledge=False)
    if not len(table.columns):
        return _KM_META.iloc[:0]
    if by not in table:
        raise CasekitError(f"cases: missing column {by!r} to group by")
    if "duration_known" in table:  # unknown durations are left out, as in memory
        table = table[table["duration_known"].to_numpy(bool)]
    f = pd.DataFrame({"g": table[by].astype("str"),
                      "d": table["duration_days"].to_numpy(dtype=float),
                      "e": table["closed"].to_numpy(dtype=bool),
                      "c": table["case_id"].astype("str")})
    out = f.groupby(["g", "d", "e"], sort=False).agg(n=("c", "size"), first_case=("c", "min"))
    return out.reset_index()


_KM_META = pd.DataFrame({"g": pd.Series(dtype="str"), "d": pd.Series(dtype="float64"),
                         "e": pd.Series(dtype="bool"), "n": pd.Series(dtype="int64"),
                         "first_case": pd.Series(dtype="str")})


def _survival_frame(data: Any, *, by: str, outcome: str, observation_end: Any
                    ) -> pd.DataFrame:
    """A minimal case table (group, duration, event) equal in content and group order to the
    in-memory one: from summed per-partition counts for time to close, from the gathered case
    table for time to settle or for groups that depend on repeat linking."""
    if isinstance(data, pd.DataFrame):
        return data
    if outcome != "close" or by not in _LOCAL_BY:
        return build_case_table(data, observation_end=observation_end)
    ddf, meta = _events(data)
    obs = _observation_end(ddf, meta, observation_end)
    pattern_on, _ = _resolve_pattern_on(ddf, "auto", meta, obs)
    t = _tallies(ddf, _km_kernel, _KM_META, obs_end=obs, pattern_on=pattern_on, by=by)
    frame = _expand(t, ["g", "d", "e"])
    frame = pd.DataFrame({by: frame["g"].astype("str"), "duration_days": frame["d"],
                          "closed": frame["e"].astype(bool)})
    frame.attrs["observation_end"] = obs
    return frame


def median_table(
    data: Any,
    *,
    by: str = "pattern",
    outcome: str = "close",
    alpha: float = 0.05,
    horizon_days: float | None = None,
    min_cases: int = 1,
    observation_end: Any = None,
) -> pd.DataFrame:
    """:func:`casekit.median_table` on a dataset folder or Dask DataFrame (same result).

    For time to close grouped by a per-case column (``pattern`` and the other columns a case's
    own events define), each partition sends its counts of (group, time, closed) and the
    Kaplan-Meier curves, medians and Greenwood / log-log intervals are computed from the summed
    counts by :mod:`casekit.survival`'s code (memory: one number per case for the final step).
    Time to settle (and groups that depend on repeat linking) needs the whole case table: it is
    gathered with :func:`build_case_table` first.

    Examples
    --------
    >>> ev = ck.load_sample_events()
    >>> m = ck.scale.median_table(ck.scale.from_pandas(ev, npartitions=2), observation_end="2024-01-01")
    >>> m.equals(ck.median_table(ck.build_case_table(ev)))
    True
    """
    from casekit.survival import median_table as _median_table

    frame = _survival_frame(data, by=by, outcome=outcome, observation_end=observation_end)
    return _median_table(frame, by=by, outcome=outcome, alpha=alpha, horizon_days=horizon_days,
                         min_cases=min_cases)


def fit_time_to_close(
    data: Any,
    *,
    by: str = "pattern",
    outcome: str = "close",
    min_cases: int = 1,
    alpha: float = 0.05,
    observation_end: Any = None,
) -> dict[str, Any]:
    """:func:`casekit.fit_time_to_close` on a dataset folder or Dask DataFrame.

    The lifelines fitters are fitted on the (group, time, event) counts summed over partitions
    (see :func:`median_table`), so they equal the in-memory fitters.

    Examples
    --------
    >>> ev = ck.load_sample_events()
    >>> f = ck.scale.fit_time_to_close(ck.scale.from_pandas(ev, npartitions=2),
    ...                                observation_end="2024-01-01")
    >>> f0 = ck.fit_time_to_close(ck.build_case_table(ev))
    >>> list(f) == list(f0)
    True
    >>> all(f[g].median_survival_time_ == f0[g].median_survival_time_ for g in f0)
    True
    """
    from casekit.survival import fit_time_to_close as _fit

    frame = _survival_frame(data, by=by, outcome=outcome, observation_end=observation_end)
    return _fit(frame, by=by, outcome=outcome, min_cases=min_cases, alpha=alpha)


def compare_patterns(
    data: Any,
    *,
    by: str = "pattern",
    outcome: str = "close",
    min_cases: int = 1,
    pairwise: bool = True,
    observation_end: Any = None,
) -> pd.DataFrame:
    """:func:`casekit.compare_patterns` (multivariate and pairwise log-rank) on a dataset.

    The log-rank statistics need, per distinct time, the events and the numbers at risk per
    group: they come from the (group, time, event) counts summed over partitions (see
    :func:`median_table`), so the statistics equal the in-memory ones.

    Examples
    --------
    >>> ev = ck.load_sample_events()
    >>> r = ck.scale.compare_patterns(ck.scale.from_pandas(ev, npartitions=2), pairwise=False,
    ...                               observation_end="2024-01-01")
    >>> r.equals(ck.compare_patterns(ck.build_case_table(ev), pairwise=False))
    True
    """
    from casekit.survival import compare_patterns as _compare

    frame = _survival_frame(data, by=by, outcome=outcome, observation_end=observation_end)
    return _compare(frame, by=by, outcome=outcome, min_cases=min_cases, pairwise=pairwise)


# ---------------------------------------------------------------------------------------------
# deadline KPIs: (group, status) counts per partition
# ---------------------------------------------------------------------------------------------

_KPI_META = pd.DataFrame({"g": pd.Series(dtype="str"), "s": pd.Series(dtype="str"),
                          "n": pd.Series(dtype="int64"), "first_case": pd.Series(dtype="str")})


def _kpi_kernel(part: pd.DataFrame, obs_end: pd.Timestamp, pattern_on: str, column: str,
                clock: str, present: frozenset) -> pd.DataFrame:
    """Counts of (group, clock status) and each group's first case in one partition."""
    from casekit.kpi import _status, build_deadline_table

    part = _plain(part)
    cases = _partition_cases(part, obs_end, pattern_on, 180, carry_pledge=False)
    if not len(cases.columns):
        return _KPI_META.iloc[:0]
    d = build_deadline_table(part, cases, observation_end=obs_end)
    status = d[f"{clock}_status"]
    recorded = clock == "route" or {"notify": "notify_receipt", "handle": "close"}[clock] in present
    if recorded and (status == "not_recorded").all():  # recorded elsewhere in the log
        due = d[f"{clock}_due"]
        status = _status(d[f"{clock}_at"], due, obs_end)
    if column not in d:
        raise CasekitError(f"deadlines: missing column {column!r} (build_deadline_table makes it)")
    f = pd.DataFrame({"g": d[column].astype("str").fillna("unknown").to_numpy(),
                      "s": status.astype("str").to_numpy(),
                      "c": d["case_id"].astype("str").to_numpy()})
    return f.groupby(["g", "s"], sort=False).agg(n=("c", "size"),
                                                 first_case=("c", "min")).reset_index()


def on_time_rates(
    data: Any,
    *,
    by: str = "agency",
    clock: str = "handle",
    alpha: float = 0.05,
    observation_end: Any = None,
) -> pd.DataFrame:
    """:func:`casekit.kpi.on_time_rates` of the events' deadline table, on a dataset.

    Each partition builds its deadline table (:func:`casekit.kpi.build_deadline_table`, as of
    the global observation end; a clock counts as recorded when its activity occurs anywhere
    in the log) and sends counts of (group, met / missed / pending); the rates and Wilson
    intervals are computed by :func:`casekit.kpi.on_time_rates` from the summed counts. Equals
    ``on_time_rates(build_deadline_table(events), by=by, clock=clock)``.

    Examples
    --------
    >>> ev = ck.load_sample_events()
    >>> r = ck.scale.on_time_rates(ck.scale.from_pandas(ev, npartitions=2), observation_end="2024-01-01")
    >>> r.equals(ck.kpi.on_time_rates(ck.kpi.build_deadline_table(ev, observation_end="2024-01-01")))
    True
    """
    from casekit.kpi import CLOCKS
    from casekit.kpi import on_time_rates as _rates

    if clock not in CLOCKS:
        raise CasekitError(f"clock: expected one of {', '.join(CLOCKS)}, got {clock!r}")
    ddf, meta = _events(data)
    obs = _observation_end(ddf, meta, observation_end)
    pattern_on, present = _resolve_pattern_on(ddf, "auto", meta, obs)
    column = {"agency": "handling_agency"}.get(by, by)
    t = _tallies(ddf, _kpi_kernel, _KPI_META, obs_end=obs, pattern_on=pattern_on,
                 column=column, clock=clock, present=frozenset(present))
    frame = _expand(t, ["g", "s"])
    frame = pd.DataFrame({column: frame["g"].astype("str"),
                          f"{clock}_status": frame["s"].astype("str")})
    frame.attrs["observation_end"] = obs
    return _rates(frame, by=by, clock=clock, alpha=alpha)
