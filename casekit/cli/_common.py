"""Helpers shared by the ``casekit`` sub-commands (private)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from casekit._utils import CasekitError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["add_columns_option", "parse_columns", "safe_table"]


def parse_columns(text: str | None) -> dict[str, str] | None:
    """Parse ``case_id=信访件编号,timestamp=登记时间`` into ``{canonical: file column}``.

    Examples
    --------
    >>> parse_columns("case_id=信访件编号, timestamp=登记时间")
    {'case_id': '信访件编号', 'timestamp': '登记时间'}
    >>> parse_columns(None) is None
    True
    """
    if text is None or not text.strip():
        return None
    mapping: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise CasekitError(
                f"--columns: expected CANONICAL=FILE_COLUMN pairs separated by commas, got {part!r}"
            )
        key, value = (s.strip() for s in part.split("=", 1))
        if not key or not value:
            raise CasekitError(f"--columns: empty name in {part!r}")
        mapping[key] = value
    return mapping


def add_columns_option(parser: argparse.ArgumentParser) -> None:
    """Add the shared ``--columns MAP`` option."""
    parser.add_argument(
        "--columns",
        metavar="MAP",
        help="map canonical names to the file's columns, e.g. "
        "case_id=信访件编号,timestamp=登记时间,activity=环节,agency=办理单位",
    )


def safe_table(df: pd.DataFrame, label_columns: Sequence[str]) -> pd.DataFrame:
    """Mask PII in the label columns and neutralise spreadsheet formulas, for a CSV output."""
    from casekit.privacy import mask_free_text, spreadsheet_safe

    out = df.copy()
    for col in label_columns:
        if col in out:
            out[col] = mask_free_text(out[col].astype("str"))
    return spreadsheet_safe(out)
