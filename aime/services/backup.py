"""Backups: SQLite through its online backup API (consistent while the service runs), verified.

PostgreSQL is backed up with its own tool, pg_dump; backup_advice() says exactly how.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from ..config import Config
from ..errors import AimeError, InvalidInput, NotConfigured


class BackupFailed(AimeError):
    """The copy was made but is not a sound database (or could not be made)."""

    status = 500
    code = "backup-failed"
    title = "Backup failed"


def default_destination(config: Config, now: float | None = None) -> Path:
    """<data dir>/backups/musique-YYYYmmdd-HHMMSS.db (UTC)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(time.time() if now is None else now))
    return config.data_dir / "backups" / f"musique-{stamp}.db"


def sqlite_path(config: Config) -> Path:
    """The SQLite database file of the configuration (NotConfigured for server databases)."""
    if not config.is_sqlite:
        raise NotConfigured(backup_advice(config))
    database = make_url(config.database_url).database
    if not database or database == ":memory:":
        raise InvalidInput("An in-memory SQLite database cannot be backed up.")
    return Path(database)


def backup_sqlite(config: Config, destination: Path | str | None = None) -> dict:
    """Copy the live SQLite database (writers keep working), check it, then publish it.

    The copy is written next to the destination under a temporary name and renamed only once
    `PRAGMA integrity_check` says ok, so a file at the destination is always a sound backup.
    """
    source_path = sqlite_path(config)
    if not source_path.is_file():
        raise InvalidInput(f"There is no database at {source_path} yet (run `flask --app aime db upgrade`).")
    destination = Path(destination) if destination else default_destination(config)
    if destination.exists():
        raise InvalidInput(f"{destination} already exists; choose another --output.")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    started = time.perf_counter()
    try:
        _copy(source_path, partial)
        integrity = _integrity(partial)
        if integrity != "ok":
            raise BackupFailed(f"The copy failed PRAGMA integrity_check: {integrity}")
        os.replace(partial, destination)
    except sqlite3.Error as error:
        raise BackupFailed(f"SQLite could not copy {source_path}: {error}") from error
    finally:
        partial.unlink(missing_ok=True)
    return {"source": str(source_path), "path": str(destination), "bytes": destination.stat().st_size,
            "integrity": integrity, "seconds": round(time.perf_counter() - started, 3)}


def _copy(source_path: Path, target: Path) -> None:
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    try:
        copy = sqlite3.connect(target)
        try:
            # One step: in WAL mode this read transaction does not block the service's writers, and a
            # stepwise copy would restart from scratch each time another connection writes.
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            copy.commit()
        finally:
            copy.close()
    finally:
        source.close()
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())


def _integrity(path: Path) -> str:
    check = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = [row[0] for row in check.execute("PRAGMA integrity_check")]
    finally:
        check.close()
    return "ok" if rows == ["ok"] else "; ".join(rows[:5])


def backup_advice(config: Config) -> str:
    """How to back up a PostgreSQL database: the pg_dump command (password never printed)."""
    url = make_url(config.database_url)
    # Rebuilt without the password (URL.set(password=None) would keep it).
    target = URL.create("postgresql", username=url.username, host=url.host, port=url.port,
                        database=url.database, query=url.query).render_as_string(hide_password=False)
    stamp = time.strftime("%Y%m%d", time.gmtime())
    return (f"AIME does not copy a PostgreSQL database itself; use pg_dump (consistent while AIME runs):\n"
            f"  pg_dump --format=custom --file=aime-{stamp}.dump '{target}'\n"
            f"(give the password with PGPASSWORD or ~/.pgpass; restore with pg_restore --clean --dbname=...)")
