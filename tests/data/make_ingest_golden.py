"""Make the ingest regression fixture: a corrupted ~20k-event district and its golden read.

    python tests/data/make_ingest_golden.py            # input file + golden (from this code)
    python tests/data/make_ingest_golden.py --golden   # golden only (input kept)

The golden was made with ``PYTHONPATH`` pointing at a checkout of the code before the speed-up
(commit e78508a) and this script.

The input (``ingest_district.csv.gz``) is a 2,200-case ``casekit synth`` district (about 20k
events, all its columns) with petitioner identity columns, PII in free text and the hostile
edits of ``tests/hardened_corpus.py``'s classes (empty ids, bad and far-future dates, exact
duplicates, ragged lines, stray quotes, BOMs, GB18030 bytes, NUL lines, CRLF). It is written
once and committed, so it does not move when the generator changes. The golden
(``ingest_golden.json``) holds digests of what ``read_events_report`` returns for it and for
the bundled sample, made by the code before the ingest speed-up (issue 15): the speed-up must
not change one accepted value, one quarantined row, one problem line or one metadata entry.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
INPUT = HERE / "ingest_district.csv.gz"
GOLDEN = HERE / "ingest_golden.json"
KEY = "ingest-golden-key"
_SURNAMES = "王李张刘陈杨赵黄周吴"
_GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋"]


def _id_number(rng: np.random.Generator) -> str:
    from casekit.privacy import _check_char

    first17 = f"110105{rng.integers(1950, 2000)}{rng.integers(1, 13):02d}" \
              f"{rng.integers(1, 29):02d}{rng.integers(100, 999)}"
    return first17 + _check_char(first17)


def make_input(seed: int = 7) -> None:
    """Write the corrupted district (deterministic for a seed)."""
    from casekit import synth

    ev, _ = synth.generate_district(2200, seed=seed, mode="upfront")
    rng = np.random.default_rng(seed)
    petitioners = ev["petitioner_id"].unique()
    names = {p: rng.choice(list(_SURNAMES)) + "".join(rng.choice(_GIVEN, rng.integers(1, 3)))
             for p in petitioners}
    phones = {p: f"1{rng.integers(3, 10)}{rng.integers(0, 10**9):09d}" for p in petitioners}
    ids = {p: _id_number(rng) for p in petitioners}
    ev["petitioner_name"] = ev["petitioner_id"].map(names)
    ev["petitioner_phone"] = ev["petitioner_id"].map(phones)
    ev["petitioner_id_number"] = ev["petitioner_id"].map(ids)
    note = np.full(len(ev), "", dtype=object)
    pick = rng.choice(len(ev), len(ev) // 8, replace=False)
    for k, i in enumerate(pick):
        p = ev["petitioner_id"].iat[i]
        note[i] = [f"来访人{names[p]}反映{ev['address'].iat[i]}问题",
                   f"联系电话{phones[p]}，请回电", f"身份证号{ids[p]}",
                   f"{names[p]}同志要求答复", "已转交属地街道办理"][k % 5]
    ev["备注"] = note
    ev.loc[ev.index[::97], "address"] = [f"{a} 联系人{names[p]} {phones[p]}" for a, p in zip(
        ev["address"].iloc[::97], ev["petitioner_id"].iloc[::97], strict=True)]
    ev["timestamp"] = ev["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S")
    text = ev.to_csv(index=False, lineterminator="\n")
    header, *body = text.split("\n")[:-1]
    body = [ln.encode("utf-8") for ln in body]
    n = len(body)
    for j, i in enumerate(rng.choice(n, 60, replace=False)):
        line = body[i]
        kind = j % 12
        if kind == 0:
            body[i] = b"," + line.split(b",", 1)[1]                      # empty case id
        elif kind == 1:
            body[i] = line.replace(b"2023-0", b"2023-1", 1).replace(b"-1", b"-9", 1)
        elif kind == 2:
            body[i] = line.replace(b"2023-", b"2099-", 1)                  # far future
        elif kind == 3:
            body.append(line)                                              # exact duplicate
        elif kind == 4:
            body[i] = line.rsplit(b",", 3)[0]                              # ragged
        elif kind == 5:
            body[i] = "\ufeff".encode() + line                             # BOM in the id
        elif kind == 6:
            body[i] = line.decode("utf-8").encode("gb18030")               # foreign bytes
        elif kind == 7:
            body[i] = line + b"\r"                                         # CRLF
        elif kind == 8:
            body[i] = b"\x00" * 12                                         # NUL line
        elif kind == 9:
            f = line.split(b",")
            body[i] = b",".join([f[0], b"", *f[2:]])                       # missing timestamp
        elif kind == 10:
            f = line.split(b",")
            body[i] = b",".join([*f[:2], b"", *f[3:]])                     # empty activity
        else:
            body[i] = line.replace(b",", b", ", 1)                         # padded id
    f = body[n // 2].split(b",")
    body[n // 2] = b",".join([f[0], b'"' + f[1], *f[2:]])                  # a stray quote
    data = header.encode("utf-8") + b"\n" + b"\n".join(body) + b"\n"
    INPUT.write_bytes(gzip.compress(data, mtime=0, compresslevel=9))


#: Metadata that differs from the code before on purpose: the path (a temporary folder) and
#: the time zone, which issue 12 (item 8) takes from the data instead of assuming Asia/Shanghai.
_CHANGED_ON_PURPOSE = frozenset({"path", "timezone", "timezone_source", "timezone_note"})


def _digest(df: pd.DataFrame) -> dict[str, object]:
    cols = {}
    for c in df.columns:
        s = df[c]
        text = s.astype("object").map(lambda v: "\x00NA" if v is None or v is pd.NaT or (
            isinstance(v, float) and np.isnan(v)) else repr(v))
        cols[str(c)] = [str(s.dtype), hashlib.sha256("\x1f".join(text).encode()).hexdigest()[:16]]
    return {"shape": list(df.shape), "columns": cols}


def digest(res: object) -> dict[str, object]:
    """What a read returned, as digests (events, quarantine, problem lines, metadata)."""
    meta = {k: v for k, v in res.metadata.items() if k not in _CHANGED_ON_PURPOSE}
    lines = [p.line() for p in res.problems]
    return {"events": _digest(res.events), "quarantine": _digest(res.quarantine),
            "quarantine_head": res.quarantine.head(5).astype(str).values.tolist(),
            "n": [res.n_read, res.n_accepted, res.n_quarantined],
            "problems": hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16],
            "n_problems": len(lines),
            "metadata": hashlib.sha256(json.dumps(meta, sort_keys=True, default=str)
                                       .encode()).hexdigest()[:16],
            "metadata_keys": sorted(meta)}


def reads(tmp: Path) -> dict[str, object]:
    """Golden reads: the corrupted district as CSV and as Parquet, and the bundled sample."""
    import casekit as ck

    csv = tmp / "district.csv"
    csv.write_bytes(gzip.decompress(INPUT.read_bytes()))
    out = {"csv": digest(ck.io.read_events_report(csv, key=KEY, progress=False))}
    raw = pd.read_csv(csv, dtype=str, keep_default_na=False, on_bad_lines="skip",
                      encoding_errors="replace", engine="python")
    raw["timestamp"] = pd.to_datetime(raw["timestamp"], errors="coerce")  # typed, as exported
    raw["amount_yuan"] = pd.to_numeric(raw["amount_yuan"], errors="coerce")
    raw["repeat_ordinal"] = pd.to_numeric(raw["repeat_ordinal"], errors="coerce").astype("Int64")
    raw.to_parquet(tmp / "district.parquet", index=False)
    out["parquet"] = digest(ck.io.read_events_report(tmp / "district.parquet", key=KEY,
                                                     progress=False))
    sample = Path(ck.__file__).resolve().parents[1] / "data" / "sample_events.csv.gz"
    out["sample"] = digest(ck.io.read_events_report(sample, key=KEY, progress=False))
    return out


if __name__ == "__main__":
    import tempfile

    if "--golden" not in sys.argv:
        make_input()
    with tempfile.TemporaryDirectory() as d:
        GOLDEN.write_text(json.dumps(reads(Path(d)), indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
    print(f"wrote {GOLDEN.name} ({INPUT.stat().st_size:,} bytes of input)")
