"""Running one import job over its file: batches committed with the job's counters, resumable by row count."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import BinaryIO

from ..database import run_write
from ..extensions import db
from ..models import ImportJob
from ..services.importers import FORMATS, Format
from ..services.importers.collection import write_entries
from ..services.importers.pipeline import Batch, BatchSizer, batches, refresh_statistics, write_plays
from ..services.importers.records import CollectionEntry, FatalFormatError, Play
from ..services.importers.resolve import CatalogCache
from . import lease

log = logging.getLogger(__name__)
MAX_REPORTED = 10_000  # rows listed per job in skipped/errors; beyond that only the counts grow
COLLECTION_BATCH = 500


class LeaseLost(RuntimeError):
    """Another process took over this job (our lease expired): stop without writing."""


def source_of(fmt: Format) -> str:
    """Listen.source for a format: lastfm, spotify, listenbrainz, maloja."""
    return fmt.name.split("-")[0]


def execute(job_id: int, stream: BinaryIO, *, window: int, job_lease: tuple[str, str, float] | None,
            on_batch: Callable[[int, int], None] | None = None) -> None:
    """Import the job's remaining rows from stream (the first job.processed rows are already committed)."""
    job = db.session.get(ImportJob, job_id)
    fmt = FORMATS[job.format]
    skip_first = job.processed
    db.session.rollback()
    cache = CatalogCache(source_of(fmt))
    kind = Play if fmt.kind == "listens" else CollectionEntry
    sizer = BatchSizer()
    size = sizer if fmt.kind == "listens" else COLLECTION_BATCH
    for batch in batches(fmt.parse(stream), skip_first=skip_first, entry_type=kind, size=size):
        held = [0.0]
        run_write(_timed_commit, held, job_id, batch, cache, fmt, window, job_lease)
        sizer.observe(batch.records, held[0])
        if on_batch is not None:
            on_batch(batch.records, stream.tell())
    if fmt.kind == "listens" and db.engine.dialect.name == "postgresql":
        refresh_statistics(db.engine, db.session.get(ImportJob, job_id).imported)


def _timed_commit(held: list, *args) -> None:
    db.session.connection()  # begins the transaction: on SQLite, BEGIN IMMEDIATE waits for the lock here
    started = time.perf_counter()  # from here to the end of the work: how long the batch holds the lock
    try:
        _commit(*args)
    finally:
        held[0] = time.perf_counter() - started


def _commit(job_id: int, batch: Batch, cache: CatalogCache, fmt: Format, window: int,
            job_lease: tuple[str, str, float] | None) -> None:
    session = db.session
    try:
        if job_lease is not None:
            _renew(*job_lease)
        if fmt.kind == "listens":
            result = write_plays(session, cache, batch.plays, window=window, source=source_of(fmt),
                                 import_id=job_id)
            imported, duplicates = len(result.inserted), result.duplicates
            enriched, conflicts = result.enriched, result.conflicts
        else:
            conflicts = []
            imported, duplicates = write_entries(session, batch.plays, conflicts)
            enriched = 0
        job = session.get(ImportJob, job_id)
        job.processed += batch.records
        job.imported += imported
        job.duplicates += duplicates
        if batch.skipped and len(job.skipped) < MAX_REPORTED:
            job.skipped = job.skipped + batch.skipped[:MAX_REPORTED - len(job.skipped)]
        if batch.errors and len(job.errors) < MAX_REPORTED:
            job.errors = job.errors + batch.errors[:MAX_REPORTED - len(job.errors)]
        job.enriched = (job.enriched or 0) + enriched
        if conflicts and len(job.conflicts or []) < MAX_REPORTED:
            job.conflicts = (job.conflicts or []) + conflicts[:MAX_REPORTED - len(job.conflicts or [])]
    except BaseException:
        cache.clear()  # ids learnt in a rolled-back transaction may not exist
        raise


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
