"""Enrich the whole collection in the background (API or schedule), with progress that survives a restart.

State (service_states "enrichment"): status (running/done/failed), run_started_epoch, processed/total, changed,
matched, ambiguous, not_found, failed, covers, last_album_id, heartbeat, times, error. An album enriched during
the current run has enriched_at >= run_started_epoch, so a run interrupted by a restart carries on where it
stopped (same run_started_epoch) instead of starting over.
"""
from __future__ import annotations

import logging
import threading

from flask import Flask, current_app
from sqlalchemy import and_, func, or_, select

from ..config import Config, config_of
from ..errors import AimeError
from ..extensions import db
from ..models import Album, AlbumEnrichment
from ..timeutil import iso, to_epoch, utcnow
from ..services.enrichment import Sources, enrich_album, require_sources
from .runtime import failure_recorded, read_state, update_state
from .claims import claim_job

log = logging.getLogger(__name__)
NAME = "enrichment"
BATCH = 50
# An album matched with a cover is done; one not found, ambiguous or failed is asked again after a week.
RETRY_SECONDS = 7 * 86400
COUNTS = ("processed", "changed", "matched", "ambiguous", "not_found", "failed", "covers")


def progress() -> dict:
    """The running or last run's progress (empty before the first one)."""
    return read_state(NAME)


def _pending(run_started: int):
    row = AlbumEnrichment
    unfinished = or_(row.status != "matched", row.cover_sha256.is_(None))
    return and_(Album.in_collection.is_(True), or_(
        row.album_id.is_(None), row.enriched_at.is_(None),
        and_(unfinished, row.enriched_at < run_started - RETRY_SECONDS)))


def _next_ids(run_started: int, after: int) -> list[int]:
    query = (select(Album.id).outerjoin(AlbumEnrichment, AlbumEnrichment.album_id == Album.id)
             .where(_pending(run_started), Album.id > after).order_by(Album.id).limit(BATCH))
    ids = list(db.session.scalars(query))
    db.session.rollback()
    return ids


def _count_pending(run_started: int) -> int:
    total = db.session.scalar(select(func.count(Album.id))
                              .outerjoin(AlbumEnrichment, AlbumEnrichment.album_id == Album.id)
                              .where(_pending(run_started)))
    db.session.rollback()
    return int(total or 0)


def enrich_all(config: Config, sources: Sources | None = None, previous: dict | None = None) -> dict:
    """Enrich every collection album that needs it; resumes the interrupted run described by `previous`."""
    require_sources(config)
    sources = sources or Sources.from_config(config)
    previous = previous if previous is not None else {}
    now = to_epoch(utcnow())
    resumed = previous.get("run_started_epoch") is not None and previous.get("finished_at") is None
    run_started = int(previous["run_started_epoch"]) if resumed else now
    counts = {key: int(previous.get(key) or 0) if resumed else 0 for key in COUNTS}
    update_state(NAME, status="running", run_started_epoch=run_started, resumed=resumed, finished_at=None,
                 started_at=previous.get("started_at") if resumed else iso(now), error=None, heartbeat=now,
                 total=counts["processed"] + _count_pending(run_started), sources=sources.names(), **counts)
    after = 0
    with failure_recorded(NAME):
        while ids := _next_ids(run_started, after):
            for album_id in ids:
                after = album_id
                report = enrich_album(config, album_id, sources)
                counts["processed"] += 1
                counts["changed"] += 1 if report["changes"] else 0
                counts["covers"] += 1 if "cover" in report["changes"] else 0
                counts[report["status"]] += 1
                update_state(NAME, last_album_id=album_id, heartbeat=to_epoch(utcnow()), **counts)
    finished = {"status": "done", "finished_at": iso(to_epoch(utcnow()))}
    result = {**progress(), **finished}
    # The last database access of the run: whoever polls for "done" may stop the app right after it.
    update_state(NAME, **finished)
    return result


def run_now(config: Config) -> dict:
    """Claim the job (409 while a live run holds it) and run it in this thread; for the scheduled task."""
    require_sources(config)
    previous = progress()
    claim_job(NAME)
    return enrich_all(config, previous=previous)


def start_background() -> dict:
    """Claim the job and run it in a background thread; returns its state at start (the API's 202)."""
    app = current_app._get_current_object()
    config: Config = config_of(app)
    require_sources(config)
    previous = progress()
    claim_job(NAME)
    threading.Thread(target=_background, args=(app, previous), name="aime-job-enrichment", daemon=True).start()
    return progress()


def _background(app: Flask, previous: dict) -> None:
    with app.app_context():
        try:
            enrich_all(config_of(app), previous=previous)
        except AimeError as error:  # already in the state; one line in the log
            log.warning("enrichment run failed: %s", error.detail)
        except Exception:  # noqa: BLE001 - recorded in the state; the trace goes to the log
            log.exception("enrichment run failed")
        finally:
            db.session.remove()
