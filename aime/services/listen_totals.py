"""How many listens a journal query matches, without counting the whole table after every new play.

count(*) over listens was most of a journal page's first read after a write (SQLite 2 ms at 200,000 plays,
10 ms at 1,000,000; PostgreSQL 19-50 ms of server CPU at 200,000). Both ways below stay exact:
* PostgreSQL, no filter: migration 0019 keeps the number of listens in `data_version.listen_count`, changed
  at each commit by the rows that commit inserted and deleted (NULL after a TRUNCATE: then count).
* SQLite, any filter: each worker remembers (epoch, counter, newest listen id, total) per filter. The
  counter of migration 0015 changes with every UPDATE or DELETE of listens and every catalogue change, and
  SQLite hands out listen ids in commit order; so while epoch and counter are unchanged, the listens added
  since are exactly those with a higher id, and the total is the remembered one plus their count. The
  version, the newest id and that count are read by one statement, i.e. from one snapshot.
"""
from __future__ import annotations

from collections.abc import Hashable

from flask import current_app
from sqlalchemy import Select, column, func, select, table, text

from ..extensions import db
from ..models import Listen
from .answer_memo import BoundedLru

MAX_KEYS = 64
_VERSION = table("data_version", column("id"), column("version"), column("epoch"), column("listen_count"))


def memo() -> BoundedLru:
    """This app's (this worker's) memo of SQLite journal totals."""
    found = current_app.extensions.get("aime.listen_totals")
    if found is None:
        found = current_app.extensions.setdefault("aime.listen_totals", BoundedLru(MAX_KEYS))
    return found


def total(count_query: Select, key: Hashable, filtered: bool) -> int:
    """count_query's count (a `select count(*) ... from listens ...`), kept cheap as the module says."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "sqlite":
        return _sqlite_total(count_query, key)
    if dialect == "postgresql" and not filtered:
        stored = db.session.scalar(select(_VERSION.c.listen_count).where(_VERSION.c.id == 1))
        if stored is not None:
            return int(stored)
    return int(db.session.scalar(count_query))


def _sqlite_total(count_query: Select, key: Hashable) -> int:
    def read(since: int | None):
        newer = count_query.where(Listen.id > since) if since is not None else count_query
        return db.session.execute(
            select(_VERSION.c.epoch, _VERSION.c.version,
                   select(func.max(Listen.id)).scalar_subquery(), newer.scalar_subquery())
            .where(_VERSION.c.id == 1)).first()

    return _remembered(key, read, lambda: db.session.scalar(count_query))


def _remembered(key: Hashable, read, count) -> int:
    """The SQLite total of `key` from the memo and read(since) = (epoch, counter, newest id, count of the listens
    above `since`, or of all with None), one snapshot; count() when there is no counter row."""
    store = memo()
    known = store.get(key)
    row = read(known[2] if known else None)
    if row is None:  # no counter row: nothing to rely on
        return int(count())
    epoch, version, top, counted = row
    top = top or 0
    if known is not None and known[:2] == (epoch, version) and top >= known[2]:
        result = known[3] + counted
    elif known is None:
        result = counted
    else:  # the counter moved (an update, a delete, a catalogue change): count again, in one snapshot
        epoch, version, top, result = read(None)
        top = top or 0
    store.put(key, (epoch, version, top, result))
    return int(result)


# The key history.journal remembers the unfiltered total under: (lo, hi, source, loved, artist, album).
UNFILTERED = (None, None, None, None, None, None)
_STORED_COUNT = text("SELECT listen_count FROM data_version WHERE id = 1")
_COUNT_ALL = text("SELECT count(*) FROM listens")
_VERSION_AND_COUNT = text("SELECT epoch, version, (SELECT max(id) FROM listens), (SELECT count(*) FROM listens) "
                          "FROM data_version WHERE id = 1")
_VERSION_AND_NEWER = text("SELECT epoch, version, (SELECT max(id) FROM listens), "
                          "(SELECT count(*) FROM listens WHERE listens.id > :since) FROM data_version WHERE id = 1")


def unfiltered_total() -> int:
    """total() of the whole journal in parsed-once SQL (no statement built per call): the same values and memo."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        return _remembered(UNFILTERED, lambda since: (
            connection.execute(_VERSION_AND_COUNT) if since is None
            else connection.execute(_VERSION_AND_NEWER, {"since": since})).first(),
            lambda: connection.execute(_COUNT_ALL).scalar())
    stored = connection.execute(_STORED_COUNT).scalar() if connection.dialect.name == "postgresql" else None
    return int(stored if stored is not None else connection.execute(_COUNT_ALL).scalar())
