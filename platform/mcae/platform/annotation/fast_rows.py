"""Rows straight to the database, as columns: no SQLAlchemy statement compiled per row, no
``dict`` per row, no type processor looked up per value.

PostgreSQL takes them with one ``COPY`` (the text format, built a column at a time);
SQLite with one driver ``executemany`` of tuples. Values are Python ``int``, ``float``,
``str``, ``bool``, ``None``, timezone-aware ``datetime`` (UTC) and, for JSON columns, ``dict``:
each column's values are made what the column's SQLAlchemy type would have bound (``bound``),
so the rows stored are those a Core ``insert`` writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, String, Table, Text
from sqlalchemy.orm import Session

NULL = "\\N"
ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})  # COPY's text format
ESCAPED = tuple(chr(c) for c in ESCAPES)


class JSONText(str):
    """A JSON column's value given as its JSON text already (``json.dumps``' own), written as is."""


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
    dict as its JSON, a ``JSONText`` as it is), each distinct value processed once; plain numbers
    and text as they are."""
    process = table.c[name].type._cached_bind_processor(dialect)  # what Core's insert applies
    if process is None:
        return values
    if isinstance(table.c[name].type, JSON):  # (None too: JSON's "null", as Core writes it)
        null = process(None)
        return [null if v is None else str(v) if isinstance(v, JSONText) else process(v) for v in values]
    seen: dict[Any, Any] = {}
    out = []
    for v in values:
        if v not in seen:
            seen[v] = process(v)
        out.append(seen[v])
    return out


def _copy_text(table: Table, name: str, values: Sequence[Any]) -> Sequence[str]:
    """One column's values in ``COPY``'s text format (a whole column at a time: numbers by
    ``str``, text escaped only if some value needs it)."""
    kind = table.c[name].type
    if isinstance(kind, JSON):
        return [NULL if v is None else (v if isinstance(v, JSONText) else json.dumps(v)).translate(ESCAPES)
                for v in values]
    if isinstance(kind, Boolean):
        return [NULL if v is None else ("t" if v else "f") for v in values]
    if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
        seen: dict[Any, str] = {}
        return [NULL if v is None else seen.get(v) or seen.setdefault(v, v.isoformat()) for v in values]
    has_null = None in values
    if isinstance(kind, String | Text):
        texts = [NULL if v is None else v for v in values] if has_null else values
        joined = "\x00".join(v for v in values if v is not None)
        if any(c in joined for c in ESCAPED):
            return [t if v is None else v.translate(ESCAPES) for t, v in zip(texts, values, strict=True)]
        return texts
    if has_null:
        return [NULL if v is None else str(v) for v in values]
    return list(map(str, values))


def read_tuples(session: Session, query: Any) -> list[tuple[Any, ...]]:
    """A read of many rows as the driver's plain tuples (no SQLAlchemy ``Row`` a row, no result
    processing: numbers, text and booleans as the driver gives them), its parameters bound by
    the driver (an ``IN`` list expanded: one parameter a value)."""
    connection = session.connection()
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    args: Any = tuple(params[name] for name in compiled.positiontup) if compiled.positional else params
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(compiled.string, args)
        return list(cursor.fetchall())
    finally:
        cursor.close()
