"""XES parsing semantics: the streaming expat reader against an independent tree reference.

These pin what any XES reader of casekit must do (issue 15 measured PM4Py's Rust reader
``rustxes`` / ``r4pm`` against them and it differs on most: see ``benchmarks/ingest.py``):
every ``<event>`` element is a record (events outside traces kept without a case id, nested
events quarantined, never dropped or flattened), raw values are kept as written (time zone
offsets, malformed numbers and dates are left to validation), the last value of a repeated
key wins, the declared encoding is honoured, prefixed tags are read, children of attributes
are ignored, and the caps on value size and distinct keys hold.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import casekit.io as cio
from casekit._utils import FileUnusableError

ATTRS = ("string", "date")


def _raw(path: Path) -> Any:
    return cio._read_xes(path, False)


def _col(df: pd.DataFrame, name: str) -> list[Any]:
    s = df[name].astype(object)
    return s.where(s.notna(), None).tolist()


def _log(body: str, head: str = '<?xml version="1.0" encoding="UTF-8"?>') -> str:
    return f'{head}\n<log xes.version="1.0">{body}</log>\n'


def _ev(act: str, extra: str = "", ts: str = "2023-01-01T10:00:00+08:00") -> str:
    return (f'<event><string key="concept:name" value="{act}"/>'
            f'<date key="time:timestamp" value="{ts}"/>{extra}</event>')


def _tr(name: str, *events: str) -> str:
    return f'<trace><string key="concept:name" value="{name}"/>{"".join(events)}</trace>'


def test_event_outside_a_trace_is_kept_without_a_case(tmp_path: Path) -> None:
    p = tmp_path / "outside.xes"
    p.write_text(_log(_ev("lonely") + _tr("T0", _ev("a"))), encoding="utf-8")
    rt = _raw(p)
    assert _col(rt.data, "concept:name") == ["lonely", "a"]
    assert _col(rt.data, "case:concept:name") == [None, "T0"]
    assert any("outside any <trace>" in n for n in rt.notes)


def test_raw_values_kept_and_last_of_a_repeated_key_wins(tmp_path: Path) -> None:
    body = _tr("T0", _ev("a", '<int key="n" value="12x"/><string key="concept:name" value="b"/>'),
               _ev("c", '<int key="n" value="3"/>', ts="yesterday"),
               _ev("d", ts="2023-01-02T10:00:00Z"), _ev("e", ts="2023-01-03T10:00:00"))
    p = tmp_path / "raw.xes"
    p.write_text(_log(body), encoding="utf-8")
    df = _raw(p).data
    assert _col(df, "concept:name") == ["b", "c", "d", "e"]
    assert _col(df, "time:timestamp") == ["2023-01-01T10:00:00+08:00", "yesterday",
                                          "2023-01-02T10:00:00Z", "2023-01-03T10:00:00"]
    n = df["n"].tolist()
    assert pd.isna(n[0])  # a malformed number is missing, never 0
    assert n[1] == 3


def test_declared_encoding_prefixed_tags_and_entities(tmp_path: Path) -> None:
    p = tmp_path / "latin1.xes"
    p.write_bytes(_log(_tr("T&amp;1", _ev("caf\xe9 &lt;1&gt;")),
                       '<?xml version="1.0" encoding="ISO-8859-1"?>').encode("latin-1"))
    df = _raw(p).data
    assert _col(df, "concept:name") == ["café <1>"]
    assert _col(df, "case:concept:name") == ["T&1"]
    q = tmp_path / "prefixed.xes"
    q.write_text('<xes:log xmlns:xes="http://www.xes-standard.org/"><xes:trace>'
                 '<xes:string key="concept:name" value="T0"/><xes:event>'
                 '<xes:string key="concept:name" value="a"/></xes:event></xes:trace></xes:log>',
                 encoding="utf-8")
    assert _col(_raw(q).data, "case:concept:name") == ["T0"]


def test_children_of_attributes_are_ignored_and_nested_events_quarantined(
        tmp_path: Path) -> None:
    extra = ('<string key="outer" value="o"><string key="inner" value="i"/></string>'
             '<list key="L"><string key="x" value="1"/></list>')
    nested = _ev("register", extra + _ev("transfer"))
    p = tmp_path / "nested.xes"
    p.write_text(_log(_tr("T0", nested, _ev("close"))), encoding="utf-8")
    rt = _raw(p)
    assert _col(rt.data, "concept:name") == ["close"]
    assert [r for r, *_ in rt.bad_rows] == [1, 2]
    assert "inner" not in rt.data.columns
    assert "x" not in rt.data.columns
    assert rt.source_rows.tolist() == [3]


def test_caps_on_value_size_and_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cio, "XES_MAX_VALUE_CHARS", 30)
    p = tmp_path / "big.xes"
    p.write_text(_log(_tr("T0", _ev("a", '<string key="note" value="' + "x" * 31 + '"/>'),
                          _ev("b"))), encoding="utf-8")
    rt = _raw(p)
    assert _col(rt.data, "concept:name") == ["b"]
    assert "holds 31 characters" in rt.bad_rows[0][3]
    monkeypatch.setattr(cio, "XES_MAX_KEYS", 5)
    q = tmp_path / "keys.xes"
    q.write_text(_log(_tr("T0", *[_ev("a", f'<string key="k{i}" value="v"/>')
                                  for i in range(5)])), encoding="utf-8")
    with pytest.raises(FileUnusableError, match="more than 5 distinct attribute keys"):
        _raw(q)


# --- the streaming reader equals a tree walk on random, hostile structures --------------------


def _random_children(rng: random.Random, parent: str, depth: int) -> str:
    """XML children of a ``parent`` element (log / trace / event / attribute)."""
    out = []
    for _ in range(rng.randint(0, 4 if depth < 4 else 1)):
        r = rng.random()
        pre = "x:" if rng.random() < 0.1 else ""
        if r < 0.45 or depth >= 5:
            kind = rng.choice(ATTRS)
            key = rng.choice(["concept:name", "org:group", "time:timestamp", "k1", "case:k1"])
            val = rng.choice(["a", "b&amp;c", "甲", "", "x" * rng.randint(0, 30), "+08:00"])
            value = f' value="{val}"' if rng.random() < 0.9 else ""
            keyattr = f' key="{key}"' if rng.random() < 0.95 else ""
            inner = _random_children(rng, "attr", depth + 1) if rng.random() < 0.15 else ""
            out.append(f"<{pre}{kind}{keyattr}{value}>{inner}</{pre}{kind}>")
        elif r < 0.7 + (0.15 if parent == "trace" else 0):
            out.append(f"<{pre}event>{_random_children(rng, 'event', depth + 1)}</{pre}event>")
        elif r < 0.9:
            out.append(f"<{pre}trace>{_random_children(rng, 'trace', depth + 1)}</{pre}trace>")
        else:
            out.append(f"<list key='L'>{_random_children(rng, 'attr', depth + 1)}</list>")
    return "".join(out)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _reference(text: str, max_value: int) -> tuple[dict[str, list[Any]], list[int]]:
    """Every <event> in document order with its direct attribute children (last wins), its
    innermost trace's direct attributes (``case:``), and the indexes to quarantine."""
    root = ET.fromstring(text)
    events: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (case:..., own attributes)
    case_keys: set[str] = set()  # of all traces: an event key equal to one gets "event:"
    bad: set[int] = set()

    def attrs_of(el: ET.Element, cap: str) -> tuple[dict[str, Any], bool]:
        got: dict[str, Any] = {}
        over = False
        for c in el:
            if _local(c.tag) in ATTRS and c.get("key") is not None:
                v = c.get("value")
                if v is not None and len(v) > max_value:
                    over, v = True, (None if cap == "event" else "")
                got[c.get("key")] = v
        return got, over

    def walk(el: ET.Element, evs: list[int], trs: list[dict[str, Any] | None]) -> None:
        for c in el:
            tag = _local(c.tag)
            if tag == "event":
                idx = len(events)
                own, over = attrs_of(c, "event")
                case = {f"case:{k}": v for k, v in (trs[-1] or {}).items()} if trs else {}
                events.append((case, own))
                if evs or len(trs) > 1 or over:
                    bad.add(idx)
                if evs:
                    bad.add(evs[-1])
                walk(c, [*evs, idx], trs)
            elif tag == "trace":
                own = None if evs else attrs_of(c, "trace")[0]
                case_keys.update(f"case:{k}" for k in own or ())
                walk(c, evs, [*trs, own])
            else:  # even inside an attribute or a <list>, an <event> is a record
                walk(c, evs, trs)

    walk(root, [], [])
    rows = [{**case, **{(f"event:{k}" if k in case_keys else k): v for k, v in own.items()}}
            for i, (case, own) in enumerate(events) if i not in bad]
    return {k: [r.get(k) for r in rows] for k in {k for r in rows for k in r}}, sorted(bad)


@pytest.mark.parametrize("seed", range(100))
def test_streaming_reader_equals_tree_reference(seed: int, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cio, "XES_MAX_VALUE_CHARS", 20)
    rng = random.Random(seed)
    text = ('<log xmlns:x="urn:x">' + _random_children(rng, "log", 0)
            + _tr("T", _ev("last")) + "</log>")
    p = tmp_path / "r.xes"
    p.write_text(text, encoding="utf-8")
    want, bad = _reference(text, 20)
    rt = _raw(p)
    assert [r - 1 for r, *_ in rt.bad_rows] == bad
    got = {c: _col(rt.data, c) for c in rt.data.columns}
    for c in set(got) - set(want):  # a key seen only in quarantined events (or empty traces)
        assert all(v is None for v in got[c])
        del got[c]
    assert got == want


def test_dates_with_offsets_over_the_fast_path_size_parse_as_value_by_value() -> None:
    """A long column of XES-style dates (offsets, then other formats after the fast path's
    probe) parses to what the careful path gives each value (columns of <= 10,000 values)."""
    from casekit.timestamps import _parse_timestamps

    rng = random.Random(3)
    vals = [f"2023-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T0{rng.randint(0, 9)}:00:00"
            f"{rng.choice(['+01:00', '+02:00', 'Z'])}" for _ in range(6_000)]
    vals += [f"2023-03-0{rng.randint(1, 9)} 1{rng.randint(0, 9)}:00:00" for _ in range(3_000)]
    vals += [f"2023/04/0{rng.randint(1, 9)} 08:0{rng.randint(0, 9)}:00" for _ in range(3_000)]
    vals += ["", "yesterday"]
    s = pd.Series(vals, dtype="str")
    got, missing, info = _parse_timestamps(s, None)
    parts = [_parse_timestamps(s.iloc[i:i + 5_000].reset_index(drop=True), None)
             for i in range(0, len(s), 5_000)]
    want = np.concatenate([p[0] for p in parts])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(missing, np.concatenate([p[1] for p in parts]))
    assert [str(o) for o in info.offsets_seen] == ["+00:00", "+01:00", "+02:00"]
    assert got[0] == np.datetime64(vals[0][:19], "ns")  # the wall clock as recorded
