"""The streaming import: parser records -> batches -> one transaction per batch (ids, dedup, insert, counts)."""
from __future__ import annotations

import time
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from sqlalchemy import select, text, update

from ...database import dbapi_cursor
from ...models import Listen, Track
from .. import rollups
from . import enrich
from .records import FatalFormatError, Malformed, Play, Skipped
from .resolve import CatalogCache, chunks

BATCH_SIZE = 20_000  # the most rows in one transaction
# Each batch holds SQLite's write lock for its whole transaction: the size follows the measured time so
# that a batch takes about TARGET_SECONDS, and a love or an album edit made meanwhile waits no longer.
TARGET_SECONDS = 0.25
FIRST_BATCH = 2_000
MIN_BATCH = 1_000
_SQLITE_INSERT = ("INSERT OR IGNORE INTO listens (track_id, played_at, source, client, import_id, created_at, "
                  "listened_seconds) VALUES (?, ?, ?, ?, ?, ?, ?)")
_PG_INSERT = text(
    "INSERT INTO listens (track_id, played_at, source, client, import_id, created_at, listened_seconds) "
    "SELECT * FROM unnest(CAST(:track_id AS integer[]), CAST(:played_at AS bigint[]), CAST(:source AS varchar[]), "
    "CAST(:client AS varchar[]), CAST(:import_id AS integer[]), CAST(:created_at AS bigint[]), "
    "CAST(:listened_seconds AS integer[])) "
    "ON CONFLICT DO NOTHING RETURNING track_id, played_at, listened_seconds")


@dataclass
class BatchResult:
    """What one batch of plays did."""

    inserted: list[tuple[int, int, int | None]] = field(default_factory=list)
    duplicates: int = 0
    enriched: int = 0  # duplicates that brought something the stored play lacked (album, length, ids)
    conflicts: list[dict] = field(default_factory=list)  # values that disagree with what was stored


def write_plays(session, cache: CatalogCache, plays: list[Play], *, window: int, source: str,
                import_id: int | None = None) -> BatchResult:
    """Store plays that are not already there (same song within `window` s); set-based, one batch."""
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
    if rows:
        result.inserted = _insert_listens(session, rows)
        result.duplicates += len(rows) - len(result.inserted)
    if loved:
        for part in chunks(sorted(loved)):
            session.execute(update(Track).where(Track.id.in_(part), Track.loved.is_(False)).values(loved=True))
    rollups.listens_added(session, result.inserted)
    enrich.apply(session, cache, plays, resolved, matched, result)  # after the rollups: it recounts what it moves
    return result


def _insert_listens(session, rows: list[tuple]) -> list[tuple[int, int, int | None]]:
    """Insert listen rows; returns the (track_id, played_at, listened_seconds) of those really inserted."""
    if session.get_bind().dialect.name == "sqlite":
        # The batch holds SQLite's write lock (BEGIN IMMEDIATE) since its dedup query, and the dedup
        # excluded every stored (track, time) pair, so each row goes in: the plain DB-API executemany is
        # several times faster than a RETURNING statement built per row.
        with dbapi_cursor(session) as cursor:
            cursor.executemany(_SQLITE_INSERT, rows)
            if cursor.rowcount == len(rows):
                return [(r[0], r[1], r[6]) for r in rows]
        raise RuntimeError("listen rows were ignored inside a locked batch")  # rolled back by run_write
    # PostgreSQL: one statement over arrays (unnest) instead of 10,000 parameter sets; RETURNING tells which
    # rows went in (a concurrent writer may have stored the same (track, time) meanwhile).
    columns = list(zip(*rows))
    result = session.execute(_PG_INSERT, {"track_id": list(columns[0]), "played_at": list(columns[1]),
                                          "source": list(columns[2]), "client": list(columns[3]),
                                          "import_id": list(columns[4]), "created_at": list(columns[5]),
                                          "listened_seconds": list(columns[6])})
    return [tuple(r) for r in result.all()]


def _existing_times(session, cache: CatalogCache, resolved, plays: list[Play], window: int,
                    stored: dict) -> dict:
    """Times of the stored plays of the batch's songs around the batch's time span, per song (and, in
    `stored`, the track each (song, time) is on)."""
    songs = {song for _track, song in resolved}
    track_ids = sorted({t for song in songs for t in cache.siblings.get(song, ())})
    lo = min(p.played_at for p in plays) - window
    hi = max(p.played_at for p in plays) + window
    times: dict[tuple[int, str], list[int]] = {}
    for part in chunks(track_ids):
        query = select(Listen.track_id, Listen.played_at).where(
            Listen.track_id.in_(part), Listen.played_at.between(lo, hi))
        for track_id, played_at in session.execute(query):
            song = cache.song_of[track_id]
            times.setdefault(song, []).append(played_at)
            stored[(song, played_at)] = track_id
    for values in times.values():
        values.sort()
    return times


@dataclass
class Batch:
    """Records of one batch: plays to write plus rows reported as skipped or malformed."""

    records: int = 0
    plays: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    errors: list = field(default_factory=list)


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
            entry_type: type = Play) -> Iterator[Batch]:
    """Group parser records into batches of `size` (a number, or asked before each batch) after `skip_first`."""
    size_of = size if callable(size) else (lambda: size or BATCH_SIZE)
    limit = size_of()
    batch = Batch()
    try:
        for index, record in enumerate(records):
            if index < skip_first:
                continue
            batch.records += 1
            if isinstance(record, entry_type):
                batch.plays.append(record)
            elif isinstance(record, Skipped):
                batch.skipped.append({"line": record.line, "reason": record.reason})
            elif isinstance(record, Malformed):
                batch.errors.append({"line": record.line, "error": record.error})
            if batch.records >= limit:
                yield batch
                batch = Batch()
                limit = size_of()
    except FatalFormatError:
        if batch.records:
            yield batch  # what was read before the break is good: keep it, then report the break
        raise
    if batch.records:
        yield batch

