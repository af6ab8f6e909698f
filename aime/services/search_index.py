"""Substring search indexes: FTS5 trigram tables on SQLite (kept by triggers), pg_trgm GIN indexes on PostgreSQL.

SQLite: one FTS5 table per searched table holds a copy of its normalised key, rowid = the row's id. Triggers on
the source tables keep it exact for every writer (API, importers, merges, deletes, cascades, raw SQL), so no
service has to remember it. The index is exact for queries of 3 characters or more (a trigram phrase matches
exactly the substrings); shorter queries, and a SQLite without FTS5 trigram, use the LIKE scan of before.
PostgreSQL: GIN `gin_trgm_ops` indexes on the same key columns serve LIKE '%...%'; nothing to sync. The lookup is
written as `id = ANY(ARRAY(SELECT id ... LIKE ...))` so it is planned on its own (a bitmap scan of the GIN index):
inside `ORDER BY key LIMIT n` the planner prefers walking the key's btree and filtering, which reads most of the
table when the matches sort late (`song star`: 35,700 rows, 77 ms, against 3.6 ms).
Both backends first probe the ordered key index (probe_condition): a common substring finds its page there.
A later migration that rebuilds one of these tables (Alembic batch mode on SQLite) drops its triggers: search
then falls back to the scan (and says so) until that migration calls install_sqlite() again.
"""
from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from ..extensions import db
from ..models.rollup import KEYED_ON_SQLITE_ONLY
from . import data_version

log = logging.getLogger(__name__)

# (source table, key column, FTS table)
INDEXED = (("artists", "name_key", "fts_artists"), ("albums", "title_key", "fts_albums"),
           ("tracks", "title_key", "fts_tracks"))
MIN_QUERY_CHARS = 3  # a trigram index cannot answer shorter substrings
# A common substring ("mor": 7,600 of 50,000 tracks) costs the index every match, then a sort; the ordered scan
# finds its first page in a few hundred rows. So the first PROBE_ROWS rows in result order are scanned first.
PROBE_ROWS = 2_000
_TOKENIZER = "trigram case_sensitive 1"  # keys are already casefolded and accent-free: match them byte for byte


def _triggers(source: str, column: str, fts: str) -> list[str]:
    # Delete-then-insert on update also follows a changed id. Rows replaced by a conflict (REPLACE) fire no delete
    # trigger without recursive_triggers: AIME never writes these tables with REPLACE.
    return [
        f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {source} BEGIN "
        f"INSERT INTO {fts}(rowid, key) VALUES (new.id, new.{column}); END",
        f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {source} BEGIN "
        f"DELETE FROM {fts} WHERE rowid = old.id; END",
        f"CREATE TRIGGER {fts}_au AFTER UPDATE OF id, {column} ON {source} BEGIN "
        f"DELETE FROM {fts} WHERE rowid = old.id; INSERT INTO {fts}(rowid, key) VALUES (new.id, new.{column}); END",
    ]


def sqlite_trigram_available(connection: Connection) -> bool:
    """True when this SQLite has FTS5 with the trigram tokenizer (SQLite >= 3.34 built with FTS5)."""
    try:
        connection.exec_driver_sql(f"CREATE VIRTUAL TABLE temp.aime_fts_probe USING fts5(key, tokenize='{_TOKENIZER}')")
    except OperationalError:
        return False
    connection.exec_driver_sql("DROP TABLE temp.aime_fts_probe")
    return True


def install_sqlite(connection: Connection) -> bool:
    """(Re)build the FTS tables and their triggers from the current rows; False (and a log line) when unsupported."""
    if not sqlite_trigram_available(connection):
        log.warning("search index: this SQLite (%s) has no FTS5 trigram tokenizer; search scans with LIKE",
                    connection.exec_driver_sql("SELECT sqlite_version()").scalar())
        return False
    uninstall_sqlite(connection)
    for source, column, fts in INDEXED:
        connection.exec_driver_sql(f"CREATE VIRTUAL TABLE {fts} USING fts5(key, tokenize='{_TOKENIZER}')")
        connection.exec_driver_sql(f"INSERT INTO {fts}(rowid, key) SELECT id, {column} FROM {source}")
        for statement in _triggers(source, column, fts):
            connection.exec_driver_sql(statement)
    return True


def uninstall_sqlite(connection: Connection) -> None:
    """Drop the FTS tables and triggers (a no-op where they do not exist)."""
    for _source, _column, fts in INDEXED:
        for suffix in ("ai", "ad", "au"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {fts}")


def _sqlite_index_present(connection: Connection) -> bool:
    names = {f"{fts}{suffix}" for _s, _c, fts in INDEXED for suffix in ("", "_ai", "_ad", "_au")}
    found = {row[0] for row in connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') AND name LIKE 'fts\\_%' ESCAPE '\\'")}
    return names <= found


def fts_enabled() -> bool:
    """Whether this app's database answers substring search from FTS5 (checked once per app, logged once)."""
    state = current_app.extensions.setdefault("aime.search_index", {})
    if "sqlite_fts" not in state:
        engine = db.engine
        present = engine.dialect.name == "sqlite" and _sqlite_index_present(db.session.connection())
        if engine.dialect.name == "sqlite" and not present:
            log.warning("search index: FTS5 trigram tables missing (SQLite %s); search scans with LIKE",
                        db.session.connection().exec_driver_sql("SELECT sqlite_version()").scalar())
        state["sqlite_fts"] = present
    return state["sqlite_fts"]


def phrase(key: str) -> str:
    """`key` as one FTS5 string: every character literal (quotes doubled)."""
    return '"' + key.replace('"', '""') + '"'


def condition(table: str, column: str, fts: str, key: str, alias: str | None = None) -> str:
    """SQL condition on `alias` (default: the table) for rows whose key contains `key`; binds :pattern or :phrase.

    :pattern is the LIKE pattern of the scan (short queries, no FTS5, PostgreSQL where pg_trgm serves it),
    :phrase the FTS5 phrase of `key`; bind both (see params()).
    """
    alias = alias or table
    if not use_index(key):
        return f"{alias}.{column} LIKE :pattern ESCAPE '\\'"
    if db.engine.dialect.name == "postgresql":
        return f"{alias}.id = ANY(ARRAY(SELECT id FROM {table} WHERE {column} LIKE :pattern ESCAPE '\\'))"
    return f"{alias}.id IN (SELECT rowid FROM {fts} WHERE {fts} MATCH :phrase)"


def probe_condition(table: str, column: str, alias: str | None = None) -> str:
    """SQL condition keeping only the first PROBE_ROWS rows in (key, id) order that match :pattern (binds :window).

    Bounded by the key at position PROBE_ROWS, the ordered index scan stops early; keys up to and including it are
    a prefix of the (key, id) order, so a page found whole among them is the answer (every later row sorts after
    it). A smaller table has no such key: the bound is NULL and nothing is found.
    """
    alias = alias or table
    return (f"{alias}.{column} <= (SELECT {column} FROM {table} ORDER BY {column} LIMIT 1 OFFSET :window) "
            f"AND {alias}.{column} LIKE :pattern ESCAPE '\\'")


def params(key: str, pattern: str, limit: int) -> dict:
    """Bind values of condition() and probe_condition() for normalised `key` and its LIKE `pattern`."""
    return {"pattern": pattern, "phrase": phrase(key), "window": PROBE_ROWS, "limit": limit}


def use_index(key: str) -> bool:
    """Whether a normalised query can be answered from the trigram index (FTS5 on SQLite, pg_trgm on PostgreSQL)."""
    if len(key) < MIN_QUERY_CHARS or "\x00" in key:
        return False
    return db.engine.dialect.name == "postgresql" or fts_enabled()


def autogenerate_filter(dialect: str):
    """Alembic include_object: FTS and data-version tables, pg_trgm indexes off PostgreSQL, the rollups' foreign
    keys on PostgreSQL (models.rollup.KEYED_ON_SQLITE_ONLY): not model drift."""
    trigram_indexes = {f"ix_{source}_{column}_trgm" for source, column, _fts in INDEXED}

    def include(obj, name, type_, reflected, compare_to) -> bool:
        if type_ == "table" and name and (name.startswith("fts_") or name in data_version.TABLES) and reflected:
            return False
        if type_ == "foreign_key_constraint" and dialect != "sqlite" and obj.table.name in KEYED_ON_SQLITE_ONLY:
            return False
        return not (type_ == "index" and name in trigram_indexes and dialect != "postgresql")
    return include
