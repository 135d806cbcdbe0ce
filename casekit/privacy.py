"""Privacy: keyed pseudonymisation, PII masking in free text, safe exports, small-cell suppression.

Petitioner names, ID numbers (身份证号) and phone numbers must never leave casekit raw. This module
holds the pieces every reader and writer uses for that:

- :func:`pseudonymise` turns the raw identity columns (``petitioner_name``,
  ``petitioner_id_number``, ``petitioner_phone``) into one keyed-hash ``petitioner_id`` and drops
  them (called at ingest by :mod:`casekit.io`);
- :func:`is_valid_id_number` checks 18-digit resident ID numbers (GB 11643-1999: ISO 7064
  MOD 11-2 check digit, region and birth date plausibility);
- :func:`mask_free_text` / :func:`mask_value` / :func:`mask_row` replace ID numbers, mobile and
  landline numbers, known names and names marked in the text (信访人张三) with ``[身份证号]``,
  ``[手机号]``, ``[电话]``, ``[姓名]`` (one vectorised pyarrow pass sets aside values that cannot
  hold any of them); :func:`mask_labels` does the same with keyed tokens so distinct labels
  (agencies) stay distinct; :func:`scrub_message` makes any text safe to print (PII masked,
  control characters escaped, length cut);
- :func:`spreadsheet_safe` neutralises formula-like cells before CSV / Excel export;
- :func:`suppress_small_cells` (one table) and :func:`suppress_tables` (every table of one
  publication, with their :class:`Relation` s) apply complementary small-cell suppression that
  no reader can undo by solving the printed relations;
- :func:`find_pii` / :func:`assert_no_pii` scan tables, text and files for leftover PII (for tests).

The pseudonymisation key comes from (in order) the ``key`` argument, the environment variable
``CASEKIT_PSEUDONYM_KEY``, or a key file named by ``CASEKIT_PSEUDONYM_KEY_FILE`` (default
``~/.config/casekit/pseudonym.key``). It is never written beside the data.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import hmac
import os
import re
import secrets
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from casekit._utils import CasekitError

__all__ = [
    "KEY_ENV_VAR",
    "KEY_FILE_ENV_VAR",
    "PIIFinding",
    "assert_no_pii",
    "create_key_file",
    "default_key_file",
    "find_pii",
    "is_valid_id_number",
    "mask_free_text",
    "mask_value",
    "pseudonymise",
    "spreadsheet_safe",
    "suppress_small_cells",
    "suppress_tables",
    "suppression_plan",
    "row_relations",
    "column_relations",
    "Relation",
    "Cell",
    "COMPLEMENTARY_LABEL",
    "identity_column_kind",
    "mask_labels",
    "mask_row",
    "scrub_message",
]

KEY_ENV_VAR = "CASEKIT_PSEUDONYM_KEY"
KEY_FILE_ENV_VAR = "CASEKIT_PSEUDONYM_KEY_FILE"

ID_LABEL = "[身份证号]"
MOBILE_LABEL = "[手机号]"
PHONE_LABEL = "[电话]"
NAME_LABEL = "[姓名]"

# ISO 7064 MOD 11-2 as used by GB 11643-1999: weights 2^(17-i) mod 11, check char by remainder
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = "10X98765432"
# first two digits: province-level division (GB/T 2260), 71 Taiwan, 81 Hong Kong, 82 Macao,
# 83 Taiwan residents' residence permits, 91 foreigners' permanent residence cards (2023 format)
_PROVINCES = frozenset(
    [*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55)]
).union([*range(61, 66), 71, 81, 82, 83, 91])
_MIN_BIRTH_YEAR = 1870  # the GB 11643 worked example 440524188001010014 is born in 1880

# full-width digits, X and separators -> ASCII (one character to one, so spans stay aligned)
_FULLWIDTH = str.maketrans("０１２３４５６７８９Ｘｘ＋－\u3000（）", "0123456789Xx+- ()")

_ID18_RE = re.compile(r"(?<!\d)(?:\d{17}|\d{6}[ -]\d{8}[ -]\d{3})(?:\d(?!\d)|[Xx])")
_ID15_RE = re.compile(r"(?<!\d)\d{15}(?!\d)")
_LONG_RUN_RE = re.compile(r"(?<!\d)\d{18,}[Xx]?")
_MOBILE_RE = re.compile(
    r"(?<!\d)(?:(?:\(?(?:\+|00)86\)?|86)[ -]?)?1[3-9]\d[ .-]?\d{4}[ .-]?\d{4}(?!\d)"
)
_THREE_DIGITS = re.compile(r"\d{3}")
# a pseudonym (pseudonymise: a prefix of letters and 16 lowercase hex digits, at least one a-f)
# holds a digit run that looks like a mobile or an old ID number about once in 250: a number
# found inside such a token is the hash's, not a person's
_PSEUDONYM_RE = re.compile(r"(?<![0-9A-Za-z])[A-Za-z]{1,8}(?=[0-9]{0,15}[a-f])[0-9a-f]{16}"
                           r"(?![0-9A-Za-z])")
# landlines: (0754)8888888, 0754-8888888, 0754.8888888, 0754 8888888 with an area code; written
# without a separator only as a whole number (07548888888, 01012345678: 3-digit area codes have
# 8-digit numbers), never inside a longer code such as a case id (no letter or digit before it)
_LANDLINE_RE = re.compile(
    r"(?<!\d)(?:\(0\d{2,3}\) ?|0\d{2,3}[-.])\d{7,8}(?:-\d{1,5})?(?!\d)"
    r"|(?<![\dA-Za-z])(?:0\d{2,3} |0[12]\d(?=\d{8}(?!\d))|0[3-9]\d{2}(?=\d{7,8}(?!\d)))"
    r"\d{7,8}(?:-\d{1,5})?(?!\d)"
)

# names where the text marks them (信访人张三, 姓名：李四, 联系人王先生): a marker, an optional
# separator, a surname from the common list, one given character and an optional second one that
# is not a word that usually follows a name (反映, 称, 来电 ...). Unmarked names are masked only
# when they are known (known_names). Surnames that are also function words (于, 向, 和 ...) count
# only after a colon, as do surnames that start everyday words (曾经, 申请, 车辆, 房屋 ...), so
# 举报人于今日来电 and 信访人曾多次申请 keep their words.
_NAME_MARKERS = (
    "姓名", "信访人", "上访人", "来访人", "来信人", "来电人", "投诉人", "举报人", "反映人",
    "联系人", "当事人", "申请人", "求助人", "留言人", "被反映人", "被投诉人", "被举报人",
    "代理人", "监护人", "户主姓名", "业主姓名",
)
_COMPOUND_SURNAMES = (
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "慕容", "尉迟", "夏侯", "公孙",
    "长孙", "宇文", "司徒", "端木", "轩辕", "独孤", "南宫", "西门", "百里", "呼延", "澹台",
)
_AMBIGUOUS_SURNAMES = (
    "于向和将把被在对为与及也都又从曾时常明全单应相满国文成安关商连步居终慎容井诸暴申车房路解"
    "党师包符冷严方程金管费谈边卫"
)
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔汤易常牛温康施文樊葛邢安齐伍庞颜倪洪章鲁岳翟殷詹申欧耿关兰焦俞左柳甘"
    "祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解"
    "牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬"
    "边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝封谈鞠阙鄢蔺蔚庄揭晁芮豆储"
    "井乔浦冀郁奚闻鹿蓬诸相胥暴茅钮隆钭晋楚闫习宦艾鱼容向古易慎戈廖庾终暨居衡步都耿满弘匡国文"
    + _AMBIGUOUS_SURNAMES
)
_NAME_STOP = "反称来要于在因等向到对说表电诉的及和与现住家男女同请均已提投举申户系是为将把被经自所多年岁曾于今"
_MARKER_RE = re.compile("|".join(sorted(_NAME_MARKERS, key=len, reverse=True)))


def _surname_class(chars: str) -> str:
    return "[" + "".join(sorted(set(chars))) + "]"


_ONE_NAME = (
    "(?:" + "|".join(_COMPOUND_SURNAMES) + "|{surname})[\u4e00-\u9fff]"
    "(?:(?![" + _NAME_STOP + "])[\u4e00-\u9fff])?"
)
_PLAIN_SURNAMES = _surname_class("".join(c for c in _SURNAMES if c not in _AMBIGUOUS_SURNAMES))
_ALL_SURNAMES = _surname_class(_SURNAMES)
_MARKED_NAME_RE = re.compile(
    "(?:" + _MARKER_RE.pattern + ")(?:姓名)?"
    "(?:[ \t]*[:：=][ \t]*(?P<a>" + _ONE_NAME.format(surname=_ALL_SURNAMES) + ")"
    "|[ \t]*(?:为|是|叫)?[ \t]*(?P<b>" + _ONE_NAME.format(surname=_PLAIN_SURNAMES) + "))"
    "(?P<more>(?:[、,，和与及](?:" + _ONE_NAME.format(surname=_PLAIN_SURNAMES) + "))*)"
)

# column names that hold identity as a whole cell (mask_value masks the entire value)
_IDENTITY_COLUMNS = frozenset(
    [
        "petitioner_name",
        "petitioner_id_number",
        "petitioner_phone",
        "name",
        "id_number",
        "phone",
        "mobile",
        "姓名",
        "信访人",
        "信访人姓名",
        "身份证号",
        "身份证号码",
        "证件号码",
        "联系电话",
        "电话",
        "手机",
        "手机号",
        "手机号码",
        "留言用户",
    ]
)


# --------------------------------------------------------------------------------------------
# ID numbers
# --------------------------------------------------------------------------------------------


_WEIGHT_LIST = [int(w) for w in _WEIGHTS]
_TODAY = _dt.date.today()  # birth dates after the day casekit was imported are implausible


def _check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHT_LIST, strict=True))
    return _CHECK_CHARS[total % 11]


def _plausible_date(year: int, month: int, day: int) -> bool:
    if not _MIN_BIRTH_YEAR <= year <= _TODAY.year:
        return False
    try:
        born = _dt.date(year, month, day)
    except ValueError:
        return False
    return born <= _TODAY


def _normalise_id_text(value: str) -> str:
    text = unicodedata.normalize("NFKC", value)
    return re.sub(r"[\s-]", "", text).upper()


def _scalar_valid_id(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    s = _normalise_id_text(value)
    if len(s) != 18 or not s[:17].isascii() or not s[:17].isdigit():
        return False
    if s[17] not in "0123456789X":
        return False
    if int(s[:2]) not in _PROVINCES:
        return False
    if not _plausible_date(int(s[6:10]), int(s[10:12]), int(s[12:14])):
        return False
    return _check_char(s[:17]) == s[17]


def _valid_id_array(values: pd.Series) -> np.ndarray:
    """Check (already normalised) strings, vectorised; NA -> False."""
    s = values.astype("str")
    shape_ok = s.str.fullmatch(r"\d{17}[\dX]").fillna(False).to_numpy(dtype=bool)
    out = np.zeros(len(s), dtype=bool)
    if not shape_ok.any():
        return out
    good = s[shape_ok].to_numpy(dtype=object)
    raw = np.frombuffer("".join(good).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
    digits = raw[:, :17].astype(np.int64) - 48
    check = np.array(list(_CHECK_CHARS))[(digits @ _WEIGHTS) % 11]
    last = raw[:, 17].view("S1").astype(str)
    ok = check == last
    province = digits[:, 0] * 10 + digits[:, 1]
    ok &= np.isin(province, list(_PROVINCES))
    year = digits[:, 6:10] @ np.array([1000, 100, 10, 1])
    month = digits[:, 10] * 10 + digits[:, 11]
    day = digits[:, 12] * 10 + digits[:, 13]
    today = _TODAY
    ok &= (year >= _MIN_BIRTH_YEAR) & (month >= 1) & (month <= 12) & (day >= 1)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[
        np.clip(month, 0, 12)
    ]
    ok &= day <= month_days + (leap & (month == 2))
    ok &= year * 10000 + month * 100 + day <= today.year * 10000 + today.month * 100 + today.day
    out[shape_ok] = ok
    return out


def is_valid_id_number(
    value: str | pd.Series | Sequence[Any] | np.ndarray | None,
) -> bool | pd.Series | np.ndarray:
    """Check Chinese 18-digit resident ID numbers (居民身份证号码, GB 11643-1999).

    A number is valid when it has 17 digits and a check character (digit or ``X``), its check
    character matches the ISO 7064 MOD 11-2 checksum, its first two digits are a province-level
    code (including 71/81/82/83 and the 91 of the 2023 foreigners' permanent residence card), and
    its birth date (digits 7-14) is a real calendar date between 1870 and today. Full-width digits,
    a lower-case ``x``, spaces and hyphens are tolerated.

    Parameters
    ----------
    value : str, pandas.Series or array-like
        One number or many. Missing values and non-strings are invalid.

    Returns
    -------
    bool, pandas.Series of bool (same index) or numpy.ndarray of bool
        Vectorised (numpy over the checksums) for Series and arrays.

    Notes
    -----
    15-digit numbers (issued before 1999) are not valid here; :func:`pseudonymise` upgrades
    plausible ones to 18 digits and :func:`mask_free_text` masks them.

    References
    ----------
    GB 11643-1999 *Citizen identification number*; ISO 7064:2003 MOD 11-2.

    Examples
    --------
    The worked example of the standard:

    >>> from casekit.privacy import is_valid_id_number
    >>> is_valid_id_number("11010519491231002X")
    True
    >>> is_valid_id_number("110105194912310021")  # wrong check character
    False
    >>> is_valid_id_number(pd.Series(["11010519491231002x", "110105194913310020", None])).tolist()
    [True, False, False]
    """
    if value is None or isinstance(value, str):
        return _scalar_valid_id(value)
    if isinstance(value, pd.Series):
        norm = _normalise_series(value, _normalise_id_text)
        return pd.Series(_valid_id_array(norm), index=value.index, name=value.name)
    if isinstance(value, Iterable):
        series = pd.Series(list(value), dtype=object)
        return _valid_id_array(_normalise_series(series, _normalise_id_text))
    return False


def _upgrade_id15(s: str) -> str | None:
    """Return a plausible 15-digit ID (old format, born 19YY) in its 18-digit form, else None."""
    if len(s) != 15 or not s.isascii() or not s.isdigit() or int(s[:2]) not in _PROVINCES:
        return None
    if not _plausible_date(1900 + int(s[6:8]), int(s[8:10]), int(s[10:12])):
        return None
    first17 = s[:6] + "19" + s[6:]
    return first17 + _check_char(first17)


# --------------------------------------------------------------------------------------------
# keys
# --------------------------------------------------------------------------------------------

_RUN_KEY: bytes | None = None


def default_key_file() -> Path:
    """Where casekit looks for the pseudonymisation key file when no other key is given.

    ``$CASEKIT_PSEUDONYM_KEY_FILE`` if set, else ``$XDG_CONFIG_HOME/casekit/pseudonym.key``
    (``~/.config/casekit/pseudonym.key``): in the user's home, never beside the data.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os
    >>> from casekit.privacy import default_key_file
    >>> default_key_file().name.endswith(".key") or "CASEKIT_PSEUDONYM_KEY_FILE" in os.environ
    True
    """
    named = os.environ.get(KEY_FILE_ENV_VAR)
    if named:
        return Path(named).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(config).expanduser() / "casekit" / "pseudonym.key"


def create_key_file(path: str | os.PathLike[str] | None = None, *, overwrite: bool = False) -> Path:
    """Write a new random pseudonymisation key (256 bits, hex) to a private key file.

    Keep this file outside the data folder and back it up: the same key gives the same
    ``petitioner_id`` across runs and files, which is what links repeat petitions over time.

    Parameters
    ----------
    path : path-like, optional
        Default :func:`default_key_file`.
    overwrite : bool, default False
        Replacing a key breaks the link to every id made with the old one, hence off by default.

    Returns
    -------
    pathlib.Path
        The file written (mode 0600 where the system supports it).

    Raises
    ------
    CasekitError
        If the file exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from casekit.privacy import create_key_file
    >>> p = create_key_file(pathlib.Path(tempfile.mkdtemp()) / "k.key")
    >>> len(p.read_text().strip())
    64
    """
    target = Path(path).expanduser() if path is not None else default_key_file()
    if target.exists() and not overwrite:
        raise CasekitError(
            f"{target}: a key file already exists; pass overwrite=True to replace it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return target


def _resolve_key(key: str | bytes | None) -> tuple[bytes, str]:
    global _RUN_KEY
    if key is not None:
        raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        if not raw:
            raise CasekitError("pseudonymise: the key given is empty")
        return raw, "argument"
    env = os.environ.get(KEY_ENV_VAR)
    if env:
        return env.encode("utf-8"), "env"
    file = default_key_file()
    if os.environ.get(KEY_FILE_ENV_VAR) and not file.is_file():
        raise CasekitError(f"{KEY_FILE_ENV_VAR}={file}: no such key file")
    if file.is_file():
        raw = file.read_bytes().strip()
        if not raw:
            raise CasekitError(f"{file}: the pseudonymisation key file is empty")
        return raw, "key_file"
    if _RUN_KEY is None:
        _RUN_KEY = secrets.token_bytes(32)
    warnings.warn(
        "casekit: no pseudonymisation key (set CASEKIT_PSEUDONYM_KEY or create a key file with "
        "casekit.privacy.create_key_file()); a random per-run key was used, so petitioner_id "
        "values will not be stable across runs",
        UserWarning,
        stacklevel=3,
    )
    return _RUN_KEY, "random"


# --------------------------------------------------------------------------------------------
# pseudonymise
# --------------------------------------------------------------------------------------------


def _normalise_series(values: pd.Series, func: Any) -> pd.Series:
    """Apply a scalar normaliser to the unique non-missing values only (fast on big columns)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    done = np.array(
        [func(str(u)) for u in uniques] + [None], dtype=object
    )  # last slot for the NA sentinel (-1)
    return pd.Series(done[codes], index=values.index, dtype=object)


def _normalise_name(value: str) -> str | None:
    text = unicodedata.normalize("NFKC", value)
    text = re.sub(r"[·•‧・﹒.]", "·", text)
    text = re.sub(r"\s+", "", text).casefold()
    return text or None


def _normalise_phone(value: str) -> str | None:
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value))
    if len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if len(digits) >= 7 else None


def _normalise_id(value: str) -> str | None:
    s = _normalise_id_text(value)
    if len(s) == 15:
        return _upgrade_id15(s) or s
    return s or None


def _as_text(uniques: Any) -> pd.Series:
    """Return distinct raw values as strings; integral floats (phones read from Excel) without '.0'."""
    if pd.api.types.is_string_dtype(getattr(uniques, "dtype", None)):
        return pd.Series(uniques, dtype="str")
    texts = [
        f"{v:.0f}" if isinstance(v, float) and v.is_integer() else str(v)
        for v in np.asarray(uniques, dtype=object)
    ]
    return pd.Series(texts, dtype="str")


def _normalise_names(s: pd.Series) -> pd.Series:
    s = s.str.normalize("NFKC").str.replace(r"[·•‧・﹒.]", "·", regex=True)
    s = s.str.replace(r"\s+", "", regex=True).str.casefold()
    return s.where(s.str.len() > 0)


def _normalise_phones(s: pd.Series) -> pd.Series:
    d = s.str.normalize("NFKC").str.replace(r"\D", "", regex=True)
    d = d.where(~((d.str.len() == 15) & d.str.startswith("0086")), d.str.slice(4))
    d = d.where(~((d.str.len() == 13) & d.str.startswith("86")), d.str.slice(2))
    return d.where(d.str.len() >= 7)


def _normalise_ids(s: pd.Series) -> pd.Series:
    s = s.str.normalize("NFKC").str.replace(r"[\s-]", "", regex=True).str.upper()
    s = s.where(s.str.len() > 0)
    old = (s.str.len() == 15).fillna(False).to_numpy(dtype=bool)
    if old.any():
        upgraded = [_upgrade_id15(v) or v for v in s[old]]
        s[old] = upgraded
    return s


def _hash_unique(identities: np.ndarray, key: bytes, length: int, prefix: str) -> np.ndarray:
    digest = hmac.digest
    out = [
        prefix + digest(key, ident.encode("utf-8"), "sha256").hex()[:length] for ident in identities
    ]
    return np.array(out, dtype=object)


def _key_fingerprint(key: bytes) -> str:
    return hmac.new(key, b"casekit key fingerprint", hashlib.sha256).hexdigest()[:8]


def pseudonymise(
    df: pd.DataFrame,
    *,
    key: str | bytes | None = None,
    name_col: str = "petitioner_name",
    id_col: str = "petitioner_id_number",
    phone_col: str = "petitioner_phone",
    out_col: str = "petitioner_id",
    mask_cols: Sequence[str] | None = None,
    length: int = 16,
    prefix: str = "P",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Replace raw petitioner identity columns by one keyed-hash ``petitioner_id``.

    Whichever of the name, ID-number and phone columns are present are normalised and combined
    into one identity per row, hashed with HMAC-SHA256 under a secret key, and dropped.

    Parameters
    ----------
    df : pandas.DataFrame
        Events (or any table) with raw identity columns.
    key : str or bytes, optional
        The secret key. Default: env ``CASEKIT_PSEUDONYM_KEY``, else the key file
        (:func:`default_key_file`), else a random per-run key with a ``UserWarning``.
    name_col, id_col, phone_col : str
        The raw identity columns; absent ones are simply not used.
    out_col : str, default "petitioner_id"
        The pseudonym column. Where a row has no identity at all, an existing value in this
        column is kept (it may be a source's own petitioner number); otherwise it is missing.
    mask_cols : sequence of str, optional
        Free-text columns to mask in the same pass with :func:`mask_free_text`, using the names
        seen in ``name_col`` as known names (so raw names never leave this function).
    length : int, default 16
        Hex characters of the digest kept (16 = 64 bits: collision chance about 3e-6 for
        10 million distinct petitioners).
    prefix : str, default "P"

    Returns
    -------
    (pandas.DataFrame, dict)
        A new table with ``out_col`` and without the raw columns, and an info dict:
        ``key_source`` (``argument`` / ``env`` / ``key_file`` / ``random`` / ``none`` when there
        was nothing to hash), ``key_fingerprint`` (8 hex characters identifying the key without
        revealing it), ``columns_used``, ``columns_dropped``, ``n_rows``, ``n_petitioners``,
        ``basis`` (rows per identity rule), ``n_invalid_id_numbers`` (non-empty ID numbers that
        failed :func:`is_valid_id_number`), ``mask_cols`` and ``n_masked_cells``.

    Raises
    ------
    CasekitError
        If the key given (or the key file) is empty, or ``CASEKIT_PSEUDONYM_KEY_FILE`` names a
        missing file.

    Warns
    -----
    UserWarning
        When no key is configured (ids are then not stable across runs).

    Notes
    -----
    The identity rule, first that applies per row:

    1. ``id:<number>``: a valid 18-digit ID number (a plausible 15-digit one is first upgraded
       to 18 digits, so old and new cards of one person match);
    2. ``np:<name>|<phone>``: name and phone (names: NFKC, no whitespace, unified middle dot,
       case-folded; phones: digits only, ``+86`` / ``0086`` removed);
    3. ``ph:<phone>``; 4. ``nm:<name>`` (homonyms collide: a weak identity, counted in ``basis``);
    5. ``raw:<text>``: an ID number that fails validation, as written (normalised).

    The rule is applied row by row, so one person recorded once with an ID number and once
    with only name and phone gets two ids; linking those is record linkage, left to the user
    (e.g. fill the missing ID number from the same name + phone before calling this).

    The digest is computed once per distinct identity, so 10 million rows with a few hundred
    thousand petitioners take seconds. Without the key the pseudonyms cannot be reversed
    short of guessing every identity; with it, anyone can re-compute the id of a known person,
    so keep the key like a password and outside the data folder.

    Examples
    --------
    >>> from casekit.privacy import pseudonymise
    >>> raw = pd.DataFrame(
    ...     {
    ...         "case_id": ["c1", "c2", "c3"],
    ...         "petitioner_name": ["张三", "张 三", "李四"],
    ...         "petitioner_id_number": ["11010519491231002X", "11010519491231002x", None],
    ...         "petitioner_phone": ["13800138000", None, "+86 139-0013-9000"],
    ...     }
    ... )
    >>> out, info = pseudonymise(raw, key="secret")
    >>> list(out.columns)
    ['case_id', 'petitioner_id']
    >>> out.petitioner_id[0] == out.petitioner_id[1] != out.petitioner_id[2]
    True
    >>> info["key_source"], info["basis"]
    ('argument', {'id_number': 2, 'name_phone': 1})
    """
    present = [c for c in (id_col, name_col, phone_col) if c in df.columns]
    mask_cols = [c for c in (mask_cols or []) if c in df.columns]
    info: dict[str, Any] = {
        "key_source": "none",
        "key_fingerprint": None,
        "columns_used": present,
        "columns_dropped": list(present),
        "n_rows": len(df),
        "n_petitioners": 0,
        "basis": {},
        "n_invalid_id_numbers": 0,
        "mask_cols": mask_cols,
        "n_masked_cells": 0,
    }
    out = df.copy(deep=False)  # copy-on-write: the caller's frame is never changed
    if not present:
        return out, info
    if length < 8 or length > 64:
        raise CasekitError(f"pseudonymise: length must be between 8 and 64, got {length}")
    raw_key, source = _resolve_key(key)
    info["key_source"] = source
    info["key_fingerprint"] = _key_fingerprint(raw_key)

    combos = _Combos.of(df, present, {id_col: _normalise_ids, name_col: _normalise_names,
                                      phone_col: _normalise_phones})
    identity, basis = _choose_identity(combos, id_col, name_col, phone_col)
    known = identity.notna().to_numpy()
    hashed = np.full(combos.m, None, dtype=object)
    if known.any():
        ident_codes, ident_uniques = pd.factorize(identity[known])
        digests = _hash_unique(np.asarray(ident_uniques, dtype=object), raw_key, length, prefix)
        hashed[known] = digests[ident_codes]
    result = pd.Series(pd.array(hashed, dtype="str").take(combos.combined), index=df.index)
    if out_col in df.columns and out_col not in present:
        result = result.fillna(df[out_col].astype("str"))
    out[out_col] = result
    info["basis"] = _basis_counts(basis, combos.rows_per_combo)
    info["n_petitioners"] = len({h for h in hashed if h is not None})
    if id_col in combos.codes:
        info["n_invalid_id_numbers"] = _n_invalid_ids(combos, id_col)
    if mask_cols:
        info["n_masked_cells"] = _mask_columns(df, out, mask_cols, name_col)
    return out.drop(columns=present), info


#: Identity rules of :func:`pseudonymise`, strongest first (label, prefix of the identity).
_RULES = ("id_number", "name_phone", "phone", "name", "raw_id_number")


@dataclass
class _Combos:
    """The distinct combinations of a table's raw identity values (one per petitioner row
    pattern), with each identity column factorised and normalised on its distinct values."""

    codes: dict[str, np.ndarray]    # column -> code per row (len(uniques) for missing)
    norm: dict[str, pd.Series]      # column -> normalised distinct values (+ a final None)
    combined: np.ndarray            # combination code per row, in order of first appearance
    first_idx: np.ndarray           # first row of each combination
    rows_per_combo: np.ndarray
    m: int

    @classmethod
    def of(cls, df: pd.DataFrame, present: list[str], normalisers: dict[str, Any]) -> _Combos:
        """Factorise (arrow hashing) and normalise only the distinct values of each column."""
        n = len(df)
        codes_of: dict[str, np.ndarray] = {}
        norm: dict[str, pd.Series] = {}
        for col in present:
            codes, uniques = pd.factorize(df[col], use_na_sentinel=True)
            normed = normalisers[col](_as_text(uniques))
            # position len(uniques) holds NA, for the -1 sentinel
            codes_of[col] = np.where(codes < 0, len(uniques), codes)
            norm[col] = pd.concat([normed, pd.Series([None], dtype="str")], ignore_index=True)
        combined = np.zeros(n, dtype=np.int64)
        for col in present:
            combined = combined * len(norm[col]) + codes_of[col]
            combined = pd.factorize(combined)[0].astype(np.int64)
        m = int(combined.max()) + 1 if n else 0
        # codes appear in increasing order, so a first occurrence is where the running max grows
        is_first = np.ones(n, dtype=bool)
        if n > 1:
            is_first[1:] = combined[1:] > np.maximum.accumulate(combined)[:-1]
        return cls(codes_of, norm, combined, np.flatnonzero(is_first),
                   np.bincount(combined, minlength=m), m)

    def part(self, col: str) -> pd.Series:
        """The normalised value of ``col`` for each combination (missing when absent)."""
        if col not in self.codes:
            return pd.Series([None] * self.m, dtype="str")
        return self.norm[col].take(self.codes[col][self.first_idx]).reset_index(drop=True)


def _choose_identity(combos: _Combos, id_col: str, name_col: str, phone_col: str
                     ) -> tuple[pd.Series, np.ndarray]:
    """Per combination, the identity of the strongest rule that applies (see :data:`_RULES`)
    and that rule's index (``-1``: no identity)."""
    ids, names, phones = combos.part(id_col), combos.part(name_col), combos.part(phone_col)
    has_id, has_name, has_phone = ids.notna(), names.notna(), phones.notna()
    valid = pd.Series(False, index=ids.index)
    if has_id.any():
        valid[has_id] = _valid_id_array(ids[has_id])
    rules = [(valid, "id:" + ids), (has_name & has_phone, "np:" + names + "|" + phones),
             (has_phone, "ph:" + phones), (has_name, "nm:" + names), (has_id, "raw:" + ids)]
    identity = pd.Series([None] * combos.m, dtype="str")
    basis = np.full(combos.m, -1, dtype=np.int64)
    todo = np.ones(combos.m, dtype=bool)
    for r, (cond, made) in enumerate(rules):
        hit = todo & cond.to_numpy(dtype=bool)
        identity[hit] = made[hit]
        basis[hit] = r
        todo &= ~hit
    return identity, basis


def _basis_counts(basis: np.ndarray, rows_per_combo: np.ndarray) -> dict[str, int]:
    """Rows per identity rule (``missing``: rows without any identity)."""
    per_rule = np.bincount(basis + 1, weights=rows_per_combo, minlength=len(_RULES) + 1)
    out = {label: int(per_rule[r + 1]) for r, label in enumerate(_RULES) if per_rule[r + 1] > 0}
    if per_rule[0] > 0:
        out["missing"] = int(per_rule[0])
    return out


def _n_invalid_ids(combos: _Combos, id_col: str) -> int:
    """Rows whose non-empty ID number fails :func:`is_valid_id_number`."""
    id_vals = combos.norm[id_col]
    id_valid = np.zeros(len(id_vals), dtype=bool)
    nonnull = id_vals.notna().to_numpy()
    if nonnull.any():
        id_valid[nonnull] = _valid_id_array(id_vals[nonnull])
    bad = nonnull & ~id_valid
    return int(np.bincount(combos.codes[id_col], minlength=len(bad))[bad].sum())


def _mask_columns(df: pd.DataFrame, out: pd.DataFrame, mask_cols: list[str],
                  name_col: str) -> int:
    """Mask ``mask_cols`` of ``df`` into ``out`` with the names of ``name_col`` as known
    names; returns the cells changed."""
    known_names: list[str] = []
    if name_col in df.columns:
        known_names = [str(v) for v in pd.unique(df[name_col].dropna())]
    n_changed = 0
    for col in mask_cols:
        before = df[col]
        after = mask_free_text(before, known_names=known_names)
        present_text = before.notna().to_numpy()
        changed = before[present_text].astype("str").to_numpy(dtype=object) != after[
            present_text
        ].to_numpy(dtype=object)
        n_changed += int(changed.sum())
        out[col] = after
    return n_changed


# --------------------------------------------------------------------------------------------
# masking
# --------------------------------------------------------------------------------------------


def _names_regex(names: Iterable[Any] | None) -> re.Pattern[str] | None:
    """One regex matching any known name (a character trie, so thousands of names stay fast)."""
    if names is None:
        return None
    cleaned: set[str] = set()
    for raw in names:
        if raw is None or (isinstance(raw, float) and np.isnan(raw)):
            continue
        name = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(raw)).translate(_FULLWIDTH))
        if len(name) >= 2:
            cleaned.add(name)
    if not cleaned:
        return None
    trie: dict[str, Any] = {}
    for name in cleaned:
        node = trie
        for ch in name:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        end = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if end:
            return "(?:" + body + ")?"
        return body

    return re.compile(build(trie))


def _id_spans(t: str, *, strict: bool) -> list[tuple[int, int, str]]:
    spans = []
    for m in _ID18_RE.finditer(t):
        s = re.sub(r"[ -]", "", m.group()).upper()
        if strict:
            hit = _scalar_valid_id(s)
        else:  # region + birth date plausible, whatever the check character (a typo is still PII)
            hit = int(s[:2]) in _PROVINCES and _plausible_date(
                int(s[6:10]), int(s[10:12]), int(s[12:14])
            )
        if hit:
            spans.append((m.start(), m.end(), ID_LABEL))
    for m in _ID15_RE.finditer(t):
        if _upgrade_id15(m.group()) is not None:
            spans.append((m.start(), m.end(), ID_LABEL))
    for m in _LONG_RUN_RE.finditer(t):
        run = m.group().upper()
        if len(run) <= 18:
            continue  # a plain 18-character number: handled above
        for i in range(len(run) - 17):
            window = run[i : i + 18]
            if window[:17].isdigit() and _scalar_valid_id(window):
                spans.append((m.start(), m.end(), ID_LABEL))
                break
    return spans


def _marked_name_spans(t: str) -> list[tuple[int, int, str]]:
    spans = []
    for m in _MARKED_NAME_RE.finditer(t):
        start = m.start("a") if m.group("a") else m.start("b")
        spans.append((start, m.end(), NAME_LABEL))
    return spans


def _outside_pseudonyms(t: str, spans: list[tuple[int, int, str]]
                        ) -> list[tuple[int, int, str]]:
    """The number spans that are not inside a pseudonym-shaped token (:data:`_PSEUDONYM_RE`).

    Examples
    --------
    >>> t = "P3de16501331886cb 13800138000"
    >>> _outside_pseudonyms(t, [(4, 15, "m"), (18, 29, "m")])
    [(18, 29, 'm')]
    """
    if not spans:
        return spans
    tokens = [m.span() for m in _PSEUDONYM_RE.finditer(t)]
    if not tokens:
        return spans
    return [sp for sp in spans if not any(a <= sp[0] and sp[1] <= b for a, b in tokens)]


def _pii_spans(
    text: str,
    *,
    name_re: re.Pattern[str] | None,
    landlines: bool,
    strict: bool = False,
    marked: bool = False,
) -> list[tuple[int, int, str]]:
    t = text.translate(_FULLWIDTH)
    spans: list[tuple[int, int, str]] = []
    if _THREE_DIGITS.search(t):  # every number pattern has 3 digits in a row
        spans = _id_spans(t, strict=strict)
        spans += [(m.start(), m.end(), MOBILE_LABEL) for m in _MOBILE_RE.finditer(t)]
        if landlines:
            spans += [(m.start(), m.end(), PHONE_LABEL) for m in _LANDLINE_RE.finditer(t)]
        spans = _outside_pseudonyms(t, spans)
    if name_re is not None:
        spans += [
            (m.start(), m.end(), NAME_LABEL) for m in name_re.finditer(t) if m.end() > m.start()
        ]
    if marked:
        spans += _marked_name_spans(t)
    if not spans:
        return []
    # merge overlaps: earliest start first, longer first; a span inside a kept one is dropped
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    merged: list[tuple[int, int, str]] = []
    for start, end, label in spans:
        if merged and start < merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end, merged[-1][2])
            continue
        merged.append((start, end, label))
    return merged


def _mask_text(
    text: str,
    name_re: re.Pattern[str] | None,
    landlines: bool,
    marked: bool = True,
    token: Any = None,
) -> str:
    """Mask one text; ``token(label, raw_span)`` makes the replacement (default: the label)."""
    spans = _pii_spans(text, name_re=name_re, landlines=landlines, marked=marked)
    if not spans:
        return text
    pieces, pos = [], 0
    for start, end, label in spans:
        pieces.append(text[pos:start])
        pieces.append(label if token is None else token(label, text[start:end]))
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


# A superset of what _pii_spans can find, in RE2 syntax (pyarrow.compute): every number pattern
# holds 7 digits in a row or 3 + 4 digits around one separator (\p{Nd} is Python's \d); the
# characters _FULLWIDTH changes; a name marker. Values without any of these are left as they are
# without running the Python patterns.
_NUMBER_PREFILTER = r"\p{Nd}{7}|\p{Nd}{3}[ .\-\x{3000}－]?\p{Nd}{4}"
_TRANSLATED_PREFILTER = "[" + "".join(sorted(set(k for k in map(chr, _FULLWIDTH)))) + "]"
_MARKER_PREFILTER = _MARKER_RE.pattern


def _arrow_texts(uniques: Any) -> Any:
    """Distinct values as a pyarrow string array (non-strings through ``str``, as before)."""
    import pyarrow as pa

    if pd.api.types.is_string_dtype(getattr(uniques, "dtype", None)):
        try:
            return pa.array(uniques, type=pa.large_string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    return pa.array([str(u) for u in np.asarray(uniques, dtype=object)], type=pa.large_string())


def _prefilter(texts: Any, name_re: re.Pattern[str] | None, landlines: bool, marked: bool) -> Any:
    """Boolean mask (numpy) of the values that may hold PII; the others need no Python regex."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = [_NUMBER_PREFILTER, _TRANSLATED_PREFILTER]
    if marked:
        parts.append(_MARKER_PREFILTER)
    hit = pc.match_substring_regex(texts, "|".join(parts))
    if name_re is not None:
        try:  # the trie is plain literals and groups: the same language in RE2
            hit = pc.or_(hit, pc.match_substring_regex(texts, name_re.pattern))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # too large or unusual for RE2
            return np.ones(len(texts), dtype=bool)
    del landlines  # landlines are numbers: covered by the number prefilter
    return pc.fill_null(hit, True).to_numpy(zero_copy_only=False)


def _mask_uniques(
    texts: Any,
    name_re: re.Pattern[str] | None,
    landlines: bool,
    marked: bool,
    token: Any = None,
) -> Any:
    """Mask a pyarrow string array of distinct values; one vectorised prefilter, then Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    cand = np.flatnonzero(_prefilter(texts, name_re, landlines, marked))
    if not len(cand):
        return texts
    before = texts.take(pa.array(cand)).to_pylist()
    after = [_mask_text(t, name_re, landlines, marked, token) for t in before]
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    if not changed:
        return texts
    mask = np.zeros(len(texts), dtype=bool)
    mask[cand[changed]] = True
    return pc.replace_with_mask(
        texts, pa.array(mask), pa.array([after[i] for i in changed], type=texts.type)
    )


def mask_free_text(
    series: pd.Series,
    *,
    known_names: Iterable[Any] | None = None,
    landlines: bool = True,
    marked_names: bool = True,
) -> pd.Series:
    """Mask ID numbers, phone numbers and names in a column of free text.

    Parameters
    ----------
    series : pandas.Series
        Text (any dtype; non-strings are converted with ``str``, missing values stay missing).
    known_names : iterable of str, optional
        Names to mask wherever they occur (e.g. the petitioner names seen at ingest); names
        shorter than 2 characters are ignored (a single character would mask ordinary words).
    landlines : bool, default True
        Also mask landline numbers with an area code: ``0754-8888888``, ``0754 8888888``,
        ``(0754)8888888`` and, as a whole number not glued to letters or digits,
        ``07548888888``.
    marked_names : bool, default True
        Also mask names where the text marks them: after ``姓名``, ``信访人``, ``联系人``,
        ``投诉人``, ``举报人``, ``当事人``, ``申请人`` and similar markers, a common surname
        and one or two given characters (``信访人张三反映`` -> ``信访人[姓名]反映``).

    Returns
    -------
    pandas.Series
        Same index and name, string dtype. Replacements: ``[身份证号]`` for 18-digit ID
        numbers with a plausible region and birth date (whatever the check character, since a
        mistyped number still identifies someone; upper- or lower-case ``x``), 15-digit
        old-format numbers with a plausible birth date, and longer digit runs that contain a
        valid ID number; ``[手机号]`` for mainland mobiles (``1[3-9]`` + 9 digits, with or
        without ``+86`` / ``0086`` / ``86``, spaces, dots or hyphens in 3-4-4 groups);
        ``[电话]`` for landlines; ``[姓名]`` for known and marked names.

    Notes
    -----
    Full-width digits are recognised. Each distinct value is masked once, and one vectorised
    pass (pyarrow's RE2 over the distinct values) first sets aside the values that cannot hold
    any of these patterns (no 7-digit run, no 3+4 digit group, no name marker, no known name),
    so long columns of addresses, labels or dated notes cost little; the output is the same as
    masking every value. Masking is conservative: it may also hide an 11-digit number that
    looks like a mobile; it cannot find unmarked names it was not given.

    Examples
    --------
    >>> from casekit.privacy import mask_free_text
    >>> s = pd.Series(["张三（身份证11010519491231002X）来电13800138000反映噪音", None])
    >>> mask_free_text(s, known_names=["张三"]).tolist()
    ['[姓名]（身份证[身份证号]）来电[手机号]反映噪音', nan]
    >>> mask_free_text(pd.Series(["联系 +86 138-0013-8000 或 0754 88881234"])).iloc[0]
    '联系 [手机号] 或 [电话]'
    >>> mask_free_text(pd.Series(["信访人李四反映，案件XF20230501001于2023-05-01办结"])).iloc[0]
    '信访人[姓名]反映，案件XF20230501001于2023-05-01办结'
    """
    import pyarrow as pa

    name_re = _names_regex(known_names)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    masked = _mask_uniques(_arrow_texts(uniques), name_re, landlines, marked_names)
    taken = masked.take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(taken, dtype="str"), index=series.index, name=series.name)


def _mask_distinct(texts: Any, known_names: Iterable[Any] | None = None) -> Any:
    """:func:`mask_free_text` on a pyarrow string array of distinct values, without Python
    strings for the values the prefilter sets aside; ``texts`` itself comes back when no value
    changes.

    Examples
    --------
    >>> import pyarrow as pa
    >>> texts = pa.array(["南乡村22巷50号", "来电13800138000"])
    >>> _mask_distinct(texts).to_pylist()
    ['南乡村22巷50号', '来电[手机号]']
    >>> plain = texts[:1]
    >>> _mask_distinct(plain) is plain
    True
    """
    return _mask_uniques(texts, _names_regex(known_names), True, True)


def _mask_all_python(
    series: pd.Series,
    *,
    known_names: Iterable[Any] | None = None,
    landlines: bool = True,
    marked_names: bool = True,
) -> pd.Series:
    """Reference for :func:`mask_free_text`: the Python patterns on every distinct value."""
    name_re = _names_regex(known_names)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    masked = [_mask_text(str(u), name_re, landlines, marked_names) for u in uniques]
    values = np.array([*masked, None], dtype=object)[codes]
    return pd.Series(values, index=series.index, name=series.name, dtype="str")


_ID_COLUMNS = frozenset(["petitioner_id_number", "id_number", "身份证号", "身份证号码", "证件号码"])
_PHONE_COLUMNS = frozenset(
    ["petitioner_phone", "phone", "mobile", "联系电话", "电话", "手机", "手机号", "手机号码"]
)


def mask_value(
    value: Any,
    *,
    column: str | None = None,
    known_names: Iterable[Any] | None = None,
) -> str:
    """Mask one cell for display (quarantine reports, error messages).

    Parameters
    ----------
    value : Any
        The raw cell. Missing values give ``""``.
    column : str, optional
        The column it came from. A whole identity column (``petitioner_name``,
        ``petitioner_id_number``, ``petitioner_phone`` and their usual Chinese headers such as
        ``姓名``, ``身份证号``, ``联系电话``, ``留言用户``) is masked entirely: ``[姓名]``,
        ``[身份证号]`` or ``[电话]`` (the steward has the source row number to look it up).
    known_names : iterable of str, optional
        As in :func:`mask_free_text`.

    Returns
    -------
    str
        Masked as :func:`mask_free_text` masks (numbers, landlines, known and marked names).

    Examples
    --------
    >>> from casekit.privacy import mask_value
    >>> mask_value("身份证 11010519491231002x")
    '身份证 [身份证号]'
    >>> mask_value("王五", column="petitioner_name")
    '[姓名]'
    >>> mask_value(float("nan"))
    ''
    """
    if value is None or (not isinstance(value, str) and pd.isna(value) is True):
        return ""
    text = str(value)
    kind = identity_column_kind(column) if column is not None else None
    if kind is not None and text.strip():
        return {"id_number": ID_LABEL, "phone": PHONE_LABEL, "name": NAME_LABEL}[kind]
    return _mask_text(text, _names_regex(known_names), True)


def identity_column_kind(column: str) -> Literal["name", "id_number", "phone"] | None:
    """What a column holding whole identities holds, by its header; None for other columns.

    Examples
    --------
    >>> from casekit.privacy import identity_column_kind
    >>> identity_column_kind("身份证号"), identity_column_kind(" 信访人 "), identity_column_kind("办理单位")
    ('id_number', 'name', None)
    """
    col = str(column).strip()
    if col not in _IDENTITY_COLUMNS:
        return None
    if col in _ID_COLUMNS:
        return "id_number"
    if col in _PHONE_COLUMNS:
        return "phone"
    return "name"


def mask_row(
    values: Sequence[Any],
    *,
    columns: Sequence[Any] | None = None,
    known_names: Iterable[Any] | None = None,
) -> list[str]:
    """Mask a raw source row field by field (for quarantine files), whatever its shape.

    A ragged row (more or fewer fields than the header) or one split with the wrong separator
    is still masked: fields that line up with an identity column are masked whole, and every
    field, and the fields re-joined, are scanned for PII patterns, so an ID number split across
    two fields by a stray comma is found too.

    Parameters
    ----------
    values : sequence
        The fields as read (strings, numbers, missing values).
    columns : sequence, optional
        The header; fields beyond it have no column.
    known_names : iterable of str, optional

    Returns
    -------
    list of str
        One masked text per field (missing values as ``""``).

    Examples
    --------
    >>> from casekit.privacy import mask_row
    >>> mask_row(["C1", "张三", "138 1234 5678", "extra"], columns=["case_id", "姓名"])
    ['C1', '[姓名]', '[手机号]', 'extra']
    >>> mask_row(["C1;李四;11010519491231002X"], columns=["case_id", "姓名", "身份证号"],
    ...          known_names=["李四"])
    ['C1;[姓名];[身份证号]']
    """
    cols = list(columns or [])
    name_re = _names_regex(known_names)
    out = []
    for i, value in enumerate(values):
        column = str(cols[i]) if i < len(cols) else None
        out.append(mask_value(value, column=column, known_names=known_names))
    joined = "\x1f".join(out)  # a number split over two fields by a stray separator
    if _pii_spans(joined.replace("\x1f", ""), name_re=name_re, landlines=True, marked=True):
        glued = _mask_text("".join(out), name_re, True)
        if glued != "".join(out):
            return [glued] + [""] * (len(out) - 1) if out else out
    return out


# --------------------------------------------------------------------------------------------
# labels that must stay distinct, and messages
# --------------------------------------------------------------------------------------------

_LABEL_KEY: bytes | None = None


def _label_key(key: str | bytes | None) -> bytes:
    """The pseudonymisation key if one is configured, else one random key per run (no warning:
    label tokens only need to be distinct within the outputs of one run)."""
    global _LABEL_KEY
    if key is not None or os.environ.get(KEY_ENV_VAR) or default_key_file().is_file():
        return _resolve_key(key)[0]
    if _LABEL_KEY is None:
        _LABEL_KEY = secrets.token_bytes(32)
    return _LABEL_KEY


def mask_labels(
    labels: Iterable[Any],
    *,
    known_names: Iterable[Any] | None = None,
    key: str | bytes | None = None,
) -> list[str]:
    """Mask PII inside labels that identify things (agency names, unknown activity labels).

    Like :func:`mask_free_text`, but each masked piece becomes a keyed token such as
    ``[姓名:3f9a1c]`` instead of a constant, so two distinct labels never become one
    (``张三调解室`` and ``李四调解室`` stay two agencies, two network nodes). The token is an
    HMAC of the masked text under the pseudonymisation key (see :func:`pseudonymise`; without a
    configured key, a random key per run), so it is stable across runs with a key and reveals
    nothing without it.

    Parameters
    ----------
    labels : iterable
        Distinct or repeated labels; missing values give ``""``.
    known_names : iterable of str, optional
    key : str or bytes, optional

    Returns
    -------
    list of str
        One masked label per input; distinct inputs give distinct outputs.

    Raises
    ------
    CasekitError
        In the (astronomically unlikely) case that two distinct labels still collide.

    Examples
    --------
    >>> from casekit.privacy import mask_labels
    >>> a, b, c = mask_labels(["张三调解室", "李四调解室", "区信访局"], known_names=["张三", "李四"],
    ...                       key="k")
    >>> a != b, a.startswith("[姓名:"), a.endswith("]调解室"), c
    (True, True, True, '区信访局')
    """
    raw_key = _label_key(key)

    def token(label: str, raw: str) -> str:
        norm = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw)).upper()
        digest = hmac.digest(raw_key, norm.encode("utf-8"), "sha256").hex()[:6]
        return f"{label[:-1]}:{digest}]"

    texts = ["" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
             for v in labels]
    name_re = _names_regex(known_names)
    import pyarrow as pa

    arr = pa.array(texts, type=pa.large_string())
    out = _mask_uniques(arr, name_re, True, True, token).to_pylist()
    pairs = dict(zip(texts, out, strict=True))
    if len(set(pairs.values())) < len(pairs):
        raise CasekitError("mask_labels: two distinct labels gave the same masked label")
    return out


_MAX_MESSAGE_CHARS = 300


def _escape_controls(text: str) -> str:
    """Terminal control, format and separator characters as visible escapes (``\\x1b``)."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn") and ch != " ":
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                       else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def scrub_message(
    text: Any,
    *,
    known_names: Iterable[Any] | None = None,
    max_chars: int = _MAX_MESSAGE_CHARS,
) -> str:
    """Make a text safe to print: PII masked, control characters escaped, length cut.

    Use it on everything that is echoed into a message, a log line or JSON: file names,
    column headers, case ids, agency names and whole error messages. The CLI passes every
    error message through it.

    Parameters
    ----------
    text : Any
        The text (converted with ``str``).
    known_names : iterable of str, optional
        Names to mask as well (as in :func:`mask_free_text`).
    max_chars : int, default 300
        Longer results are cut and end with ``... (N characters)``.

    Returns
    -------
    str
        One line: ID numbers, mobiles, landlines, known and marked names masked; control
        characters (ESC, CR, LF, tab, NUL, bidi overrides, zero-width characters ...) written as
        ``\\x1b``, ``\\n``-style escapes (``\\x0a``); at most ``max_chars`` characters plus the
        length note.

    Examples
    --------
    >>> from casekit.privacy import scrub_message
    >>> scrub_message("张三_13812345678.csv: no such file")
    '张三_[手机号].csv: no such file'
    >>> scrub_message("agency '\\x1b[31m区信访局\\x1b[0m'")
    "agency '\\\\x1b[31m区信访局\\\\x1b[0m'"
    >>> scrub_message("x" * 400, max_chars=10)
    'xxxxxxxxxx... (400 characters)'
    """
    s = "" if text is None else str(text)
    total = len(s)
    if total > 4 * max_chars:  # mask a prefix, cut outside any number so none is left half raw
        s = re.sub(r"[\d+\-\s.()]+$", "", s[: 4 * max_chars])
    s = _escape_controls(_mask_text(s, _names_regex(known_names), True))
    if len(s) > max_chars or total > 4 * max_chars:
        s = f"{s[:max_chars]}... ({total} characters)"
    return s


# --------------------------------------------------------------------------------------------
# safe exports and small cells
# --------------------------------------------------------------------------------------------

_FORMULA_START = re.compile(r"^[=+\-@\t\r\n]")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def _neutralise(value: Any) -> Any:
    if isinstance(value, str) and _FORMULA_START.match(value) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Neutralise spreadsheet formulas in text cells before a CSV or Excel export.

    A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab, CR or LF gets a leading
    apostrophe, so Excel / LibreOffice / WPS show it as text instead of running it (CSV
    injection, OWASP). Numeric columns are left alone, and so are text cells that are plain
    numbers such as ``-12.5`` (they cannot run anything). Column labels are treated the same way.

    Parameters
    ----------
    df : pandas.DataFrame

    Returns
    -------
    pandas.DataFrame
        A new frame; string, object and categorical columns neutralised.

    Examples
    --------
    >>> from casekit.privacy import spreadsheet_safe
    >>> df = pd.DataFrame(
    ...     {"note": ["=HYPERLINK('http://x')", "-1", "@SUM(A1)", "ok"], "delta": [-1, 2, -3, 4]}
    ... )
    >>> spreadsheet_safe(df)["note"].tolist()
    ["'=HYPERLINK('http://x')", '-1', "'@SUM(A1)", 'ok']
    >>> spreadsheet_safe(df)["delta"].tolist()
    [-1, 2, -3, 4]
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = s.cat.categories
            if cats.dtype == object or pd.api.types.is_string_dtype(cats.dtype):
                new = [_neutralise(c) for c in cats]
                if list(new) != list(cats):
                    out[col] = s.cat.rename_categories(new)
        elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
            fixed = [_neutralise(u) for u in uniques]
            if any(a is not b for a, b in zip(fixed, uniques, strict=True)):
                values = np.array([*fixed, None], dtype=object)[codes]
                out[col] = pd.Series(values, index=s.index, dtype=s.dtype, name=s.name)
    if not isinstance(out.columns, pd.MultiIndex):
        out.columns = [_neutralise(c) for c in out.columns]
    return out


#: A published cell: ``(table name, row label, column)``.
Cell = tuple[str, Any, str]

#: Label of a cell hidden to protect a small one (its value is 0 or at least k).
COMPLEMENTARY_LABEL = "[c]"


@dataclass(frozen=True)
class Relation:
    """A linear fact a reader of the published tables knows: ``total == sum(parts)``.

    ``kind="ge"`` states ``total >= sum(parts)`` instead (e.g. repeat filings of a pattern are at
    most its cases). Cells are ``(table, row label, column)``; see :func:`suppress_tables`.
    """

    total: Cell
    parts: tuple[Cell, ...]
    kind: Literal["eq", "ge"] = "eq"


def row_relations(
    name: str, table: pd.DataFrame, *, total: str, parts: Sequence[str]
) -> list[Relation]:
    """One relation per row: ``table[total] == sum(table[parts])`` (e.g. cases = closed + open).

    Examples
    --------
    >>> from casekit.privacy import row_relations
    >>> t = pd.DataFrame({"n_cases": [5, 3], "n_closed": [4, 1], "n_open": [1, 2]})
    >>> row_relations("t", t, total="n_cases", parts=["n_closed", "n_open"])[1]
    Relation(total=('t', 1, 'n_cases'), parts=(('t', 1, 'n_closed'), ('t', 1, 'n_open')), kind='eq')
    """
    return [
        Relation((name, idx, total), tuple((name, idx, p) for p in parts)) for idx in table.index
    ]


def column_relations(
    name: str, table: pd.DataFrame, *, totals: Mapping[str, Cell]
) -> list[Relation]:
    """One relation per column: the column summed over the rows equals the cell ``totals[col]``.

    Examples
    --------
    >>> from casekit.privacy import column_relations
    >>> t = pd.DataFrame({"n": [5, 3]})
    >>> column_relations("t", t, totals={"n": ("text", "all", "n")})
    [Relation(total=('text', 'all', 'n'), parts=(('t', 0, 'n'), ('t', 1, 'n')), kind='eq')]
    """
    return [
        Relation(cell, tuple((name, idx, col) for idx in table.index))
        for col, cell in totals.items()
    ]


def _as_count(value: Any, cell: Cell) -> int:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(number) or float(number) != int(number) or number < 0:
        raise CasekitError(f"suppress_tables: cell {cell!r} is not a count (got {value!r})")
    return int(number)


def _cell_values(
    tables: Mapping[str, pd.DataFrame],
    count_cols: Mapping[str, Sequence[str]] | None,
    public: Mapping[Cell, Any] | None,
) -> tuple[dict[Cell, int], dict[str, list[str]]]:
    values: dict[Cell, int] = {}
    cols_of: dict[str, list[str]] = {}
    for name, table in tables.items():
        if count_cols is not None and name in count_cols:
            cols = list(count_cols[name])
        else:
            cols = [c for c in table.columns if pd.api.types.is_integer_dtype(table[c].dtype)]
        for col in cols:
            if col not in table.columns:
                raise CasekitError(
                    f"suppress_tables: column {col!r} not found in table {name!r}; columns are "
                    f"{list(table.columns)}"
                )
        if table.index.has_duplicates:
            raise CasekitError(f"suppress_tables: table {name!r} has duplicate row labels")
        cols_of[name] = cols
        for col in cols:
            for idx, v in table[col].items():
                if not pd.isna(v):
                    values[(name, idx, col)] = _as_count(v, (name, idx, col))
    for cell, v in (public or {}).items():
        values[cell] = _as_count(v, cell)
    return values, cols_of


def _check_relations(relations: Sequence[Relation], values: Mapping[Cell, int]) -> None:
    for rel in relations:
        for cell in (rel.total, *rel.parts):
            if cell not in values:
                raise CasekitError(f"suppress_tables: relation cell {cell!r} is not a count cell "
                                   "of the tables or a public cell")
        total, parts = values[rel.total], sum(values[c] for c in rel.parts)
        if (rel.kind == "eq" and total != parts) or (rel.kind == "ge" and total < parts):
            raise CasekitError(f"suppress_tables: relation on {rel.total!r} does not hold "
                               f"({total} vs {parts})")


class _Attack:
    """What a reader can infer: integer solutions of the relations given every printed cell."""

    def __init__(self, values: Mapping[Cell, int], relations: Sequence[Relation], k: int,
                 low: int) -> None:
        self.values, self.relations, self.k, self.low = values, relations, k, low
        self.cap = 2 * max(values.values(), default=0) + k + 10
        self.by_cell: dict[Cell, list[int]] = {}
        for r, rel in enumerate(relations):
            for cell in (rel.total, *rel.parts):
                self.by_cell.setdefault(cell, []).append(r)

    def component(self, cell: Cell, hidden: Mapping[Cell, str]) -> tuple[list[Cell], list[int]]:
        """Hidden cells linked to ``cell`` through relations, and those relations."""
        cells, rels, todo = {cell}, set(), [cell]
        while todo:
            for r in self.by_cell.get(todo.pop(), []):
                if r in rels:
                    continue
                rels.add(r)
                rel = self.relations[r]
                for other in (rel.total, *rel.parts):
                    if other in hidden and other not in cells:
                        cells.add(other)
                        todo.append(other)
        return sorted(cells, key=repr), sorted(rels)

    def range_of(self, cell: Cell, hidden: Mapping[Cell, str]) -> tuple[float, float]:
        """Smallest and largest value of a hidden cell over every reading consistent with print."""
        from scipy.optimize import Bounds, LinearConstraint, milp

        cells, rels = self.component(cell, hidden)
        pos = {c: i for i, c in enumerate(cells)}
        rows, lo, hi = [], [], []
        for r in rels:
            rel = self.relations[r]
            row = np.zeros(len(cells))
            known = 0.0
            for sign, c in [(1.0, rel.total), *((-1.0, p) for p in rel.parts)]:
                if c in pos:
                    row[pos[c]] += sign
                else:
                    known += sign * self.values[c]
            rows.append(row)
            lo.append(-known)
            hi.append(-known if rel.kind == "eq" else np.inf)
        # a complementary cell is 0 or at least k (a count of 1 .. k-1 would show as "<k"):
        # x = 0 when its indicator y is 0, k <= x <= cap when y is 1. The cap lies far above
        # every true value: it only gives the reader more knowledge than the print does, so a
        # cell found protected is protected.
        comp = [i for i, c in enumerate(cells) if hidden[c] != "primary"]
        n, m = len(cells), len(comp)
        lower = [self.low if hidden[c] == "primary" else 0 for c in cells] + [0] * m
        upper = [self.k - 1 if hidden[c] == "primary" else self.cap for c in cells] + [1] * m
        matrix = np.zeros((len(rows) + 2 * m, n + m))
        if rows:
            matrix[: len(rows), :n] = np.array(rows)
        for j, i in enumerate(comp):
            matrix[len(rows) + 2 * j, [i, n + j]] = [1.0, -self.k]  # x - k*y >= 0
            matrix[len(rows) + 2 * j + 1, [i, n + j]] = [1.0, -self.cap]  # x - cap*y <= 0
        lo = [*lo, *([0.0, -np.inf] * m)]
        hi = [*hi, *([np.inf, 0.0] * m)]
        cons = [LinearConstraint(matrix, lo, hi)] if len(lo) else []
        out = []
        for sense in (1.0, -1.0):
            objective = np.zeros(n + m)
            objective[pos[cell]] = sense
            res = milp(objective, constraints=cons, integrality=np.ones(n + m),
                       bounds=Bounds(lower, upper))
            if res.status != 0:  # pragma: no cover - the true values are always feasible
                raise CasekitError(f"suppress_tables: could not solve for {cell!r}: {res.message}")
            out.append(sense * res.fun)
        return out[0], out[1]

    def exposed(self, cell: Cell, hidden: Mapping[Cell, str]) -> bool:
        low, high = self.range_of(cell, hidden)
        return high - low < 0.5


def suppression_plan(
    tables: Mapping[str, pd.DataFrame],
    relations: Sequence[Relation] = (),
    *,
    k: int = 5,
    count_cols: Mapping[str, Sequence[str]] | None = None,
    public: Mapping[Cell, Any] | None = None,
    fixed: Iterable[Cell] = (),
    suppress_zero: bool = False,
) -> dict[Cell, str]:
    """Which cells to hide so that no small count can be worked out: ``{cell: kind}``.

    ``kind`` is ``"primary"`` (a count from 1, or 0 with ``suppress_zero``, to ``k - 1``) or
    ``"complementary"`` (a larger count hidden because a small one could otherwise be recovered).
    Parameters as in :func:`suppress_tables`; :func:`suppress_tables` applies the plan.

    Notes
    -----
    The reader is assumed to know every printed number, every relation, that counts are
    non-negative integers, that a cell shown ``<k`` lies in ``1 .. k-1`` and that a
    complementary cell is ``0`` or at least ``k``. A hidden cell is protected when at least two
    integer values are consistent with all of that (solved exactly with
    ``scipy.optimize.milp``). Every small cell is protected, and every complementary one that
    can be (one that cannot is 0 or at least ``k``: recovering it discloses no small count).
    Cells are added greedily: for an exposed cell, the smallest printed count (zeros included)
    that shares a relation with it and protects it (or, failing that, the smallest non-zero one,
    and again). Protection only grows as cells are hidden, so the loop ends; counts of ``k`` or
    more are hidden only when a small one needs them.

    Examples
    --------
    >>> from casekit.privacy import row_relations, suppression_plan
    >>> t = pd.DataFrame({"n_cases": [40, 12], "n_closed": [37, 9], "n_open": [3, 3]})
    >>> plan = suppression_plan({"t": t}, row_relations("t", t, total="n_cases",
    ...                                                   parts=["n_closed", "n_open"]))
    >>> sorted(plan.items())  # doctest: +NORMALIZE_WHITESPACE
    [(('t', 0, 'n_closed'), 'complementary'), (('t', 0, 'n_open'), 'primary'),
     (('t', 1, 'n_closed'), 'complementary'), (('t', 1, 'n_open'), 'primary')]
    """
    if k < 1:
        raise CasekitError(f"suppress_tables: k must be at least 1, got {k}")
    values, _ = _cell_values(tables, count_cols, public)
    relations = list(relations)
    _check_relations(relations, values)
    low = 0 if suppress_zero else 1
    keep = set(fixed) | set(public or {})
    hidden = {c: "primary" for c, v in values.items() if c not in keep and low <= v < k}
    attack = _Attack(values, relations, k, low)
    safe: set[Cell] = set()
    while True:
        todo = [c for c in sorted(hidden, key=repr) if c not in safe]
        exposed = None
        for cell in todo:
            if attack.exposed(cell, hidden):
                exposed = cell
                break
            safe.add(cell)  # hiding more cells never exposes a protected one
        if exposed is None:
            return hidden
        try:
            hidden[_complement(exposed, hidden, values, keep, attack)] = "complementary"
        except CasekitError:
            if hidden[exposed] == "primary":
                raise
            safe.add(exposed)  # a hidden 0 or large count that cannot be protected: not small


def _complement(cell: Cell, hidden: Mapping[Cell, str], values: Mapping[Cell, int],
                keep: set[Cell], attack: _Attack) -> Cell:
    """The printed count to hide next to protect ``cell``."""
    near = [cell]
    for _ in range(3):  # partners of the cell, then of its hidden neighbours
        cands = sorted(
            {
                other
                for c in near
                for r in attack.by_cell.get(c, [])
                for other in (attack.relations[r].total, *attack.relations[r].parts)
                if other not in hidden and other not in keep
            },
            key=lambda c: (values[c], repr(c)),
        )
        for cand in cands:
            if not attack.exposed(cell, {**hidden, cand: "complementary"}):
                return cand
        if cands:  # none protects it alone: the smallest that is not 0, then again
            return next((c for c in cands if values[c] > 0), cands[0])
        near = attack.component(cell, hidden)[0]
    raise CasekitError(
        f"suppress_tables: cell {cell!r} cannot be protected: every count related to it is "
        "public; leave one of them unprinted"
    )


def suppress_tables(
    tables: Mapping[str, pd.DataFrame],
    relations: Sequence[Relation] = (),
    *,
    k: int = 5,
    count_cols: Mapping[str, Sequence[str]] | None = None,
    public: Mapping[Cell, Any] | None = None,
    fixed: Iterable[Cell] = (),
    suppress_zero: bool = False,
    mode: Literal["label", "nan"] = "label",
    dependent_cols: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, pd.DataFrame]:
    """Complementary small-cell suppression over every table of one publication.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Every count table the publication prints, by name (row labels must be unique).
    relations : sequence of Relation
        What ties the printed numbers together: row totals (:func:`row_relations`), column
        totals (:func:`column_relations`), the same count printed in two tables
        (``Relation(a, (b,))``), inequalities (``kind="ge"``).
    k : int, default 5
        Counts ``1 .. k-1`` (``0`` too with ``suppress_zero``) are hidden.
    count_cols : mapping of str to sequence of str, optional
        Count columns per table; default every integer column.
    public : mapping of Cell to int, optional
        Numbers printed outside the tables (a total in the text): known to the reader, never
        hidden. Their table name must not be one of ``tables``.
    fixed : iterable of Cell
        Table cells that are printed elsewhere as well (a figure legend's ``n=``): never hidden.
    suppress_zero : bool, default False
    mode : {"label", "nan"}, default "label"
        ``"label"``: small cells become ``"<k"``, complementary ones ``"[c]"`` (text columns).
        ``"nan"``: hidden cells become NaN and a boolean ``<col>_suppressed`` marks them.
    dependent_cols : mapping of str to sequence of str, optional
        Per table, columns derived from the counts (shares, medians): set to missing in every
        row where a count was hidden.

    Returns
    -------
    dict of str to DataFrame
        New tables, same names. The plan itself: :func:`suppression_plan`.

    Raises
    ------
    CasekitError
        If a column or relation cell is missing, a relation does not hold on the values, a cell
        is not a count, or a small cell cannot be protected.

    Examples
    --------
    Cases by pattern, with the total printed in the text: the 3 open cases of ``b`` would be
    ``12 - 9`` and the 4 cases of ``c`` would be ``56 - 40 - 12``.

    >>> from casekit.privacy import Relation, column_relations, row_relations, suppress_tables
    >>> t = pd.DataFrame({"pattern": ["a", "b", "c"], "n_cases": [40, 12, 4],
    ...                   "n_closed": [30, 9, 4], "n_open": [10, 3, 0]})
    >>> rel = row_relations("t", t, total="n_cases", parts=["n_closed", "n_open"])
    >>> rel += column_relations("t", t, totals={"n_cases": ("text", "all", "n_cases")})
    >>> out = suppress_tables({"t": t}, rel, public={("text", "all", "n_cases"): 56})["t"]
    >>> out.to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'pattern': ['a', 'b', 'c'], 'n_cases': ['40', '[c]', '<5'],
     'n_closed': ['30', '[c]', '<5'], 'n_open': ['10', '<5', '0']}
    """
    if mode not in ("label", "nan"):
        raise CasekitError(f"suppress_tables: mode must be 'label' or 'nan', got {mode!r}")
    for cell in public or {}:
        if cell[0] in tables:
            raise CasekitError(f"suppress_tables: public cell {cell!r} names a table; use fixed")
    plan = suppression_plan(tables, relations, k=k, count_cols=count_cols, public=public,
                            fixed=fixed, suppress_zero=suppress_zero)
    _, cols_of = _cell_values(tables, count_cols, None)
    return {
        name: _apply_plan(name, table, plan, cols_of[name], k, mode,
                          list((dependent_cols or {}).get(name, [])))
        for name, table in tables.items()
    }


def _apply_plan(name: str, table: pd.DataFrame, plan: Mapping[Cell, str], cols: list[str],
                k: int, mode: str, dependent: list[str]) -> pd.DataFrame:
    for col in dependent:
        if col not in table.columns:
            raise CasekitError(f"suppress_tables: column {col!r} not found in table {name!r}; "
                               f"columns are {list(table.columns)}")
    out = table.copy()
    any_hit = np.zeros(len(table), dtype=bool)
    for col in cols:
        kinds = [plan.get((name, idx, col)) for idx in table.index]
        hit = np.array([kd is not None for kd in kinds], dtype=bool)
        any_hit |= hit
        if mode == "label":
            text = table[col].astype("str").to_numpy(dtype=object)
            for i, kd in enumerate(kinds):
                if kd is not None:
                    text[i] = f"<{k}" if kd == "primary" else COMPLEMENTARY_LABEL
            out[col] = pd.Series(text, index=table.index, dtype="str")
        else:
            num = pd.to_numeric(table[col], errors="coerce").astype(float)
            num[hit] = np.nan
            out[col] = num
            out[f"{col}_suppressed"] = hit
    for col in dependent:
        dep = out[col]
        if pd.api.types.is_numeric_dtype(dep.dtype):
            dep = dep.astype(float)
            dep[any_hit] = np.nan
        else:
            dep = dep.astype("str")
            dep[any_hit] = None
        out[col] = dep
    return out


def suppress_small_cells(
    table: pd.DataFrame,
    *,
    k: int = 5,
    count_cols: Sequence[str] | None = None,
    mode: Literal["label", "nan"] = "label",
    dependent_cols: Sequence[str] | None = None,
    suppress_zero: bool = False,
    complementary: bool = False,
    relations: Sequence[Relation] | None = None,
    name: str = "table",
) -> pd.DataFrame:
    """Small-cell suppression for one published table: counts under ``k`` cases are hidden.

    Parameters
    ----------
    table : pandas.DataFrame
        A table of counts (e.g. cases by pattern, by street and category).
    k : int, default 5
        Threshold: counts ``1 .. k-1`` are suppressed (``0`` too if ``suppress_zero``).
    count_cols : sequence of str, optional
        The count columns; default every integer column.
    mode : {"label", "nan"}, default "label"
        ``"label"``: suppressed cells become the text ``"<k"`` (complementary ones ``"[c]"``;
        the column becomes string dtype; good for printing). ``"nan"``: they become NaN (the
        column becomes float) and a boolean column ``<col>_suppressed`` flags them.
    dependent_cols : sequence of str, optional
        Columns derived from the counts (shares, medians, hazard ratios) that would reveal
        them: set to missing in every row where a count was suppressed.
    suppress_zero : bool, default False
        Zeros are shown by default (an empty cell describes nobody).
    complementary : bool, default False
        Also hide larger counts where a small one could be worked out. With ``relations``
        (cells named ``(name, row label, column)``) those are what the reader knows; without,
        each row's count columns are taken to add up to a published row total.
    relations : sequence of Relation, optional
    name : str, default "table"
        The table's name in ``relations``.

    Returns
    -------
    pandas.DataFrame
        A new table.

    Raises
    ------
    CasekitError
        If a named column is missing or ``k`` < 1.

    Notes
    -----
    A threshold of 5 is the usual rule for official statistics on people (e.g. NHS and ONS
    disclosure control guidance). Several tables of one report share cells and totals: publish
    them together through :func:`suppress_tables`.

    Examples
    --------
    >>> from casekit.privacy import suppress_small_cells
    >>> t = pd.DataFrame({"pattern": ["a", "b", "c"], "n_cases": [120, 3, 0]})
    >>> suppress_small_cells(t)["n_cases"].tolist()
    ['120', '<5', '0']
    >>> out = suppress_small_cells(t, mode="nan")
    >>> out["n_cases"].tolist()[:2], out["n_cases_suppressed"].tolist()
    ([120.0, nan], [False, True, False])
    >>> s = pd.DataFrame({"housing": [3, 40], "labour": [50, 60], "land": [20, 70]})
    >>> suppress_small_cells(s, complementary=True).loc[0].tolist()
    ['<5', '50', '[c]']
    """
    if k < 1:
        raise CasekitError(f"suppress_small_cells: k must be at least 1, got {k}")
    if mode not in ("label", "nan"):
        raise CasekitError(f"suppress_small_cells: mode must be 'label' or 'nan', got {mode!r}")
    if count_cols is None:
        count_cols = [c for c in table.columns if pd.api.types.is_integer_dtype(table[c].dtype)]
    count_cols = list(count_cols)
    for col in [*count_cols, *(dependent_cols or [])]:
        if col not in table.columns:
            raise CasekitError(
                f"suppress_small_cells: column {col!r} not found; columns are {list(table.columns)}"
            )
    rels: list[Relation] = []
    public: dict[Cell, int] = {}
    if complementary and relations is not None:
        rels = list(relations)
    elif complementary and len(count_cols) > 1:
        frame = table[count_cols].apply(pd.to_numeric, errors="coerce").fillna(0)
        for idx, total in frame.sum(axis=1).items():
            cell = (f"{name} row totals", idx, "total")
            public[cell] = int(total)
            rels.append(Relation(cell, tuple((name, idx, c) for c in count_cols)))
    work = table if not table.index.has_duplicates else table.reset_index(drop=True)
    out = suppress_tables(
        {name: work}, rels, k=k, count_cols={name: count_cols}, public=public,
        suppress_zero=suppress_zero, mode=mode,
        dependent_cols={name: list(dependent_cols or [])},
    )[name]
    out.index = table.index
    return out


# --------------------------------------------------------------------------------------------
# scanning (for tests and audits)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PIIFinding:
    """One piece of PII found by :func:`find_pii` (the excerpt is masked, never the raw value)."""

    where: str
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} ({self.excerpt})"


def _mask_digits(text: str) -> str:
    """Keep the first 3 and last 2 characters of a number, star the rest (for findings)."""
    if len(text) <= 6:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 5) + text[-2:]


def _scan_text(
    text: str, where: str, name_re: re.Pattern[str] | None, landlines: bool
) -> list[PIIFinding]:
    found = []
    for start, end, label in _pii_spans(text, name_re=name_re, landlines=landlines, strict=True):
        kind = {
            ID_LABEL: "id_number",
            MOBILE_LABEL: "mobile",
            PHONE_LABEL: "landline",
            NAME_LABEL: "name",
        }[label]
        found.append(PIIFinding(where, kind, _mask_digits(text[start:end])))
    return found


def _read_file_text(path: Path) -> str:
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=str)
        return "\n".join(frame.fillna("").to_csv(index=False) for frame in sheets.values())
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path).astype("str").to_csv(index=False)
    data = path.read_bytes()
    if path.suffix.lower() == ".gz":
        data = gzip.decompress(data)
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def find_pii(
    obj: Any,
    *,
    known_names: Iterable[Any] | None = None,
    landlines: bool = False,
) -> list[PIIFinding]:
    """Scan a table, text or file for raw PII; an empty list means none was found.

    Looks for valid 18-digit ID numbers (:func:`is_valid_id_number`), plausible 15-digit old
    ones, mainland mobile numbers, optionally landlines and known names; in a DataFrame also
    for non-empty raw identity columns (``petitioner_name``, ``petitioner_id_number``,
    ``petitioner_phone``). Meant for tests and audits of outputs.

    Parameters
    ----------
    obj : DataFrame, Series, str, pathlib.Path, bytes, or an iterable of these
        A ``Path`` is read as a file (CSV / text / JSON / HTML, ``.gz``, ``.xlsx``,
        ``.parquet``); a ``str`` is scanned as text (wrap a file name in ``Path``).
    known_names : iterable of str, optional
        Names that must not appear.
    landlines : bool, default False

    Returns
    -------
    list of PIIFinding
        ``where`` (column and row, or line), ``kind`` (``id_number``, ``mobile``, ``landline``,
        ``name``, ``pii_column``) and a masked excerpt.

    Examples
    --------
    >>> from casekit.privacy import find_pii
    >>> [str(f) for f in find_pii("电话13800138000")]
    ['text, line 1: mobile (138******00)']
    >>> find_pii(pd.DataFrame({"note": ["[手机号]"], "n": [13800138000]}))
    [PIIFinding(where="column 'n', row 0", kind='mobile', excerpt='138******00')]
    """
    name_re = _names_regex(known_names)
    found: list[PIIFinding] = []
    if isinstance(obj, pd.DataFrame):
        for col in obj.columns:
            label = str(col)
            found += _scan_text(label, f"column label {label!r}", name_re, landlines)
            if label in {"petitioner_name", "petitioner_id_number", "petitioner_phone"} and (
                obj[col].notna().any()
            ):
                found.append(PIIFinding(f"column {label!r}", "pii_column", "raw identity column"))
            found += _scan_series(obj[col], f"column {label!r}", name_re, landlines)
        return found
    if isinstance(obj, pd.Series):
        return _scan_series(obj, f"series {obj.name!r}", name_re, landlines)
    if isinstance(obj, os.PathLike):
        path = Path(obj)
        text = _read_file_text(path)
        for i, line in enumerate(text.splitlines(), start=1):
            found += _scan_text(line, f"{path.name}, line {i}", name_re, landlines)
        return found
    if isinstance(obj, bytes):
        obj = obj.decode("utf-8", errors="replace")
    if isinstance(obj, str):
        for i, line in enumerate(obj.splitlines() or [""], start=1):
            found += _scan_text(line, f"text, line {i}", name_re, landlines)
        return found
    if isinstance(obj, Iterable):
        for item in obj:
            found += find_pii(item, known_names=known_names, landlines=landlines)
        return found
    return _scan_text(str(obj), "value", name_re, landlines)


def _scan_series(
    s: pd.Series, where: str, name_re: re.Pattern[str] | None, landlines: bool
) -> list[PIIFinding]:
    if pd.api.types.is_bool_dtype(s.dtype):
        return []
    if pd.api.types.is_float_dtype(s.dtype):  # phones read from Excel: 13800138000.0
        whole = s[s.notna() & (s % 1 == 0) & (s.abs() >= 1e6)]
        if whole.empty:
            return []
        s = whole.map(lambda v: f"{v:.0f}")
    if pd.api.types.is_datetime64_any_dtype(s.dtype) or isinstance(s.dtype, pd.PeriodDtype):
        return []
    found: list[PIIFinding] = []
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    for j, u in enumerate(uniques):
        hits = _scan_text(str(u), "", name_re, landlines)
        if hits:
            row = s.index[int(np.flatnonzero(codes == j)[0])]
            found += [PIIFinding(f"{where}, row {row}", h.kind, h.excerpt) for h in hits]
    return found


def assert_no_pii(obj: Any, *, known_names: Iterable[Any] | None = None) -> None:
    """Raise ``AssertionError`` listing (masked) findings if ``obj`` holds raw PII.

    Parameters
    ----------
    obj : see :func:`find_pii`
    known_names : iterable of str, optional

    Raises
    ------
    AssertionError

    Examples
    --------
    >>> from casekit.privacy import assert_no_pii
    >>> assert_no_pii(pd.DataFrame({"case_id": ["C1"], "note": ["已办结"]}))
    >>> assert_no_pii("身份证号11010519491231002X")
    Traceback (most recent call last):
    ...
    AssertionError: raw PII found: text, line 1: id_number (110*************2X)
    """
    found = find_pii(obj, known_names=known_names)
    if found:
        shown = "; ".join(str(f) for f in found[:10])
        more = f" (+{len(found) - 10} more)" if len(found) > 10 else ""
        raise AssertionError(f"raw PII found: {shown}{more}")
