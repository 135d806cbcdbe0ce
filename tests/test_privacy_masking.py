"""PII masking hardened: every phone and ID format, marked names, few false positives, the
vectorised pass equal to the Python patterns, labels kept distinct, messages and HTML made safe."""

from __future__ import annotations

import random

import nbformat
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casekit import report
from casekit._utils import CasekitError
from casekit.cli import main
from casekit.privacy import (
    _mask_all_python,
    find_pii,
    mask_free_text,
    mask_labels,
    mask_row,
    mask_value,
    scrub_message,
)

ID = "11010519491231002X"  # the GB 11643 worked example

MOBILES = [
    "+86 138-1234-5678", "+86 138 1234 5678", "+8613812345678", "0086 13812345678",
    "(+86)13812345678", "86-13812345678", "138 1234 5678", "138-1234-5678", "138.1234.5678",
    "13812345678", "１３８１２３４５６７８", "138 12345678",
]
LANDLINES = [
    "0754-8888888", "0754 8888888", "07548888888", "(0754)8888888", "（0754）8888888",
    "(0754) 88881234", "010-12345678", "01012345678", "020 87654321", "0754.8888888",
    "0754-8888888-123",
]
IDS = [ID, ID.lower(), "110105 19491231 002x", "110105-19491231-002X", "110105491231002",
       ID.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))]


@pytest.mark.parametrize("number", MOBILES)
def test_every_mobile_format_is_masked_in_text(number):
    assert mask_value(f"来电{number}反映") == "来电[手机号]反映"


@pytest.mark.parametrize("number", LANDLINES)
def test_every_landline_format_is_masked_in_text(number):
    assert mask_value(f"座机{number}，") == "座机[电话]，"


@pytest.mark.parametrize("number", IDS)
def test_every_id_number_format_is_masked_in_text(number):
    assert mask_value(f"身份证{number}。") == "身份证[身份证号]。"


@pytest.mark.parametrize(("text", "masked"), [
    ("信访人张三反映小区噪音", "信访人[姓名]反映小区噪音"),
    ("姓名：李四，男", "姓名：[姓名]，男"),
    ("联系人: 王小明 电话", "联系人: [姓名] 电话"),
    ("投诉人欧阳娜娜称", "投诉人[姓名]称"),
    ("信访人张三、李四和王五反映", "信访人[姓名]反映"),
    ("联系人：于小明", "联系人：[姓名]"),
    ("当事人刘伟来电", "当事人[姓名]来电"),
])
def test_marked_names_are_masked(text, masked):
    assert mask_value(text) == masked


@pytest.mark.parametrize("text", [
    "案件编号 C2023000123", "XF20230501000123", "C07548888888", "2023-05-01 12:00:00",
    "20230501120000", "金额 12000.50 元", "1381234567", "138123456789", "潮阳区信访局",
    "棉北街道办事处", "信访人员到场", "申请人民法院调解", "举报人于今日来电", "信访人曾多次申请",
    "信访人要求答复", "西兴社区9巷88号", "202304250001123456", "案件 202305010001",
    "第0754号文件",
])
def test_ordinary_values_are_not_mangled(text):
    assert mask_value(text) == text


def test_find_pii_finds_every_format_the_masking_hides():
    for number in MOBILES:
        assert [f.kind for f in find_pii(f"号{number}。")] == ["mobile"], number
    for number in LANDLINES:
        assert [f.kind for f in find_pii(f"号{number}。", landlines=True)] == ["landline"], number
    for number in IDS:
        assert [f.kind for f in find_pii(f"号{number}。")] == ["id_number"], number


# --- the vectorised pass gives what the Python patterns give on every value ---------------

def _corpus(n: int, seed: int) -> list[object]:
    rng = random.Random(seed)
    pieces = ["信访人", "张三", "反映", "，电话", "身份证", "编号XF2023", "2023-05-01 ", "金额1200元",
              "（", "）", "－", "\u3000", "巷", "号", "联系人：", "李四", "　", "x", "X", " ", "-", "."]
    pieces += MOBILES + LANDLINES + IDS + ["0754", "138", "1234", "5678", "12345678", "999"]
    values: list[object] = []
    for _ in range(n):
        values.append("".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))))
    values += [None, 42, 13812345678, 1.5, float("nan"), "", "١٣٨١٢٣٤٥٦٧٨"]  # Arabic-Indic digits
    return values


@pytest.mark.parametrize("names", [None, ["张三", "李四", "王(五)", "a.b"]])
def test_vectorised_masking_equals_the_python_patterns_on_a_corpus(names):
    s = pd.Series(_corpus(3000, seed=1), dtype=object)
    fast = mask_free_text(s, known_names=names)
    slow = _mask_all_python(s, known_names=names)
    assert fast.equals(slow)
    assert (fast != s.astype("str")).sum() > 500  # the corpus does hold PII


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("0123456789０１３８ -.+()（）－\u3000xX信访人张三姓名：联系李四号")),
                        max_size=30), min_size=1, max_size=8))
def test_vectorised_masking_equals_the_python_patterns_on_random_text(values):
    s = pd.Series(values, dtype="str")
    assert mask_free_text(s, known_names=["张三"]).equals(_mask_all_python(s, known_names=["张三"]))


# --- labels that identify things stay distinct --------------------------------------------

def test_mask_labels_never_merges_two_agencies():
    agencies = ["张三调解室", "李四调解室", "区信访局", "13812345678服务站", "13912345678服务站"]
    out = mask_labels(agencies, known_names=["张三", "李四"], key="k")
    assert len(set(out)) == len(agencies)
    assert out[2] == "区信访局"
    assert not any(p in "".join(out) for p in ["张三", "李四", "1381234", "1391234"])
    assert out == mask_labels(agencies, known_names=["张三", "李四"], key="k")  # stable
    assert out != mask_labels(agencies, known_names=["张三", "李四"], key="other")


def test_mask_row_masks_ragged_and_misaligned_rows():
    cols = ["case_id", "姓名", "身份证号", "联系电话"]
    ragged = ["C1", "张三", ID, "138 1234 5678", "多余字段 0754-8888888"]
    assert mask_row(ragged, columns=cols) == ["C1", "[姓名]", "[身份证号]", "[电话]", "多余字段 [电话]"]
    wrong_sep = ["C1;王五;" + ID + ";13812345678"]  # the header split on commas, the row on ;
    out = mask_row(wrong_sep, columns=cols, known_names=["王五"])
    assert out == ["C1;[姓名];[身份证号];[手机号]"]
    split = ["C2", "110105194912", "31002X"]  # an ID number cut in two by a stray separator
    assert not find_pii("".join(mask_row(split, columns=["case_id", "note"])))


# --- messages ------------------------------------------------------------------------------

def test_scrub_message_masks_escapes_and_cuts():
    text = "张三_13812345678.csv: column '\x1b[2J身份证\u202e' bad; 信访人李四 " + ID
    out = scrub_message(text, known_names=["张三"])
    assert "13812345678" not in out and ID not in out and "张三" not in out and "李四" not in out
    assert "\x1b" not in out and "\u202e" not in out and "\\x1b" in out
    assert "\n" not in scrub_message("a\nb\r\nc")
    long = scrub_message("x" * 5000 + "13812345678")
    assert len(long) < 330 and long.endswith("(5011 characters)")


def test_the_cli_error_line_is_scrubbed(tmp_path, capsys):
    bad = tmp_path / "张三_13812345678\x1b[31m.csv"
    bad.write_bytes(b"\x00\x01\x02")
    code = main(["validate", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    assert "13812345678" not in err and "\x1b" not in err
    assert len(err.strip().splitlines()) == 1


def test_argparse_errors_are_scrubbed(capsys):
    with pytest.raises(SystemExit):
        main(["validate", "--no-such-option=13812345678"])
    assert "13812345678" not in capsys.readouterr().err


# --- the report's HTML ---------------------------------------------------------------------

def _html_of_markdown(markdown: str) -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", execution_count=1, outputs=[
        nbformat.v4.new_output("display_data", data={"text/markdown": markdown})])])
    return report.export_html(nb)


@pytest.mark.parametrize("name", ["<img src=x onerror=alert(1)>.csv",
                                  "a`<img src=x onerror=alert(1)>`.csv",
                                  "[x](javascript:alert(1)).csv", "<svg onload=alert(1)>.xlsx"])
def test_a_file_name_reaches_the_report_as_text(name):
    ev = pd.DataFrame({"case_id": ["a"], "agency": ["x"]})
    ev.attrs["casekit"] = {"source": f"/data/{name}"}
    cs = pd.DataFrame({"case_id": ["a"], "closed": [True], "repeat_ordinal": [1],
                       "observation_end": pd.to_datetime(["2024-01-01"])})
    html = _html_of_markdown(report.describe_log(ev, cs))
    body = html[html.index("<body"):]
    assert "<img src=x" not in body and "<svg onload" not in body
    assert 'href="javascript' not in body
    assert "alert(1)" in body.replace("\\", "")  # shown, as text


def test_the_report_check_looks_for_the_raw_identities_of_the_log(tmp_path, monkeypatch):
    src = tmp_path / "log.csv"
    src.write_text("case_id,信访人姓名,身份证号,联系电话\nA,鞠翊鸢,%s,0754 8888888\n" % ID,
                   encoding="utf-8")
    assert set(report.identity_values(src)) == {"鞠翊鸢", ID, "0754 8888888"}
    monkeypatch.setattr(report, "execute_notebook", lambda *a, **k: nbformat.v4.new_notebook())
    for leak in ("<td>鞠翊鸢</td>", "<td>07548888888</td>"):  # a name; a landline without its space
        monkeypatch.setattr(report, "export_html", lambda nb, leak=leak, **k: leak)
        with pytest.raises(CasekitError, match="raw PII"):
            report.build_report(src, out=tmp_path / "r.html")
        assert not (tmp_path / "r.html").exists()
