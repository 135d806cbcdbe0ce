"""Private helpers shared across casekit modules: errors, seeds, small checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy and pandas are imported where used: `casekit --version` stays instant
    import numpy as np
    import pandas as pd

__all__ = ["ENCODING_KEY", "CasekitError", "FileUnusableError", "as_dates", "as_generator",
           "datetime_ns", "encoding_flags", "json_safe"]

#: ``events.attrs`` key of how validated events are encoded (set by
#: :func:`casekit.validate.validate_table`; read with :func:`casekit.validate.event_encoding`).
ENCODING_KEY = "casekit_encoding"


class CasekitError(ValueError):
    """A problem the user can fix; the CLI prints ``str(err)`` as one line, never a traceback."""


class FileUnusableError(CasekitError):
    """The whole input file cannot be used (unreadable, empty, wrong format, required column missing).

    The CLI maps it to exit code 2.
    """


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Turn ``seed`` into a ``numpy.random.Generator`` (R7: randomness is a parameter).

    Examples
    --------
    >>> int(as_generator(3).integers(10)) == int(as_generator(3).integers(10))
    True
    >>> g = np.random.default_rng(1)
    >>> as_generator(g) is g
    True
    """
    import numpy as np

    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def as_dates(values: pd.Series, name: str) -> pd.Series:
    """A column as datetimes (strings parsed), or a one-line error naming the column.

    Examples
    --------
    >>> str(as_dates(pd.Series(["2024-01-02"]), "t").iloc[0])
    '2024-01-02 00:00:00'
    """
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    try:
        return pd.to_datetime(values)
    except (ValueError, TypeError) as exc:
        raise CasekitError(f"column {name!r}: expected dates ({exc})") from None


def datetime_ns(values: pd.Series, name: str) -> np.ndarray:
    """A datetime column as int64 nanoseconds since the epoch (NaT -> int64 min).

    Strings are parsed; zone-aware values are converted to UTC and made naive.

    Raises
    ------
    CasekitError
        Naming the column when the values are not dates.

    Examples
    --------
    >>> datetime_ns(pd.Series(pd.to_datetime(["1970-01-01 00:00:01", None])), "t").tolist()
    [1000000000, -9223372036854775808]
    """
    import numpy as np

    s = as_dates(values, name)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert(None)
    return np.asarray(s.to_numpy(dtype="datetime64[ns]")).view(np.int64)


def json_safe(obj: Any, *, digits: int | None = None) -> Any:
    """Turn ``obj`` into plain JSON types, the one converter for metadata and result files.

    Mappings become dicts with string keys, sequences and sets lists, numpy scalars Python
    numbers, timestamps ISO-like strings (NaT, NaN and infinities ``None``), anything else its
    ``str``. ``digits``: floats rounded to that many significant digits (deterministic files).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> json_safe({"n": np.int64(3), "ok": np.bool_(True), "x": float("nan"),
    ...            "at": pd.Timestamp("2024-01-31 08:00"), 1: (0.123456789,)}, digits=3)
    {'n': 3, 'ok': True, 'x': None, 'at': '2024-01-31 08:00:00', '1': [0.123]}
    """
    import math

    if isinstance(obj, Mapping):
        return {str(k): json_safe(v, digits=digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [json_safe(v, digits=digits) for v in obj]
    if hasattr(obj, "item") and hasattr(obj, "dtype") and getattr(obj, "ndim", 1) == 0 \
            and obj.dtype.kind in "biuf":  # numpy scalars
        obj = obj.item()
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return None
        return float(f"{obj:.{digits}g}") if digits is not None else obj
    import pandas as pd

    if isinstance(obj, pd.Timestamp) or type(obj).__name__ in ("datetime64", "NaTType"):
        ts = pd.Timestamp(obj)
        return None if ts is pd.NaT else str(ts)
    return str(obj)


def encoding_flags(events: Any) -> dict[str, Any]:
    """Return the encoding flags validate left on ``events`` while the row count matches, else {}.

    The cheap, order-blind read for modules below :mod:`casekit.validate` (which imports them):
    fit for flags that sorting cannot break (``vocabulary``, ``case_ids_normalised``,
    ``timestamps_parsed`` with a ``datetime64[ns]`` column). Whether rows are still in
    ``(case_id, timestamp)`` order needs :func:`casekit.validate.event_encoding`, which checks it.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"activity": ["register"]})
    >>> ev.attrs[ENCODING_KEY] = {"vocabulary": "identifiers", "n_events": 1}
    >>> encoding_flags(ev)["vocabulary"]
    'identifiers'
    >>> encoding_flags(pd.concat([ev, ev]))
    {}
    """
    flags = getattr(events, "attrs", {}).get(ENCODING_KEY)
    if not isinstance(flags, Mapping) or flags.get("n_events") != len(events):
        return {}
    return dict(flags)


def take_chunked(arr: Any, idx: Any) -> Any:
    """``arr.take(idx)`` for a pyarrow ChunkedArray without first joining its chunks.

    Arrow's take on a chunked column concatenates the whole column first (pyarrow 26): a copy
    of every row to take a few, e.g. the first row of each case from a Parquet read held in
    dozens of row-group chunks. Here each chunk gives its own rows and only they are joined.
    Anything that is not a ChunkedArray of several chunks is taken as Arrow does it.

    Examples
    --------
    >>> import pyarrow as pa
    >>> arr = pa.chunked_array([["a", "b"], ["c", None], ["d"]])
    >>> take_chunked(arr, np.array([4, 0, 2])).to_pylist()
    ['d', 'a', 'c']
    >>> take_chunked(arr, np.array([1, 3])).to_pylist()
    ['b', None]
    """
    import numpy as np
    import pyarrow as pa

    idx = np.asarray(idx, dtype=np.int64)
    if not isinstance(arr, pa.ChunkedArray) or arr.num_chunks < 2 or not len(idx):
        return arr.take(pa.array(idx))
    bounds = np.cumsum([0] + [len(c) for c in arr.chunks])
    chunk = np.searchsorted(bounds, idx, side="right") - 1
    ordered = bool(np.all(chunk[1:] >= chunk[:-1]))  # e.g. ascending rows: no reordering
    order = None if ordered else np.argsort(chunk, kind="stable")
    rows, chunk = (idx, chunk) if ordered else (idx[order], chunk[order])
    cuts = np.searchsorted(chunk, np.arange(arr.num_chunks + 1))
    parts = [arr.chunk(k).take(pa.array(rows[cuts[k]:cuts[k + 1]] - bounds[k]))
             for k in range(arr.num_chunks) if cuts[k + 1] > cuts[k]]
    joined = pa.concat_arrays(parts)
    if not ordered:
        back = np.empty_like(order)
        back[order] = np.arange(len(order))
        joined = joined.take(pa.array(back))
    return pa.chunked_array([joined], type=arr.type)
