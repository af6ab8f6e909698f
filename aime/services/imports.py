"""Import jobs as data: where uploads wait, one job's report, and dry runs; running them is aime.jobs.imports."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


from ..config import Config, current_config
from ..errors import NotFound
from ..extensions import db
from ..jobs.import_runner import dry_run
from ..models import ImportJob
from .importers import resolve_format

UNFINISHED = ("queued", "running")


def upload_dir(config: Config) -> Path:
    """Where uploaded files wait for their job (inside the data dir, names chosen by us)."""
    return config.data_dir / "imports"


def get_job(job_id: int) -> dict:
    """One job's progress and report, or 404."""
    job = db.session.get(ImportJob, job_id)
    if job is None:
        raise NotFound(f"Import {job_id} does not exist.")
    return job_dict(job)


def job_dict(job: ImportJob) -> dict:
    """A job as the API and the CLI report it."""
    return {"id": job.id, "format": job.format, "filename": job.filename, "status": job.status,
            "processed": job.processed, "imported": job.imported, "duplicates": job.duplicates,
            "enriched": job.enriched or 0, "conflicts": list(job.conflicts or []),
            "skipped": list(job.skipped or []), "errors": list(job.errors or []),
            "skipped_count": len(job.skipped or []), "error_count": len(job.errors or []),
            "message": job.message, "created_at": job.created_at, "started_at": job.started_at,
            "finished_at": job.finished_at}


def dry_run_file(path: Path, requested_format: str | None,
                 on_batch: Callable[[int, int], None] | None = None) -> dict:
    """What importing a local file would do; nothing is written."""
    config: Config = current_config()
    with open(path, "rb") as stream:
        fmt = resolve_format(stream, requested_format)
        return dry_run(fmt, stream, window=config.dedup_window_seconds, on_batch=on_batch)
