"""Loading millions of masks in one transaction: the masks table's secondary indexes (and, on
PostgreSQL, its unique and foreign-key constraints) built once after the load, not row by row;
so is ``decision_masks``' index by mask (a first import's links).

``masks_loading`` is used by an import around its stream of masks. When the masks table is
empty (the first project of a database: a city), it drops the table's indexes and, on
PostgreSQL, its unique and foreign-key constraints (and those of the empty ``decision_masks``,
which a first import's decisions fill), lets the import load the rows, then
creates each again from its own definition as the database reports it (``sqlite_master``'s
SQL; ``pg_get_indexdef`` / ``pg_get_constraintdef``), so the schema afterwards is exactly the
migrations' (``tests/test_annotation_import_bulk.py`` compares them). All of it is inside the
import's one transaction: interrupted, nothing of it lands, indexes included. A foreign key
added back checks every row in one pass, as its row-by-row checks would have.

In two steps: ``Loading.lookups()``, called when the masks are in, builds what the rest of
the import reads the masks by (the unique constraint, the group index: ``EARLY_INDEXES``); the
other indexes and the foreign keys are built when the block ends, after the import's last
write of masks (a first import's decisions load rewrites the decided masks: with five indexes
and three foreign keys on PostgreSQL that ``UPDATE`` was most of a city's decisions load).

The table is empty when nobody can be reading masks of another project, so the
``ACCESS EXCLUSIVE`` lock PostgreSQL takes for the drop blocks nobody's pages; a table holding
other projects' masks keeps its indexes and is loaded row by row (``COPY``).

SQLite: the import's connection gets a larger page cache (``IMPORT_CACHE_MIB``, a fixed cap;
the index builds' sorts spill to temporary files past it, so memory stays flat); durability
is untouched (WAL, ``synchronous = FULL`` as ``db.py`` sets them: the commit lands whole or
not at all). PostgreSQL: a larger
``maintenance_work_mem`` for the index builds, then ``ANALYZE masks`` so the rest of the
import's statements are planned for the rows it just loaded.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

IMPORT_CACHE_MIB = 32  # SQLite's page cache while importing (MiB): fixed, so it fills up to this and no further
INDEX_BUILD_MEMORY = "256MB"  # PostgreSQL's maintenance_work_mem for the index builds (server-side)


# built right after the load, before the rest of the import reads the masks: lookups by engine
# key (the unique constraint: ``MaskPks``) and by group (``send_small_groups``, group totals);
# the other indexes and the foreign keys wait until the import's last write to the masks (the
# first import's decisions load, whose one ``UPDATE`` of the decided masks then maintains two
# indexes, not five, and checks no foreign key row by row)
EARLY_INDEXES = frozenset({"ix_masks_group"})


class Loading:
    """A bulk load of masks in progress: ``bulk`` whether the table was empty (its indexes and
    constraints dropped, to be built again); ``lookups()`` builds those the rest of the import
    reads by, the rest are built when the ``masks_loading`` block ends."""

    def __init__(self, connection: Connection, bulk: bool, early: list[str], late: list[str]) -> None:
        self.connection, self.bulk, self._early, self._late = connection, bulk, early, late

    def lookups(self) -> None:
        """Build the unique constraint and the group index now (once), then ``ANALYZE``."""
        if not self._early and not self.bulk:
            return
        if self.connection.dialect.name == "postgresql":
            self.connection.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
        for sql in self._early:
            self.connection.exec_driver_sql(sql)
        self._early = []
        _analyze(self.connection)
        self.bulk = False  # built: what follows reads the masks as any import does

    def rest(self) -> None:
        if self.connection.dialect.name == "postgresql":
            self.connection.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
        for sql in self._late:
            self.connection.exec_driver_sql(sql)
        self._late = []


@contextlib.contextmanager
def masks_loading(session: Session) -> Iterator[Loading]:
    """Around a bulk load of masks (and what the import does next); yields a ``Loading``: its
    ``bulk`` says whether the indexes are built after the load (an empty table), its
    ``lookups()`` must be called when the masks are in, before they are read."""
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.exec_driver_sql(f"PRAGMA cache_size = -{int(IMPORT_CACHE_MIB) * 1024}")
    empty = connection.execute(text("SELECT 1 FROM masks LIMIT 1")).first() is None
    if not empty or dialect not in ("sqlite", "postgresql"):
        yield Loading(connection, False, [], [])
        _analyze(connection)
        return
    recreate = _drop_sqlite(connection) if dialect == "sqlite" else _drop_postgresql(connection)
    early = [sql for sql in recreate if _early(sql)]
    loading = Loading(connection, True, early, [sql for sql in recreate if not _early(sql)])
    yield loading
    session.flush()
    loading.lookups()  # (when the caller has not)
    loading.rest()


def _early(sql: str) -> bool:
    """Whether a statement of ``_drop_*`` builds a unique constraint or one of ``EARLY_INDEXES``."""
    if "FOREIGN KEY" in sql:
        return False
    return " UNIQUE " in sql or any(f"INDEX {name} " in sql or f'INDEX "{name}" ' in sql for name in EARLY_INDEXES)


def _analyze(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("ANALYZE masks")


def _drop_sqlite(connection: Connection) -> list[str]:
    """Drop the named indexes (those of the migrations: the unique constraint's automatic index
    cannot be, nor need be) of the masks table and of ``decision_masks`` (empty with it: a first
    import's decisions fill it); returns the statements that make them again."""
    rows = connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                   "AND tbl_name IN ('masks', 'decision_masks') AND sql IS NOT NULL "
                                   "ORDER BY name")).all()
    for name, _ in rows:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


def _drop_postgresql(connection: Connection) -> list[str]:
    """Drop the masks table's foreign keys, unique constraints and other indexes (not its
    primary key); returns the statements that make them again, constraints' indexes first."""
    constraints = connection.execute(text(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'masks'::regclass AND contype IN ('f', 'u') ORDER BY contype DESC, conname")).all()
    indexes = connection.execute(text(  # (decision_masks' too: empty with masks, a first import's links fill it)
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid IN ('masks'::regclass, 'decision_masks'::regclass) AND NOT x.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid) "
        "ORDER BY i.relname")).all()
    for name, _, _ in constraints:
        connection.exec_driver_sql(f'ALTER TABLE masks DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    # decision_masks is empty too (its rows name masks): a first import's decisions load fills
    # it without a foreign-key check a row (two triggers a link), checked in one pass at the end
    links = connection.execute(text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'decision_masks'::regclass AND contype = 'f' ORDER BY conname")).all()
    for name, _ in links:
        connection.exec_driver_sql(f'ALTER TABLE decision_masks DROP CONSTRAINT "{name}"')
    # both empty already: truncated in this transaction, masks takes ``COPY ... FREEZE``
    # (see ``mask_stream.insert_rows``)
    connection.exec_driver_sql("TRUNCATE masks, decision_masks")
    # unique constraints ('u') before foreign keys ('f'): a check reads through them
    again = [f'ALTER TABLE masks ADD CONSTRAINT "{name}" {definition}'
             for name, _, definition in sorted(constraints, key=lambda c: c[1] != "u")]
    again += [f'ALTER TABLE decision_masks ADD CONSTRAINT "{name}" {definition}' for name, definition in links]
    return again + [definition for _, definition in indexes]


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Many rows of one table (the same keys each): ``COPY`` on PostgreSQL (a statement of
    thousands of parameters costs more to build and parse than to run: 26,000 groups took
    3 s), one driver ``executemany`` of tuples on SQLite (Core's, of dicts, spent 16 µs a
    row in Python), one Core ``executemany`` elsewhere."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name not in ("postgresql", "sqlite"):
        connection.execute(insert(table), rows)
        return
    given = list(rows[0])
    # the columns' own scalar defaults, as Core's executemany would apply them
    defaults = {c.name: c.default.arg for c in table.columns  # type: ignore[attr-defined]
                if c.name not in given and c.default is not None and c.default.is_scalar}
    columns = [*given, *defaults]
    fixed = [json.dumps(v) if isinstance(v, dict | list) else v for v in defaults.values()]
    names = ", ".join(f'"{c}"' for c in columns)
    raw: Any = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        marks = ", ".join("?" * len(columns))
        raw.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})',
                        (tuple(_sqlite_value(row[c]) for c in given) + tuple(fixed) for row in rows))
        return
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([*(json.dumps(v) if isinstance(v, dict | list) else v for v in (row[c] for c in given)),
                            *fixed])


def _sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy's SQLite types bind it: JSON as its text, the rest as it is."""
    return json.dumps(value) if isinstance(value, dict | list) else value
