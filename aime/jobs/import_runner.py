"""Running one import job over its file: batches committed with the job's counters, resumable by row count."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy.exc import SQLAlchemyError

from ..database import run_write
from ..extensions import db
from ..models import ImportJob
from ..services.importers import FORMATS, Format, pipeline
from ..services.importers.collection import write_entries
from ..services.importers.pipeline import (
    Batch,
    BatchSizer,
    KnownPlays,
    NeedsWrite,
    batches,
    read_only,
    refresh_statistics,
    tune_for_import,
    write_plays,
)
from ..services.importers.records import CollectionEntry, FatalFormatError, Play
from ..services.importers.resolve import CatalogCache
from . import lease

log = logging.getLogger(__name__)
MAX_REPORTED = 10_000  # rows listed per job in skipped/errors; beyond that only the counts grow
COLLECTION_BATCH = 500
FLUSH_SECONDS = 1.0  # batches read without writing reach the job row (progress, lease) at least this often


class LeaseLost(RuntimeError):
    """Another process took over this job (our lease expired): stop without writing."""


def source_of(fmt: Format) -> str:
    """Listen.source for a format: lastfm, spotify, listenbrainz, maloja."""
    return fmt.name.split("-")[0]


@dataclass
class Progress:
    """Counts of batches not yet added to the job row (and the rows they report)."""

    records: int = 0
    imported: int = 0
    duplicates: int = 0
    enriched: int = 0
    skipped: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    conflicts: list = field(default_factory=list)

    def add(self, other: Progress) -> None:
        """Add another batch's counts (the lists stay within what the job keeps)."""
        self.records += other.records
        self.imported += other.imported
        self.duplicates += other.duplicates
        self.enriched += other.enriched
        for name in ("skipped", "errors", "conflicts"):
            mine = getattr(self, name)
            mine += getattr(other, name)[:MAX_REPORTED - len(mine)]


def execute(job_id: int, stream: BinaryIO, *, window: int, job_lease: tuple[str, str, float] | None,
            on_batch: Callable[[int, int], None] | None = None, own_process: bool = False) -> None:
    """Import the job's remaining rows from stream (the first job.processed rows are already committed).

    After a batch that added nothing (a re-import), the next batch is first read without the write lock: when
    all its plays are there and it has nothing to teach, its counts wait in memory and reach the job row with
    the next write, at least every FLUSH_SECONDS (with the lease) and at the end. A crash in between loses
    only counts of rows that a resumed job reads again. `own_process` (the CLI): the process's database
    connections are the import's alone, and get its SQLite page cache and checkpoint interval.
    """
    job = db.session.get(ImportJob, job_id)
    fmt = FORMATS[job.format]
    skip_first = job.processed
    db.session.rollback()
    cache = CatalogCache(source_of(fmt))
    kind = Play if fmt.kind == "listens" else CollectionEntry
    sizer = BatchSizer()
    size = sizer if fmt.kind == "listens" else COLLECTION_BATCH
    pending, flushed, probe = Progress(), time.monotonic(), fmt.kind == "listens"
    known = KnownPlays(pause_gc=own_process) if probe and db.engine.dialect.name == "sqlite" else None
    try:
        # With the known plays, a parser that can finds the stored ones from raw rows (once the set is loaded: from
        # the second batch on).
        records = fmt.parse(stream) if known is None or fmt.parse_known is None else fmt.parse_known(stream, known)
        # Rows the parser found stored are counted in memory: a batch of them alone may be as large as any batch.
        most_known = pipeline.BATCH_SIZE if known is not None else None
        for batch in batches(records, skip_first=skip_first, entry_type=kind, size=size, known_size=most_known):
            held = [0.0]
            done, rows = None, batch.records
            if probe:
                done, rows = _read_batch(held, job_id, batch, cache, fmt, window, own_process, known)
            if done is not None:
                pending.add(done)
                if time.monotonic() - flushed >= FLUSH_SECONDS:
                    run_write(_flush, job_id, pending, job_lease)
                    pending, flushed = Progress(), time.monotonic()
            else:
                added = _write_batch(held, own_process, job_id, batch, cache, fmt, window, job_lease, pending, known)
                pending, flushed = Progress(), time.monotonic()
                probe = fmt.kind == "listens" and added == 0
            if rows:
                sizer.observe(rows, held[0])
            if on_batch is not None:
                on_batch(batch.records, stream.tell())
    except FatalFormatError:
        run_write(_flush, job_id, pending, job_lease)  # the rows read before the break are counted
        raise
    finally:
        if known is not None:
            cache.clear()  # the catalogue is freed first: the collector, running again, need not walk it
            known.drop()  # the collector runs again (pause_gc)
    if pending.records:
        run_write(_flush, job_id, pending, job_lease)
    if fmt.kind == "listens" and db.engine.dialect.name == "postgresql":
        refresh_statistics(db.engine, db.session.get(ImportJob, job_id).imported)


def _write_batch(held: list, own_process: bool, job_id: int, batch: Batch, cache: CatalogCache, fmt: Format,
                 window: int, job_lease: tuple[str, str, float] | None, pending: Progress,
                 known: KnownPlays | None) -> int:
    """Write the batch with the job's counts (every play through write_plays); returns the plays it added."""
    if known is not None:
        known.drop()  # this import writes: the set is reloaded (at most KNOWN_LOADS times) when needed
    batch.build_known()  # written as before: every play of the batch goes through write_plays
    if fmt.kind == "listens":
        cache.warm(batch.plays)  # before the write lock
    return run_write(_timed_commit, held, own_process, job_id, batch, cache, fmt, window, job_lease, pending)


def _read_batch(held: list, job_id: int, batch: Batch, cache: CatalogCache, fmt: Format, window: int,
                tune: bool, known: KnownPlays | None) -> tuple[Progress | None, int]:
    """(the batch's counts when it has nothing to write, else None; the rows its read time measures).

    Plays that the stored pairs in memory (`known`) prove to be duplicates with nothing to teach are counted
    without SQL (those the parser found already, as KnownRows, when the set they were found with still holds);
    the others are read without the write lock (`_probe`). A batch counted entirely in memory
    measures nothing (0 rows): it says nothing about how long a write would hold the lock; nor does one
    probed only in part.
    """
    usable = known is not None and bool(batch.plays or batch.known) and known.fresh(db.session, cache)
    if not (usable and known.holds(batch.known)):
        batch.build_known()  # found with a set since dropped or reloaded: built, and looked at again
    fast, rest = known.split(cache, batch.plays) if usable else (0, batch.plays)
    fast += batch.known_plays()
    if not rest:
        return Progress(batch.records, 0, fast, 0, batch.skipped, batch.errors, []), 0
    part = batch if not fast else Batch(batch.records, rest, batch.skipped, batch.errors)
    done = _probe(held, job_id, part, cache, fmt, window, tune)
    if done is not None:
        done.duplicates += fast
    # A probe of part of the batch measures neither what writing the whole batch would hold (more) nor a rate
    # per row (its fixed costs spread over few rows): such a batch leaves the size as it is.
    return done, (0 if fast else batch.records)


def _probe(held: list, job_id: int, batch: Batch, cache: CatalogCache, fmt: Format, window: int,
           tune: bool) -> Progress | None:
    """The batch's counts when it has nothing to write, read without the write lock; None when it has."""
    session = db.session
    session.rollback()
    if tune:
        tune_for_import(session)
    started = time.perf_counter()
    try:
        with read_only(session):
            result = write_plays(session, cache, batch.plays, window=window, source=source_of(fmt),
                                 import_id=job_id, probe=True)
    except NeedsWrite:
        return None
    except SQLAlchemyError:  # a write refused (resolve or enrichment had something to store), or a fault:
        cache.clear()        # the write transaction does it again and classifies any real error
        return None
    finally:
        session.rollback()
        held[0] = time.perf_counter() - started  # what the write would hold: sizes the batches all the same
    return _progress(batch, result)


def _progress(batch: Batch, result) -> Progress:
    return Progress(batch.records, len(result.inserted), result.duplicates, result.enriched, batch.skipped,
                    batch.errors, result.conflicts)


def _flush(job_id: int, pending: Progress, job_lease: tuple[str, str, float] | None) -> None:
    if job_lease is not None:
        _renew(*job_lease)
    _count(db.session.get(ImportJob, job_id), pending)


def _timed_commit(held: list, tune: bool, *args) -> int:
    db.session.connection()  # begins the transaction: on SQLite, BEGIN IMMEDIATE waits for the lock here
    if tune:
        tune_for_import(db.session)
    started = time.perf_counter()  # from here to the end of the work: how long the batch holds the lock
    try:
        return _commit(*args)
    finally:
        held[0] = time.perf_counter() - started


def _commit(job_id: int, batch: Batch, cache: CatalogCache, fmt: Format, window: int,
            job_lease: tuple[str, str, float] | None, pending: Progress) -> int:
    """Write one batch with the job's counts (its own and `pending`'s); returns the plays it added."""
    session = db.session
    try:
        if job_lease is not None:
            _renew(*job_lease)
        if fmt.kind == "listens":
            result = write_plays(session, cache, batch.plays, window=window, source=source_of(fmt),
                                 import_id=job_id)
            done = _progress(batch, result)
        else:
            conflicts = []
            imported, duplicates = write_entries(session, batch.plays, conflicts)
            done = Progress(batch.records, imported, duplicates, 0, batch.skipped, batch.errors, conflicts)
        job = session.get(ImportJob, job_id)
        _count(job, pending)
        _count(job, done)
        return done.imported
    except BaseException:
        cache.clear()  # ids learnt in a rolled-back transaction may not exist
        raise


def _count(job: ImportJob, done: Progress) -> None:
    """Add a batch's counts and reported rows to the job row."""
    job.processed += done.records
    job.imported += done.imported
    job.duplicates += done.duplicates
    if done.skipped and len(job.skipped) < MAX_REPORTED:
        job.skipped = job.skipped + done.skipped[:MAX_REPORTED - len(job.skipped)]
    if done.errors and len(job.errors) < MAX_REPORTED:
        job.errors = job.errors + done.errors[:MAX_REPORTED - len(job.errors)]
    job.enriched = (job.enriched or 0) + done.enriched
    if done.conflicts and len(job.conflicts or []) < MAX_REPORTED:
        job.conflicts = (job.conflicts or []) + done.conflicts[:MAX_REPORTED - len(job.conflicts or [])]


def _renew(name: str, owner: str, seconds: float) -> None:
    if not lease.renew(name, owner, seconds):
        raise LeaseLost(f"{name} is now run by {lease.holder(name) or 'nobody'}")


def dry_run(fmt: Format, stream: BinaryIO, *, window: int,
            on_batch: Callable[[int, int], None] | None = None) -> dict:
    """What an import would do, writing nothing: each batch runs in a transaction that is rolled back."""
    report = {"format": fmt.name, "processed": 0, "imported": 0, "duplicates": 0, "enriched": 0,
              "skipped": [], "errors": [], "conflicts": []}
    cache = CatalogCache(source_of(fmt))
    kind = Play if fmt.kind == "listens" else CollectionEntry
    try:
        for batch in batches(fmt.parse(stream), entry_type=kind):
            try:
                if fmt.kind == "listens":
                    result = write_plays(db.session, cache, batch.plays, window=window, source=source_of(fmt))
                    imported, duplicates = len(result.inserted), result.duplicates
                    report["enriched"] += result.enriched
                    report["conflicts"] += result.conflicts
                else:
                    imported, duplicates = write_entries(db.session, batch.plays, report["conflicts"])
            finally:
                db.session.rollback()
                cache.clear()
            report["processed"] += batch.records
            report["imported"] += imported
            report["duplicates"] += duplicates
            report["skipped"] += batch.skipped
            report["errors"] += batch.errors
            if on_batch is not None:
                on_batch(batch.records, stream.tell())
    except FatalFormatError as error:
        report["errors"].append({"line": error.line, "error": error.message})
    return report
