"""CSV exports that a spreadsheet will not run: cells that start like a formula are neutralised.

Class, layer and district names come from ingested files; a name such as ``=HYPERLINK(...)``
or ``@SUM(...)`` would be a formula when the CSV is opened in a spreadsheet. Every text cell
(headers included) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return,
and is not a plain number, gets a leading ``'`` (OWASP's advice); numbers are left as they are.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def safe_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text that starts like a formula."""
    if isinstance(value, str) and value.startswith(TRIGGERS) and not _number(value):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index labels are neutralised."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(safe_cell)
    out.columns = [safe_cell(c) for c in out.columns]
    out.index = [safe_cell(i) for i in out.index]
    return out


def safe_csv_text(text: str) -> str:
    """A CSV document with every cell neutralised (for files written before this existed)."""
    rows = csv.reader(io.StringIO(text))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def safe_csv_file(path: Path) -> str:
    return safe_csv_text(path.read_text(encoding="utf-8"))
