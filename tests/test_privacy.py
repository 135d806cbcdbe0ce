"""Tests for casekit.privacy: ID checksums, keyed pseudonyms, masking, safe exports, suppression."""

from __future__ import annotations

import re
import unicodedata
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import casekit as ck
from casekit._utils import CasekitError
from casekit.privacy import (
    KEY_ENV_VAR,
    KEY_FILE_ENV_VAR,
    assert_no_pii,
    create_key_file,
    find_pii,
    is_valid_id_number,
    mask_free_text,
    mask_value,
    pseudonymise,
    spreadsheet_safe,
    suppress_small_cells,
)

# --- an independent implementation of the GB 11643 check character, written from the standard
WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2


def check_char(first17: str) -> str:
    remainder = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11
    return "10X98765432"[remainder]


def make_id(region: str = "440305", birth: str = "19850317", seq: str = "123") -> str:
    first17 = region + birth + seq
    return first17 + check_char(first17)


def wrong_check(valid: str) -> str:
    right = valid[-1]
    return valid[:-1] + next(c for c in "0123456789X" if c != right)


def valid_ids_in(text: str) -> list[str]:
    """Every 18-character window of the text that is a valid ID number (no boundary rules)."""
    t = unicodedata.normalize("NFKC", text)
    hits = []
    for i in range(len(t) - 17):
        w = t[i : i + 18]
        if re.fullmatch(r"\d{17}[\dXx]", w) and is_valid_id_number(w):
            hits.append(w)
    return hits


MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture
def no_key(monkeypatch, tmp_path):
    """No key anywhere: env unset, config home empty."""
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


@pytest.fixture
def raw_people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": ["c1", "c2", "c3", "c4", "c5"],
            "petitioner_name": ["张三", "张 三", "李四", "李四", None],
            "petitioner_id_number": [make_id(), make_id().lower(), None, None, None],
            "petitioner_phone": [None, "13800138000", "+86 139-0013-9000", "13900139000", None],
            "note": ["张三来访", "电话13800138000", "李四反映", "无", None],
        }
    )


# --------------------------------------------------------------------------- ID numbers


def test_standard_worked_examples_are_valid():
    assert is_valid_id_number("11010519491231002X")
    assert is_valid_id_number("440524188001010014")


@pytest.mark.parametrize("region", ["110105", "440305", "650102", "810000"])
def test_constructed_ids_are_valid_and_one_wrong_check_char_is_not(region):
    good = make_id(region=region, birth="19720229", seq="531")
    assert is_valid_id_number(good)
    assert not is_valid_id_number(wrong_check(good))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (make_id(birth="19850231"), "february 31st"),
        (make_id(birth="19851301"), "month 13"),
        (make_id(birth="18500101"), "born before 1870"),
        (make_id(birth="29990101"), "born in the future"),
        (make_id(region="990101"), "no such province"),
        ("1101051949123100", "too short"),
        ("11010519491231002Y", "bad check char"),
        ("", "empty"),
        (None, "missing"),
    ],
)
def test_implausible_numbers_are_invalid(value, reason):
    assert not is_valid_id_number(value), reason


def test_id_validation_tolerates_fullwidth_lowercase_and_spaces():
    v = "11010519491231002X"
    fullwidth = v.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert is_valid_id_number(fullwidth)
    assert is_valid_id_number(v.lower())
    assert is_valid_id_number("110105 19491231 002X")


def test_vectorised_validation_matches_scalar():
    values = [make_id(seq=f"{i:03d}") for i in range(40)]
    values += [wrong_check(v) for v in values[:10]] + [None, "abc", make_id(birth="20000230")]
    expected = [is_valid_id_number(v) for v in values]
    series = pd.Series(values, index=np.arange(100, 100 + len(values)))
    got = is_valid_id_number(series)
    assert got.tolist() == expected
    assert list(got.index) == list(series.index)
    assert is_valid_id_number(values).tolist() == expected
    assert sum(expected) == 40


# --------------------------------------------------------------------------- pseudonymise


def test_pseudonymise_drops_raw_columns_and_links_the_same_person(raw_people):
    out, info = pseudonymise(raw_people, key="k1")
    assert "petitioner_id" in out.columns
    for col in ("petitioner_name", "petitioner_id_number", "petitioner_phone"):
        assert col not in out.columns
    ids = out["petitioner_id"]
    assert ids[0] == ids[1]  # same valid ID number, upper / lower case x
    assert ids[2] == ids[3]  # same name + same phone written two ways
    assert ids[0] != ids[2]
    assert pd.isna(ids[4])
    assert re.fullmatch(r"P[0-9a-f]{16}", ids[0])
    assert info["basis"] == {"id_number": 2, "name_phone": 2, "missing": 1}
    assert info["n_petitioners"] == 2
    assert info["key_source"] == "argument"
    assert out["note"].tolist()[:2] == ["张三来访", "电话13800138000"]  # not masked unless asked


def test_pseudonymise_is_stable_with_same_key_and_differs_with_another(raw_people):
    a, _ = pseudonymise(raw_people, key="k1")
    b, _ = pseudonymise(raw_people.iloc[::-1], key="k1")
    c, info_c = pseudonymise(raw_people, key="k2")
    assert a["petitioner_id"].tolist() == b["petitioner_id"].sort_index().tolist()
    assert a["petitioner_id"].dropna().isin(c["petitioner_id"].dropna()).sum() == 0
    _, info_a = pseudonymise(raw_people, key="k1")
    assert info_a["key_fingerprint"] != info_c["key_fingerprint"]


def test_pseudonymise_old_15_digit_id_links_to_its_18_digit_form():
    new = make_id(region="440305", birth="19650817", seq="452")
    old = new[:6] + new[8:17]  # drop century and check char
    out, info = pseudonymise(pd.DataFrame({"petitioner_id_number": [new, old]}), key="k")
    assert out["petitioner_id"][0] == out["petitioner_id"][1]
    assert info["basis"] == {"id_number": 2}


def test_invalid_id_numbers_fall_back_to_name_and_phone_and_are_counted():
    good = make_id()
    df = pd.DataFrame(
        {
            "petitioner_name": ["王五", "王五", "赵六"],
            "petitioner_id_number": [wrong_check(good), None, wrong_check(good)],
            "petitioner_phone": ["13712345678", "137 1234 5678", None],
        }
    )
    out, info = pseudonymise(df, key="k")
    assert out["petitioner_id"][0] == out["petitioner_id"][1]
    assert info["basis"] == {"name_phone": 2, "name": 1}
    assert info["n_invalid_id_numbers"] == 2


def test_pseudonymise_respects_custom_column_names_and_numeric_phones():
    df = pd.DataFrame({"姓名": ["甲乙"], "电话": [13600136000.0], "x": [1]})
    out, info = pseudonymise(df, key="k", name_col="姓名", phone_col="电话", id_col="身份证号")
    ref, _ = pseudonymise(
        pd.DataFrame({"petitioner_name": ["甲乙"], "petitioner_phone": ["13600136000"]}), key="k"
    )
    assert list(out.columns) == ["x", "petitioner_id"]
    assert out["petitioner_id"][0] == ref["petitioner_id"][0]
    assert info["columns_dropped"] == ["姓名", "电话"]


def test_pseudonymise_keeps_existing_ids_where_no_raw_identity():
    df = pd.DataFrame({"petitioner_id": ["S-1", "S-2"], "petitioner_name": ["张三", None]})
    out, _ = pseudonymise(df, key="k")
    assert out["petitioner_id"][1] == "S-2"
    assert out["petitioner_id"][0].startswith("P")


def test_pseudonymise_masks_free_text_with_the_names_it_saw(raw_people):
    out, info = pseudonymise(raw_people, key="k", mask_cols=["note"])
    assert out["note"].tolist()[:4] == ["[姓名]来访", "电话[手机号]", "[姓名]反映", "无"]
    assert info["n_masked_cells"] == 3
    assert_no_pii(out, known_names=["张三", "李四"])


def test_pseudonymise_without_identity_columns_needs_no_key(no_key):
    df = pd.DataFrame({"case_id": ["a"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, info = pseudonymise(df)
    assert out.equals(df)
    assert info["key_source"] == "none"


def test_without_a_key_a_random_key_is_used_with_a_warning(no_key, raw_people):
    with pytest.warns(UserWarning, match="not be stable across runs"):
        out1, info = pseudonymise(raw_people)
    assert info["key_source"] == "random"
    with pytest.warns(UserWarning, match="random per-run key"):
        out2, _ = pseudonymise(raw_people)
    assert out1["petitioner_id"].equals(out2["petitioner_id"])  # one key per run (process)


def test_key_from_env_and_from_key_file(no_key, monkeypatch, raw_people):
    expected, _ = pseudonymise(raw_people, key="from-somewhere")
    monkeypatch.setenv(KEY_ENV_VAR, "from-somewhere")
    got, info = pseudonymise(raw_people)
    assert info["key_source"] == "env"
    assert got["petitioner_id"].equals(expected["petitioner_id"])

    monkeypatch.delenv(KEY_ENV_VAR)
    keyfile = create_key_file()  # default location under XDG_CONFIG_HOME
    assert keyfile.is_relative_to(no_key / "config")
    got, info = pseudonymise(raw_people)
    assert info["key_source"] == "key_file"
    again, _ = pseudonymise(raw_people, key=keyfile.read_text().strip())
    assert got["petitioner_id"].equals(again["petitioner_id"])
    with pytest.raises(CasekitError, match="already exists"):
        create_key_file()


def test_missing_named_key_file_and_empty_key_are_errors(no_key, monkeypatch, raw_people):
    monkeypatch.setenv(KEY_FILE_ENV_VAR, str(no_key / "nope.key"))
    with pytest.raises(CasekitError, match="no such key file"):
        pseudonymise(raw_people)
    with pytest.raises(CasekitError, match="empty"):
        pseudonymise(raw_people, key="")


# --------------------------------------------------------------------------- masking


def test_masking_in_chinese_text():
    pid = make_id()
    text = (
        f"信访人张三，身份证号{pid}，手机13812345678，另一号码+86 139-1234-5678，"
        f"座机0754-88123456，旧证{pid[:6] + pid[8:17]}，反映小区噪音。"
    )
    got = mask_free_text(pd.Series([text]), known_names=["张三"]).iloc[0]
    assert got == (
        "信访人[姓名]，身份证号[身份证号]，手机[手机号]，另一号码[手机号]，"
        "座机[电话]，旧证[身份证号]，反映小区噪音。"
    )
    assert not valid_ids_in(got)
    assert not MOBILE.search(got)


def test_masking_keeps_ordinary_numbers_and_missing_values():
    s = pd.Series(["2023年4月25日办结，编号202304250001，金额12000元", None, 42])
    got = mask_free_text(s)
    assert got.iloc[0] == s.iloc[0]
    assert pd.isna(got.iloc[1])
    assert got.iloc[2] == "42"
    assert got.index.equals(s.index)


def test_masking_fullwidth_digits_and_long_digit_runs():
    pid = make_id()
    fw = pid.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    got = mask_free_text(pd.Series([f"证件{fw}", f"号{pid}7", "手机１３８１２３４５６７８"]))
    assert got.tolist() == ["证件[身份证号]", "号[身份证号]", "手机[手机号]"]


def test_landlines_can_be_left_alone():
    assert mask_free_text(pd.Series(["0754-88123456"]), landlines=False).iloc[0] == "0754-88123456"


def test_mask_value_masks_whole_identity_columns():
    assert mask_value("张三", column="petitioner_name") == "[姓名]"
    assert mask_value(make_id(), column="身份证号") == "[身份证号]"
    assert mask_value("13800138000", column="联系电话") == "[电话]"
    assert mask_value("见13800138000") == "见[手机号]"
    assert mask_value(None) == ""
    assert mask_value("张三说", known_names=["张三"]) == "[姓名]说"


# hypothesis: pieces of text glued with PII; masking must leave none
_filler = st.text(
    alphabet=st.sampled_from(list("反映问题小区噪音，。：（）() -+abcXx0123456789０１２")),
    max_size=12,
)


@st.composite
def _valid_id(draw) -> str:
    region = draw(st.sampled_from(["110105", "440305", "320102", "510104", "650102"]))
    year = draw(st.integers(1900, 2015))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    seq = draw(st.integers(0, 999))
    return make_id(region=region, birth=f"{year}{month:02d}{day:02d}", seq=f"{seq:03d}")


_mobile = st.builds(
    lambda p, rest, sep: f"1{p}{rest[:1]}{sep}{rest[1:5]}{sep}{rest[5:]}",
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
    st.sampled_from(["", " ", "-"]),
)
_pii = st.one_of(_valid_id(), _mobile, _mobile.map(lambda m: "+86" + m))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_filler, _pii), min_size=1, max_size=4), _filler)
def test_masking_never_leaves_a_valid_id_or_mobile(pieces, tail):
    text = "".join(f + p for f, p in pieces) + tail
    got = mask_free_text(pd.Series([text])).iloc[0]
    assert not valid_ids_in(got)
    assert not MOBILE.search(unicodedata.normalize("NFKC", got))
    assert not find_pii(got)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(alphabet="王李张刘陈杨黄赵吴周伟芳娜敏静", min_size=2, max_size=3),
        min_size=1,
        max_size=5,
    ),
    _filler,
)
def test_masking_removes_every_known_name(names, filler):
    text = filler.join(names) + filler
    got = mask_free_text(pd.Series([text]), known_names=names).iloc[0]
    for name in names:
        assert name not in got


@settings(max_examples=10, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["张三", "李四", "王五", None]),
            st.one_of(st.none(), _valid_id()),
            st.one_of(st.none(), _mobile),
        ),
        min_size=1,
        max_size=12,
    ),
    st.text(min_size=1, max_size=8),
)
def test_pseudonymise_is_deterministic_given_a_key(rows, key):
    df = pd.DataFrame(rows, columns=["petitioner_name", "petitioner_id_number", "petitioner_phone"])
    a, _ = pseudonymise(df, key=key)
    b, _ = pseudonymise(df.copy(), key=key)
    assert a["petitioner_id"].equals(b["petitioner_id"])
    # each row's id depends on that row only, not on its neighbours or the order
    c, _ = pseudonymise(df.iloc[::-1].iloc[: max(1, len(df) // 2)], key=key)
    assert c["petitioner_id"].equals(a["petitioner_id"].loc[c.index])
    assert not find_pii(a)


# --------------------------------------------------------------------------- exports


def test_spreadsheet_safe_neutralises_formulas_only_in_text_columns():
    df = pd.DataFrame(
        {
            "note": ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "ok", "-12.5", None],
            "delta": [-1, 2, -3, 4, 5, 6, 7, 8, 9],
            "rate": [-0.5] * 9,
        }
    )
    out = spreadsheet_safe(df)
    assert out["note"].tolist()[:6] == ["'=1+1", "'+SUM(A1)", "'-2+3", "'@cmd", "'\tx", "'\rx"]
    assert out["note"].tolist()[6:8] == ["ok", "-12.5"]
    assert pd.isna(out["note"].iloc[8])
    assert out["delta"].tolist() == df["delta"].tolist()
    assert out["rate"].dtype == float
    assert df["note"].iloc[0] == "=1+1"  # input untouched


def test_spreadsheet_safe_keeps_multiindex_columns():
    df = pd.DataFrame([["=x", 1]], columns=pd.MultiIndex.from_tuples([("a", "b"), ("a", "c")]))
    out = spreadsheet_safe(df)
    assert out.columns.equals(df.columns)
    assert out.iloc[0, 0] == "'=x"


def test_spreadsheet_safe_handles_categoricals_and_headers():
    df = pd.DataFrame({"=bad": pd.Categorical(["=x", "y"])})
    out = spreadsheet_safe(df)
    assert list(out.columns) == ["'=bad"]
    assert out["'=bad"].tolist() == ["'=x", "y"]


def test_spreadsheet_safe_output_survives_csv_roundtrip(tmp_path):
    df = pd.DataFrame({"a": ['=HYPERLINK("http://evil","x")'], "n": [-3]})
    path = tmp_path / "out.csv"
    spreadsheet_safe(df).to_csv(path, index=False)
    back = pd.read_csv(path)
    assert back["a"][0].startswith("'=")
    assert back["n"][0] == -3


# --------------------------------------------------------------------------- suppression


def test_small_cells_are_labelled():
    t = pd.DataFrame(
        {
            "pattern": ["a", "b", "c", "d"],
            "n_cases": [120, 4, 5, 0],
            "median_days": [30.0, 12.0, 20.0, np.nan],
        }
    )
    out = suppress_small_cells(t, dependent_cols=["median_days"])
    assert out["n_cases"].tolist() == ["120", "<5", "5", "0"]
    assert out["median_days"][0] == 30.0
    assert np.isnan(out["median_days"][1])
    assert out["median_days"][2] == 20.0
    assert t["n_cases"].tolist() == [120, 4, 5, 0]


def test_small_cells_as_nan_with_flags_and_custom_k():
    t = pd.DataFrame({"g": ["x", "y"], "n": [9, 10], "m": [1, 0]})
    out = suppress_small_cells(t, k=10, mode="nan", suppress_zero=True)
    assert out["n_suppressed"].tolist() == [True, False]
    assert out["m_suppressed"].tolist() == [True, True]
    assert np.isnan(out["n"][0])
    assert out["n"][1] == 10.0


def test_complementary_suppression_hides_a_second_cell():
    t = pd.DataFrame(
        {"street": ["s1", "s2"], "housing": [3, 40], "labour": [50, 60], "land": [20, 70]}
    )
    out = suppress_small_cells(t, complementary=True)
    # the second cell is 20: it is hidden as "[c]", not mislabelled "<5" (issue 12 item 3)
    assert out.loc[0, ["housing", "labour", "land"]].tolist() == ["<5", "50", "[c]"]
    assert out.loc[1, ["housing", "labour", "land"]].tolist() == ["40", "60", "70"]


def test_suppression_errors_name_the_column_and_mode():
    with pytest.raises(CasekitError, match="'nope' not found"):
        suppress_small_cells(pd.DataFrame({"n": [1]}), count_cols=["nope"])
    with pytest.raises(CasekitError, match="mode must be"):
        suppress_small_cells(pd.DataFrame({"g": ["a"]}), mode="blank")


# --------------------------------------------------------------------------- scanning


def test_find_pii_in_frames_text_and_files(tmp_path):
    pid = make_id()
    df = pd.DataFrame({"petitioner_name": ["张三"], "note": [f"证{pid}"], "n": [13800138000]})
    kinds = sorted(f.kind for f in find_pii(df))
    assert kinds == ["id_number", "mobile", "pii_column"]
    assert [f.kind for f in find_pii(pd.DataFrame({"tel": [13800138000.0, np.nan, 1.5]}))] == [
        "mobile"
    ]
    assert all(pid not in str(f) for f in find_pii(df))  # findings are masked

    path = tmp_path / "report.csv"
    path.write_text("case,note\nc1,ok\nc2,电话 13800138000\n", encoding="gb18030")
    found = find_pii(path)
    assert [f.where for f in found] == ["report.csv, line 3"]
    xlsx = tmp_path / "r.xlsx"
    pd.DataFrame({"a": [f"x{pid}"]}).to_excel(xlsx, index=False)
    assert [f.kind for f in find_pii(xlsx)] == ["id_number"]
    assert find_pii(["无", "张三"], known_names=["张三"])[0].kind == "name"


def test_assert_no_pii_passes_on_masked_and_fails_on_raw():
    assert_no_pii(mask_free_text(pd.Series([f"号{make_id()} 13800138000"])))
    with pytest.raises(AssertionError, match="mobile"):
        assert_no_pii(pd.Series(["13800138000"]))


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def pii_log(tmp_path_factory):
    """A synthetic district log carrying raw identities, as a GB18030 CSV with Chinese headers."""
    events, _ = ck.synth.generate_district(60, seed=6)
    people = events["petitioner_id"].drop_duplicates().reset_index(drop=True)
    rng = np.random.default_rng(5)
    surnames, given = list("鞠栾阙鄢蔺"), list("翊鸢骁珩璟")
    names = [rng.choice(surnames) + "".join(rng.choice(given, 2)) for _ in people]
    ids = [
        make_id(region="440514", birth=f"19{60 + i % 40}0{1 + i % 9}1{i % 9}", seq=f"{i:03d}")
        for i in range(len(people))
    ]
    phones = [f"13{rng.integers(5, 9)}{rng.integers(10**7, 10**8)}" for _ in people]
    who = pd.DataFrame(
        {"petitioner_id": people, "姓名": names, "身份证号": ids, "联系电话": phones}
    )
    raw = events.merge(who, on="petitioner_id", how="left").drop(columns="petitioner_id")
    raw["诉求内容"] = (
        "信访人" + raw["姓名"] + "，电话" + raw["联系电话"] + "，身份证" + raw["身份证号"]
    )
    raw["timestamp"] = raw["timestamp"].dt.strftime("%Y/%m/%d %H:%M:%S")
    raw.loc[3, "timestamp"] = "坏日期 " + raw.loc[3, "身份证号"]  # a quarantined row carrying PII
    raw.loc[5, "case_id"] = None
    path = tmp_path_factory.mktemp("pii") / "台账.csv"
    path.write_bytes(raw.to_csv(index=False).encode("gb18030"))
    return path, sorted(set(names))


def _cli(argv, capsys):
    from casekit.cli import main

    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_no_raw_pii_in_validate_network_and_rank_outputs(pii_log, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(KEY_ENV_VAR, "end-to-end-key")
    path, names = pii_log
    assert find_pii(path, known_names=names)  # the input is full of it
    q, edges, ranking = tmp_path / "q.csv", tmp_path / "edges.csv", tmp_path / "rank.csv"
    code, text = _cli(["validate", path, "--quarantine", q], capsys)
    assert code == 1
    assert len(pd.read_csv(q)) == 2
    code2, text2 = _cli(["network", path, "--kind", "handover", "--out", edges], capsys)
    code3, text3 = _cli(["rank", path, "--min-cases", "3", "--out", ranking], capsys)
    assert code2 == 0, text2
    assert code3 == 0, text3
    for output in (q, edges, ranking):
        assert_no_pii(output, known_names=names)
    assert_no_pii(text + text2 + text3, known_names=names)
    assert_no_pii(ck.read_events(path), known_names=names)


@pytest.mark.slow
def test_no_raw_pii_in_the_html_report(pii_log, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(KEY_ENV_VAR, "end-to-end-key")
    path, names = pii_log
    out = tmp_path / "report.html"
    code, text = _cli(["report", path, "--min-cases", "3", "--out", out], capsys)
    assert code == 0, text
    assert_no_pii(out, known_names=names)
    assert_no_pii(text, known_names=names)


def test_pseudonyms_never_read_as_phone_or_id_numbers():
    # about one pseudonym in 250 holds a digit run shaped like a mobile or an old ID number
    # (P3de16501331886cb holds 16501331886): the scanners must not flag or mask it
    n = 5000
    df = pd.DataFrame({"petitioner_name": [f"张{i}" for i in range(n)],
                       "petitioner_phone": [f"139{i:08d}" for i in range(n)]})
    out, _ = pseudonymise(df, key="a fixed key")
    ids = out["petitioner_id"]
    shaped = ids[ids.str.contains(r"1[3-9]\d{9}|\d{15}")]
    assert len(shaped) >= 5  # the case this test is about occurs
    assert not find_pii(out)
    assert mask_free_text(shaped).tolist() == shaped.tolist()
    # a number beside a pseudonym, or glued to ordinary text, is still found
    text = f"{shaped.iloc[0]} 13800138000 tel13800138000 P13800138000"
    assert [f.kind for f in find_pii(text)] == ["mobile"] * 3
