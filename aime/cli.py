"""`flask --app aime ...` commands. Thin: each calls a service.

Each command imports its service when it runs: `flask import` (a re-import of a million plays takes a few seconds)
then starts without the health checks, exports, statistics and tasks of the others (with the rest of the app, which
AimeCommands holds back for it: about 0.4 s).
"""
from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .config import current_config
from .errors import AimeError
from .services.importers.cli import import_command


@click.command("token")
@with_appcontext
def token_command():
    """Print the API token (generating and storing it on first use)."""
    from .auth import ensure_api_token

    click.echo(ensure_api_token(current_config()))


@click.command("demo-data")
@with_appcontext
def demo_data_command():
    """Load a small, believable collection and listening history."""
    from .services.demo import load_demo_data

    result = load_demo_data(current_config())
    click.echo(f"demo data: {result['albums']} albums, {result['listens']} listens added")


@click.command("validate")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of lines.")
@click.option("--wait", "wait_seconds", type=float, default=0.0, show_default=True,
              help="Seconds to keep retrying an unreachable database.")
@with_appcontext
def validate_command(as_json: bool, wait_seconds: float):
    """Check that this instance can start: config, imports, data dir, database, migrations."""
    from .health.validation import passed_all, render, validate_app

    steps = validate_app(current_app._get_current_object(), wait_seconds=wait_seconds)
    click.echo(render(steps, as_json=as_json, tty=sys.stdout.isatty()))
    raise SystemExit(0 if passed_all(steps) else 1)


@click.command("backup")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: <AIME_DATA_DIR>/backups/musique-<UTC time>.db).")
@with_appcontext
def backup_command(output: str | None):
    """Back up the database: SQLite online backup, verified; for PostgreSQL, the pg_dump command."""
    from .services.backup import backup_sqlite

    try:
        result = backup_sqlite(current_config(), output)
    except AimeError as error:  # includes PostgreSQL, whose detail is the pg_dump advice
        click.echo(error.detail, err=True)
        raise SystemExit(1) from None
    click.echo(f"backup written: {result['path']} ({result['bytes']} bytes, integrity {result['integrity']}, "
               f"{result['seconds']}s)")


@click.command("restore")
@click.argument("backup", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that already holds data (stop AIME first).")
@with_appcontext
def restore_command(backup: str, force: bool):
    """Restore the database from a backup: verified first, migrated to this version after."""
    from .services.restore import restore

    try:
        result = restore(current_config(), backup, force=force)
    except AimeError as error:  # refused, unreadable, unknown revision; PostgreSQL: the pg_restore advice
        click.echo(error.detail, err=True)
        raise SystemExit(1) from None
    counts = ", ".join(f"{name} {n}" for name, n in result["counts"].items() if name in ("listens", "albums", "tracks"))
    click.echo(f"restored {result['backup']} into {result['database']} (revision {result['from_revision']} -> "
               f"{result['revision']}, integrity {result['integrity']}, {counts}, {result['seconds']}s)")


@click.command("export-history")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--format", "fmt", type=click.Choice(["listenbrainz", "jsonl", "csv"]), default=None,
              help="Default: from FILE's extension (.zip, .jsonl, .csv), else listenbrainz.")
@click.option("--start-date", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First local day (YYYY-MM-DD).")
@click.option("--end-date", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last local day, inclusive.")
@click.option("--tz", default=None, help="IANA zone of the days (default AIME_TIMEZONE).")
@with_appcontext
def export_history_command(file: str, fmt: str | None, start_date, end_date, tz: str | None):
    """Export the listening history to FILE (ListenBrainz zip, JSON Lines or Last.fm CSV), streamed."""
    from .services import history_export

    try:
        result = history_export.write_file(current_config(), file,
                                           history_export.format_of(file, fmt), start_date and start_date.date(),
                                           end_date and end_date.date(), tz)
    except AimeError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"history exported: {result['path']} ({result['format']}, {result['bytes']} bytes, "
               f"{result['seconds']}s)")


@click.command("lastfm-import-history")
@with_appcontext
def lastfm_import_history_command():
    """Import the whole Last.fm history of AIME_LASTFM_USER (re-running adds nothing twice)."""
    from .jobs.tracker import import_history

    _run_sync_job(lambda on_page: import_history(current_config(), on_page=on_page),
                  "page {page}/{pages}: {processed} scrobbles read, {imported} imported, {duplicates} duplicates")


@click.command("discogs-sync")
@with_appcontext
def discogs_sync_command():
    """Sync the Discogs collection of AIME_DISCOGS_USER now (removed releases are reported, not deleted)."""
    from .services.discogs_sync import sync

    _run_sync_job(lambda on_page: sync(current_config(), on_page=on_page),
                  "page {page}/{pages}: {processed} releases, {added} added, {updated} updated")


def _run_sync_job(job, line: str) -> None:
    try:
        result = job(lambda progress: click.echo(line.format(**progress)))
    except AimeError as error:  # not configured, Last.fm/Discogs unreachable: one clear line
        click.echo(error.detail, err=True)
        raise SystemExit(1) from None
    click.echo(f"{result['status']}: " + ", ".join(f"{k} {result[k]}" for k in
                                                   ("processed", "imported", "duplicates", "added", "updated",
                                                    "unchanged", "removed_count") if k in result))


@click.command("rollups-rebuild")
@with_appcontext
def rollups_rebuild_command():
    """Recompute the statistics rollups from the listens (after bulk SQL that bypassed the write hooks)."""
    from .services.rollups import rebuild

    result = rebuild()
    click.echo(f"rollups rebuilt: {result['buckets']} 15-minute buckets, {result['tracks']} tracks")


@click.command("run-task")
@click.argument("task")
@with_appcontext
def run_task_command(task: str):
    """Run a scheduled task now (export_markdown, export_json, haiku, discogs_sync, ai_enrichment, ...)
    and record it."""
    from .jobs.tasks import run_task

    try:
        run = run_task(current_app._get_current_object(), task, "cli")
    except AimeError as error:  # unknown task, or a run already in progress
        raise click.ClickException(error.detail) from None
    click.echo(f"{run['task']} run {run['id']}: {run['status']}"
               + (f", wrote {run['output_file']}" if run["output_file"] else "")
               + (f" ({run['error']})" if run["error"] else ""))
    if run["status"] == "failed":
        raise SystemExit(1)


def register_commands(app: Flask) -> None:
    """Attach every command to the app's CLI."""
    for command in (token_command, demo_data_command, validate_command, import_command, backup_command,
                    export_history_command, restore_command,
                    lastfm_import_history_command, discogs_sync_command, rollups_rebuild_command,
                    run_task_command):
        app.cli.add_command(command)
    app.cli.light.add(import_command.name)  # it needs the database alone (AimeCommands)
