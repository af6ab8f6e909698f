"""`flask --app aime import FILE [--format F] [--dry-run] [--resume ID]`: a progress bar and a final report."""
from __future__ import annotations

import os
from pathlib import Path

import click
from flask.cli import with_appcontext
from tqdm import tqdm

from ...errors import AimeError
from ...extensions import db
from ...gcpause import freeze_at_exit
from ...jobs import imports as jobs
from ...models import ImportJob
from .. import imports
from . import FORMATS

SHOWN_ROWS = 50


@click.command("import")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), help="Skip detection (it reads the content).")
@click.option("--dry-run", is_flag=True, help="Read and check everything, write nothing.")
@click.option("--resume", "resume_id", type=int, help="Finish an interrupted import job.")
@with_appcontext
def import_command(file: Path | None, fmt: str | None, dry_run: bool, resume_id: int | None):
    """Import a listening history or collection export (Last.fm, Spotify, ListenBrainz, Maloja, Discogs)."""
    if file is None and resume_id is None:
        raise click.UsageError("give a FILE, or --resume ID")
    freeze_at_exit(db.engine)  # this process exists for the import: its exit need not collect its objects
    try:
        if resume_id is not None:
            imports.get_job(resume_id)  # 404 -> a clear message
            with _bar(_size(Path(job_path(resume_id)))) as bar:
                report = jobs.run_job(resume_id, on_batch=bar.advance, own_process=True)
        elif dry_run:
            with _bar(_size(file)) as bar:
                report = imports.dry_run_file(file, fmt, on_batch=bar.advance)
        else:
            job_id = jobs.create_file_job(file, fmt)
            job = imports.get_job(job_id)
            if job["processed"]:
                click.echo(f"resuming import {job_id} after row {job['processed']}")
            with _bar(_size(file)) as bar:
                report = jobs.run_job(job_id, on_batch=bar.advance, own_process=True)
    except AimeError as error:
        raise click.ClickException(error.detail) from None
    _print_report(report, dry_run)
    if report.get("status") == "failed":
        raise SystemExit(1)


def job_path(job_id: int) -> str:
    """The stored file of a job."""
    return db.session.get(ImportJob, job_id).stored_path or ""


def _size(path: Path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class _bar:
    """tqdm over the file's bytes (for the ETA) showing rows and rows/s."""

    def __init__(self, total: int):
        self.rows = 0
        self.bar = tqdm(total=total or None, unit="B", unit_scale=True, dynamic_ncols=True,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()

    def advance(self, records: int, position: int) -> None:
        """Called after each committed batch."""
        self.rows += records
        elapsed = max(self.bar.format_dict["elapsed"], 1e-6)
        self.bar.set_postfix_str(f"{self.rows:,} rows, {self.rows / elapsed:,.0f} rows/s", refresh=False)
        self.bar.update(max(0, position - self.bar.n))


def _print_report(report: dict, dry_run: bool) -> None:
    title = "dry run (nothing written)" if dry_run else f"import {report.get('id')}: {report.get('status')}"
    click.echo(f"{title}\nformat: {report.get('format')}\nprocessed: {report['processed']}\n"
               f"{'would import' if dry_run else 'imported'}: {report['imported']}\n"
               f"duplicates: {report['duplicates']}\nskipped: {len(report['skipped'])}\n"
               f"errors: {len(report['errors'])}")
    for row in report["skipped"][:SHOWN_ROWS]:
        click.echo(f"  skipped line {row['line']}: {row['reason']}")
    for row in report["errors"][:SHOWN_ROWS]:
        click.echo(f"  error line {row['line']}: {row['error']}")
    hidden = len(report["skipped"]) + len(report["errors"]) - 2 * SHOWN_ROWS
    if hidden > 0:
        click.echo(f"  ... and more (see GET /api/v1/imports/{report.get('id')})")
    if report.get("message"):
        click.echo(f"message: {report['message']}")
