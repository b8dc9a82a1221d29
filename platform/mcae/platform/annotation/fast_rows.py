"""Rows straight to the database, as columns: no SQLAlchemy statement compiled per row, no
``dict`` per row, no type processor looked up per value.

PostgreSQL takes them with one ``COPY`` (the text format, built a column at a time);
SQLite with one driver ``executemany`` of tuples. Values are Python ``int``, ``float``,
``str``, ``bool``, ``None``, timezone-aware ``datetime`` (UTC) and, for JSON columns, ``dict``:
each column's values are made what the column's SQLAlchemy type would have bound (``bound``),
so the rows stored are those a Core ``insert`` writes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

NULL = "\\N"
ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})  # COPY's text format


def write(session: Session, table: Table, names: Sequence[str], columns: Sequence[Sequence[Any]]) -> int:
    """Add rows to ``table``, given as ``columns`` (one sequence of values per name); returns
    how many."""
    count = len(columns[0]) if columns else 0
    if not count:
        return 0
    connection = session.connection()
    raw: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        text = "\n".join(map("\t".join, zip(*(_copy_text(table, n, c) for n, c in zip(names, columns, strict=True)),
                                           strict=True))) + "\n"
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            copy.write(text)
        return count
    bound = [bound_values(table, n, c, connection.dialect) for n, c in zip(names, columns, strict=True)]
    marks = ", ".join("?" for _ in names)
    raw.executemany(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", list(zip(*bound, strict=True)))
    return count


def bound_values(table: Table, name: str, values: Sequence[Any], dialect: Any) -> Sequence[Any]:
    """``values`` as the column's type binds them on ``dialect`` (a datetime as SQLite's text, a
    dict as its JSON), each distinct value processed once; plain numbers and text as they are."""
    process = table.c[name].type._cached_bind_processor(dialect)  # what Core's insert applies
    if process is None:
        return values
    if isinstance(table.c[name].type, JSON):
        return [process(v) for v in values]  # (None too: JSON's "null", as Core writes it)
    seen: dict[Any, Any] = {}
    out = []
    for v in values:
        if v not in seen:
            seen[v] = process(v)
        out.append(seen[v])
    return out


def _copy_text(table: Table, name: str, values: Sequence[Any]) -> list[str]:
    """One column's values in ``COPY``'s text format."""
    if isinstance(table.c[name].type, JSON):
        return [NULL if v is None else json.dumps(v).translate(ESCAPES) for v in values]
    out: list[str] = []
    for v in values:
        if v is None:
            out.append(NULL)
        elif isinstance(v, str):
            out.append(v.translate(ESCAPES))
        elif isinstance(v, bool):
            out.append("t" if v else "f")
        elif isinstance(v, dt.datetime):
            out.append(v.isoformat())
        else:
            out.append(str(v))
    return out
