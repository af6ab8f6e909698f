"""The streaming import: parser records -> batches -> one transaction per batch (ids, dedup, insert, counts)."""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from collections.abc import Callable, Iterable, Iterator

from sqlalchemy import select, text, update
from sqlalchemy.exc import SQLAlchemyError

from ...database import dbapi_cursor
from ...gcpause import Pause, without_gc
from ...models import Listen, Track
from .. import rollups
from . import enrich
from .records import FatalFormatError, KnownRows, Malformed, Play, Skipped
from ..sql_lists import one_of
from .resolve import CatalogCache, chunks

log = logging.getLogger(__name__)

BATCH_SIZE = 20_000  # the most rows in one transaction
# Each batch holds SQLite's write lock for its whole transaction: the size follows the measured time so
# that a batch takes about TARGET_SECONDS, and a love or an album edit made meanwhile waits no longer.
TARGET_SECONDS = 0.25
FIRST_BATCH = 2_000
MIN_BATCH = 1_000
_SQLITE_INSERT = ("INSERT OR IGNORE INTO listens (track_id, played_at, source, client, import_id, created_at, "
                  "listened_seconds) VALUES (?, ?, ?, ?, ?, ?, ?)")
# Stored plays in a batch's time span: at most this many per play of the batch (then by track instead).
RANGE_ROWS_PER_PLAY = 4
RANGE_ROWS_SLACK = 1_000
_SPAN_SQL = {
    True: "SELECT track_id, played_at FROM listens WHERE played_at BETWEEN ? AND ? LIMIT ?",
    False: "SELECT track_id, played_at FROM listens WHERE played_at BETWEEN %s AND %s LIMIT %s",
}
# PostgreSQL: each batch is COPYed into a temporary staging table (emptied at every commit or rollback), then one
# INSERT ... SELECT moves it; RETURNING tells which rows went in (a concurrent writer may have stored the same
# (track, time) meanwhile), and the same statement adds those to the rollups (rollups.pg_move_counted).
_LISTEN_COLUMNS = "track_id, played_at, source, client, import_id, created_at, listened_seconds"
_PG_STAGE = ("CREATE TEMPORARY TABLE IF NOT EXISTS import_listens (track_id integer, played_at bigint, "
             "source varchar(50), client varchar(200), import_id integer, created_at bigint, "
             "listened_seconds integer) ON COMMIT DELETE ROWS")
_PG_COPY = f"COPY import_listens ({_LISTEN_COLUMNS}) FROM STDIN"
_PG_MOVE = (f"INSERT INTO listens ({_LISTEN_COLUMNS}) SELECT {_LISTEN_COLUMNS} FROM import_listens "
            "ON CONFLICT DO NOTHING RETURNING track_id, played_at, listened_seconds")


# SQLite settings of the connections of a `flask import` process (they end with it; a server's pooled
# connections keep the defaults, so the page cache stays small for every request). The listens' unique
# (track_id, played_at) index takes rows all over it, and the default 2 MB page cache read its pages again in
# every batch; a WAL checkpoint every 1,000 pages wrote the same hot pages (index inner pages, rollup rows)
# back at nearly every commit.
IMPORT_PRAGMAS = {"cache_size": -65536, "wal_autocheckpoint": 10000}
_TUNED = "aime.import_pragmas"  # connection.info key: set once per connection


class NeedsWrite(Exception):
    """A batch read under `read_only` has something to write: it must run in a write transaction."""


@dataclass
class BatchResult:
    """What one batch of plays did."""

    inserted: list[tuple[int, int, int | None]] = field(default_factory=list)
    duplicates: int = 0
    enriched: int = 0  # duplicates that brought something the stored play lacked (album, length, ids)
    conflicts: list[dict] = field(default_factory=list)  # values that disagree with what was stored


def write_plays(session, cache: CatalogCache, plays: list[Play], *, window: int, source: str,
                import_id: int | None = None, probe: bool = False) -> BatchResult:
    """Store plays that are not already there (same song within `window` s); set-based, one batch.

    With `probe`, raise NeedsWrite before inserting anything (the caller reads under `read_only`: a batch of
    plays that are all there, with nothing to learn, is then counted without taking the write lock).
    """
    result = BatchResult()
    if not plays:
        return result
    resolved = cache.resolve(session, plays)
    stored: dict[tuple[tuple[int, str], int], int] = {}  # (song, time) of a stored play -> its track
    existing = _existing_times(session, cache, resolved, plays, window, stored)
    rows, loved, matched = [], set(), []
    now = int(time.time())
    moments = [p.played_at for p in plays]
    order = sorted(range(len(plays)), key=moments.__getitem__)
    for i in order:
        track_id, song = resolved[i]
        moment = moments[i]
        times = existing.get(song)
        if times is None:
            times = existing[song] = []
        at = bisect_left(times, moment - window)
        if at < len(times) and times[at] <= moment + window:
            result.duplicates += 1
            if (song, times[at]) in stored:  # a play stored before this batch: it may learn from this one
                matched.append((i, stored[(song, times[at])], times[at]))
        else:
            insort(times, moment)
            rows.append((track_id, moment, source, plays[i].client, import_id, now, plays[i].listened_seconds))
        if plays[i].loved:
            loved.add(track_id)
    loved = _not_yet_loved(session, loved) if loved else []
    if probe and (rows or loved):
        raise NeedsWrite
    if rows:
        result.inserted = _insert_listens(session, rows)
        result.duplicates += len(rows) - len(result.inserted)
    for part in chunks(loved):
        session.execute(update(Track).where(one_of(Track.id, part), Track.loved.is_(False)).values(loved=True))
    if session.get_bind().dialect.name != "postgresql":  # PostgreSQL counted them in the statement that moved them
        rollups.listens_added(session, result.inserted, artist_of=cache.artist_of)
    enrich.apply(session, cache, plays, resolved, matched, result)  # after the rollups: it recounts what it moves
    return result


def _not_yet_loved(session, tracks: set[int]) -> list[int]:
    """The tracks of `tracks` not loved yet (a re-import of loved plays then writes nothing)."""
    found = []
    for part in chunks(sorted(tracks)):
        found += session.scalars(select(Track.id).where(one_of(Track.id, part), Track.loved.is_(False))).all()
    return sorted(found)


@contextmanager
def read_only(session):
    """The session's next transaction refuses every write (SQLite: PRAGMA query_only; PostgreSQL: READ ONLY).

    On SQLite it is a plain deferred read: it neither takes nor waits for the write lock. The caller rolls back.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        yield
        return
    connection.exec_driver_sql("PRAGMA query_only = ON")
    try:
        yield
    finally:
        try:
            connection.exec_driver_sql("PRAGMA query_only = OFF")
        except Exception:
            connection.invalidate()  # never hand a read-only connection back to the pool
            raise


def tune_for_import(session) -> None:
    """Give the session's SQLite connection the import's page cache and checkpoint interval (once per connection)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite" or _TUNED in connection.info:
        return
    with dbapi_cursor(session) as cursor:
        for name, value in IMPORT_PRAGMAS.items():
            cursor.execute(f"PRAGMA {name} = {int(value)}")
    connection.info[_TUNED] = True


def _insert_listens(session, rows: list[tuple]) -> list[tuple[int, int, int | None]]:
    """Insert listen rows; returns the (track_id, played_at, listened_seconds) of those really inserted (on
    PostgreSQL already added to the rollups)."""
    if session.get_bind().dialect.name == "sqlite":
        # The batch holds SQLite's write lock (BEGIN IMMEDIATE) since its dedup query, and the dedup
        # excluded every stored (track, time) pair, so each row goes in: the plain DB-API executemany is
        # several times faster than a RETURNING statement built per row.
        with dbapi_cursor(session) as cursor:
            cursor.executemany(_SQLITE_INSERT, rows)
            if cursor.rowcount == len(rows):
                return [(r[0], r[1], r[6]) for r in rows]
        raise RuntimeError("listen rows were ignored inside a locked batch")  # rolled back by run_write
    with dbapi_cursor(session) as cursor:
        cursor.execute(_PG_STAGE)
        with cursor.copy(_PG_COPY) as copy:
            for row in rows:
                copy.write_row(row)
        return rollups.pg_move_counted(cursor, _PG_MOVE)


def _existing_times(session, cache: CatalogCache, resolved, plays: list[Play], window: int,
                    stored: dict) -> dict:
    """Times of the stored plays of the batch's songs around the batch's time span, per song (and, in
    `stored`, the track each (song, time) is on)."""
    songs = {song for _track, song in resolved}
    wanted = {t for song in songs for t in cache.siblings.get(song, ())}
    lo = min(p.played_at for p in plays) - window
    hi = max(p.played_at for p in plays) + window
    found = _listens_in_span(session, lo, hi, RANGE_ROWS_PER_PLAY * len(plays) + RANGE_ROWS_SLACK)
    if found is None:  # a wide span (an unsorted file): ask by track instead
        found = []
        for part in chunks(sorted(wanted)):
            query = select(Listen.track_id, Listen.played_at).where(
                one_of(Listen.track_id, part), Listen.played_at.between(lo, hi))
            found += session.execute(query).all()
    times: dict[tuple[int, str], list[int]] = {}
    song_of = cache.song_of
    for track_id, played_at in found:
        if track_id in wanted:
            song = song_of[track_id]
            times.setdefault(song, []).append(played_at)
            stored[(song, played_at)] = track_id
    for values in times.values():
        values.sort()
    return times


def _listens_in_span(session, lo: int, hi: int, limit: int) -> list[tuple[int, int]] | None:
    """(track_id, played_at) of every play between lo and hi, or None when there are more than `limit`.

    Export files are in time order, so a batch spans a short time and this is one range scan of the
    covering (played_at, track_id) index, which costs about as much as the batch's own rows: a
    re-import is then a parse plus in-memory membership tests.
    """
    with dbapi_cursor(session) as cursor:
        cursor.execute(_SPAN_SQL[session.get_bind().dialect.name == "sqlite"], (lo, hi, limit + 1))
        rows = cursor.fetchall()
    return rows if len(rows) <= limit else None


# A re-import of the same file: the stored (track, time) pairs are loaded once into a set of compact integer keys
# (about 60 bytes a play), with the catalogue's ids (into the import's CatalogCache), the loved tracks and each
# track's stored details, so that plays that are all there are counted without any SQL. SQLite only:
# `PRAGMA data_version` tells, on one connection, whether any other connection committed since the set was loaded.
KNOWN_LIMIT = 2_000_000  # stored plays at most (about 120 MB); beyond, batches are read as before
KNOWN_LOADS = 3  # loads per import at most (each write batch drops the set: it is only for plays already there)
_KNOWN_SHIFT = 36  # key = track_id << 36 + played_at: distinct for |played_at| < 2**35 (the year 3058)
_KNOWN_RANGE = 1 << 35
# The keys computed by SQLite (one int a row, no tuple unpacked in Python), within 64 bits: a track id of 2**27 or
# more is left out of the set (its plays then take the slower way, as any play the set does not hold).
_KEYED_TRACKS = 1 << (63 - _KNOWN_SHIFT)
_KEYS_SQL = (f"SELECT (track_id << {_KNOWN_SHIFT}) + played_at FROM listens "
             "WHERE track_id >= 0 AND track_id < ? AND played_at > ? AND played_at < ?")
_first = itemgetter(0)
_OWNER = {"tracks": "t.id", "albums": "t.album_id", "artists": "t.artist_id"}  # the row a FIELDS column is on
_ALIAS = {"tracks": "t", "albums": "al", "artists": "ar"}
_DETAILS_SQL = ("SELECT t.id, t.loved, " + ", ".join(
    f"{_OWNER[table]} IS NULL, {_ALIAS[table]}.{column}" for table, column in enrich.FIELDS.values())
    + " FROM tracks t JOIN artists ar ON ar.id = t.artist_id LEFT JOIN albums al ON al.id = t.album_id")
ANY = object()  # a stored detail without an owner (an album-less track has no release): enrich ignores the value


class KnownPlays:
    """The stored (track, played_at) pairs of one SQLite database, valid while no other connection commits.

    `fresh(session, cache)` says whether the set may be used now (loading it, and the catalogue into `cache`, when
    needed); `split` then tells the plays that are certainly duplicates with nothing to teach (their exact pair is
    stored, their names resolve from the cache, each of their details equals the stored one, a loved play's track
    is loved) from the others, which go through `write_plays` as before.

    A parser given the set (`Format.parse_known`) makes the same decision from a row's raw fields, before building
    its Play: `memo` maps the raw fields other than the time to `track_key` of the play they make, and a row whose
    `memo` value plus its time is in `keys` comes as part of a `KnownRows` record. Every load or drop starts a new
    `generation`: findings of an older one are void (`holds`).
    """

    def __init__(self, pause_gc: bool = False) -> None:
        self.loads = 0
        self.generation = 0
        self.cache: CatalogCache | None = None  # the import's cache, holding the catalogue loaded with the set
        # `pause_gc` (a process of its own, the CLI): the cyclic collector waits while the set is loaded.
        self.gc = Pause() if pause_gc else None
        self.drop()

    def drop(self) -> None:
        """Forget the set (another connection committed, or this import wrote)."""
        self.generation += 1
        for held in (getattr(self, "keys", None), getattr(self, "memo", None)):
            if held:
                held.clear()  # a parser holds them too, until it reads the set again: freed now all the same
        self.memo: dict = {}  # a parser's raw fields of a row (all but the time) -> track_key of their play
        self.keys: set[int] | None = None
        self.tag: tuple | None = None  # (DB-API connection, its data_version) the set is valid for
        self.details: dict[int, tuple] = {}  # track id -> stored values of enrich.FIELDS (ANY: no owner)
        self.clean: set[tuple] = set()  # (track id, details) found equal to what is stored
        self.loved: set[int] = set()  # loved tracks
        if self.gc is not None:
            self.gc.release()  # after the set is freed: the next collection need not walk it

    def fresh(self, session, cache: CatalogCache) -> bool:
        """Whether the set is usable for the next batch: loaded, and nothing committed by others since."""
        if session.get_bind().dialect.name != "sqlite":
            return False
        session.rollback()
        try:
            tag = self._tag(session)
            if self.keys is not None and self.tag is not None and tag[0] is self.tag[0] and tag[1] == self.tag[1]:
                return True
            self.drop()
            if self.loads >= KNOWN_LOADS:
                return False
            self.loads += 1
            loaded = without_gc(self._load, session, cache)
            if loaded and self.gc is not None:
                self.gc.hold()  # until drop()
            return loaded
        finally:
            session.rollback()

    @staticmethod
    def _tag(session) -> tuple:
        with dbapi_cursor(session) as cursor:
            cursor.execute("PRAGMA data_version")
            version = cursor.fetchone()[0]
        # The connection itself (not its id, which a later connection could reuse): versions are per connection.
        return session.connection().connection.dbapi_connection, version

    def _load(self, session, cache: CatalogCache) -> bool:
        keys: set[int] = set()
        details: dict[int, tuple] = {}
        with dbapi_cursor(session) as cursor:  # one read transaction: everything and the version of one snapshot
            cursor.execute("SELECT count(*) FROM listens")
            if cursor.fetchone()[0] > KNOWN_LIMIT or not cache.load_all(session):
                return False
            cursor.execute(_KEYS_SQL, (_KEYED_TRACKS, -_KNOWN_RANGE, _KNOWN_RANGE))
            while rows := cursor.fetchmany(50_000):
                keys.update(map(_first, rows))
            cursor.execute(_DETAILS_SQL)
            shared: dict[tuple, tuple] = {}  # most tracks have the same few value tuples: keep one of each
            while rows := cursor.fetchmany(50_000):
                for row in rows:
                    values = tuple(ANY if row[i] else row[i + 1] for i in range(2, len(row), 2))
                    details[row[0]] = shared.setdefault(values, values)
                    if row[1]:
                        self.loved.add(row[0])
        self.tag = self._tag(session)
        self.keys, self.details, self.cache = keys, details, cache
        return True

    def holds(self, found: list[KnownRows]) -> bool:
        """Whether findings of a parser were all made with the set as it is now (loaded, same generation)."""
        return self.keys is not None and all(rows.generation == self.generation for rows in found)

    def split(self, cache: CatalogCache, plays: list[Play]) -> tuple[int, list[Play]]:
        """(how many plays are certainly stored duplicates with nothing to teach, the other plays)."""
        keys, track_key = self.keys, self.track_key
        rest = []
        for p in plays:
            base = track_key(p, cache)
            if base is None or not -_KNOWN_RANGE < p.played_at < _KNOWN_RANGE or base + p.played_at not in keys:
                rest.append(p)
        return len(plays) - len(rest), rest

    def track_key(self, p: Play, cache: CatalogCache | None = None) -> int | None:
        """The play's track id << _KNOWN_SHIFT when the play, at a time stored for that track, is certainly a
        duplicate with nothing to teach (its names resolve from the cache, each detail equals the stored one, a
        loved play's track is loved); None when it needs `write_plays`. The time itself plays no part."""
        cache = cache or self.cache
        hit = cache.seen.get((p.artist, p.album, p.title)) or cache.cached(p)
        if hit is None or (p.loved and hit[0] not in self.loved) or p.listened_seconds is not None \
                or p.client is not None or p.duration_seconds is not None:  # lengths compare within a second
            return None
        details = enrich.details(p)
        if details != enrich.NOTHING and (hit[0], details) not in self.clean:
            if not self._same(hit[0], details):
                return None
            self.clean.add((hit[0], details))
        return hit[0] << _KNOWN_SHIFT

    def _same(self, track_id: int, details: tuple) -> bool:
        """Whether each detail a play gives equals the stored one (enrich would neither fill nor report it)."""
        stored = self.details.get(track_id)
        return stored is not None and all(
            value is None or old is ANY or value == old for value, old in zip(details, stored, strict=True))


@dataclass
class Batch:
    """Records of one batch: plays to write plus rows reported as skipped or malformed."""

    records: int = 0
    plays: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    known: list[KnownRows] = field(default_factory=list)  # stored plays a parser found from raw rows (not built)

    def add(self, record, entry_type: type) -> None:
        """One record of a parser (other than KnownRows)."""
        self.records += 1
        if isinstance(record, entry_type):
            self.plays.append(record)
        elif isinstance(record, Skipped):
            self.skipped.append({"line": record.line, "reason": record.reason})
        elif isinstance(record, Malformed):
            self.errors.append({"line": record.line, "error": record.error})

    def add_known(self, found: KnownRows, count: int) -> KnownRows:
        """The first `count` rows of `found` as rows of this batch; returns the others."""
        if count:
            self.known.append(found.cut(0, count) if count < len(found) else found)
            self.records += count
        return found.cut(count)

    def known_plays(self) -> int:
        """How many rows of the batch came as KnownRows."""
        return sum(map(len, self.known))

    def build_known(self) -> None:
        """Build the plays of the batch's KnownRows after all, among the others in file order."""
        if self.known:
            for found in self.known:
                self.plays += found.plays()
            self.plays.sort(key=_line)
            self.known = []


_line = attrgetter("line")


class BatchSizer:
    """Rows for the next batch: about TARGET_SECONDS of transaction, between MIN_BATCH and BATCH_SIZE."""

    def __init__(self) -> None:
        self.size = min(FIRST_BATCH, BATCH_SIZE)

    def __call__(self) -> int:
        """The size of the next batch."""
        return self.size

    def observe(self, rows: int, seconds: float) -> None:
        """A batch of `rows` held its transaction `seconds`: aim the next one at the target (at most x2)."""
        if rows <= 0:
            return
        wanted = rows * TARGET_SECONDS / max(seconds, 1e-3)
        self.size = int(max(min(MIN_BATCH, BATCH_SIZE), min(BATCH_SIZE, wanted, 2 * self.size)))


def batches(records: Iterable, *, skip_first: int = 0, size: int | Callable[[], int] | None = None,
            entry_type: type = Play, known_size: int | None = None) -> Iterator[Batch]:
    """Group parser records into batches of `size` (a number, or asked before each batch) after `skip_first`.

    A KnownRows record counts as one record per row: it is cut where a batch ends (or `skip_first` does). A batch
    of KnownRows alone may grow to `known_size` rows (when larger than `size`): it is counted in memory, so its
    size bounds no write (were its rows written after all, `known_size` is still a batch a write may take), and
    each batch costs a freshness check.
    """
    size_of = size if callable(size) else (lambda: size or BATCH_SIZE)
    limit = size_of()
    batch = Batch()
    position = 0  # records read, a KnownRows counting its rows
    try:
        for record in records:
            found = record if type(record) is KnownRows else None
            position += 1 if found is None else len(found)
            if position <= skip_first:
                continue
            if found is None:
                if batch.records >= limit:  # a batch of known rows alone, grown past `limit`: it ends here
                    yield batch
                    batch = Batch()
                    limit = size_of()
                batch.add(record, entry_type)
                full = batch.records >= limit
            else:
                if position - skip_first < len(found):
                    found = found.cut(len(found) - (position - skip_first))
                while len(found) > _room(batch, limit, known_size):  # more than this batch takes: fill it
                    found = batch.add_known(found, _room(batch, limit, known_size))
                    yield batch
                    batch = Batch()
                    limit = size_of()
                batch.add_known(found, len(found))
                full = _room(batch, limit, known_size) <= 0
            if full:
                yield batch
                batch = Batch()
                limit = size_of()
    except FatalFormatError:
        if batch.records:
            yield batch  # what was read before the break is good: keep it, then report the break
        raise
    if batch.records:
        yield batch


def _room(batch: Batch, limit: int, known_size: int | None) -> int:
    """How many more known rows the batch takes: up to `known_size` while it holds known rows alone."""
    alone = known_size is not None and batch.records == batch.known_plays()
    return (max(limit, known_size) if alone else limit) - batch.records



# An import that grows the listens by more than this share leaves PostgreSQL planning with stale row counts
# (album detail then scanned every listen: 90 ms instead of 10 ms at 1,000,000 plays), until autovacuum
# gets to it; so the import refreshes them itself.
ANALYZE_SHARE = 0.1
# Every table an import fills, the statistics' rollups (track_period_plays, group_period_plays, month_quarter_plays)
# included: the first reads after the import then get the plans of the later ones.
ANALYZED_TABLES = ("tracks", "albums", "album_artists", "artists", "track_play_totals", "artist_play_totals",
                   "listen_buckets", "track_period_plays", "group_period_plays", "month_quarter_plays")
_PG_ANALYZE = ("VACUUM (ANALYZE) listens", "ANALYZE " + ", ".join(ANALYZED_TABLES))


def refresh_statistics(engine, imported: int) -> bool:
    """After an import that added `imported` plays, refresh PostgreSQL's planner statistics when they are stale.

    VACUUM also sets the visibility map, so the counts over listens become index-only scans. SQLite keeps its
    plans (it has no statistics until an ANALYZE, and AIME's queries are planned for that). Returns whether
    it ran; a failure is logged, never raised (the import itself is committed).
    """
    if imported <= 0 or engine.dialect.name != "postgresql":
        return False
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if imported < ANALYZE_SHARE * connection.execute(text("SELECT count(*) FROM listens")).scalar():
                return False
            for statement in _PG_ANALYZE:
                connection.execute(text(statement))
    except SQLAlchemyError as error:
        log.warning("planner statistics not refreshed after the import: %s", error)
        return False
    return True
