"""Restore a SQLite backup (made by `flask backup`): verified before anything is touched, migrated after.

Order: check the backup (a SQLite file, PRAGMA integrity_check ok, a schema revision this AIME knows), refuse
a database that already holds data unless forced, copy the backup next to the database under a temporary
name, replace the database with it (stale -wal/-shm files removed first: SQLite would replay them into the
restored file), migrate it to head, and check it again. PostgreSQL is restored with pg_restore (advice()).
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy.engine import URL, make_url

from ..config import Config
from ..errors import AimeError, InvalidInput, NotConfigured
from ..extensions import db
from . import data_version
from .backup import _copy, _integrity, sqlite_path

DATA_TABLES = ("listens", "tracks", "albums", "artists", "playlists", "imports")


class RestoreRefused(AimeError):
    """The restore would destroy data (a database in use) and --force was not given."""

    status = 409
    code = "restore-refused"
    title = "Restore refused"


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())


def inspect_backup(path: Path) -> dict:
    """Integrity, schema revision and row counts of a backup file; InvalidInput when it cannot be restored."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file.")
    try:
        integrity = _integrity(path)
        revision = _revision(path)
        counts = table_counts(path)
    except sqlite3.DatabaseError as error:
        raise InvalidInput(f"{path} is not a readable SQLite database ({error}).") from None
    if integrity != "ok":
        raise InvalidInput(f"{path} fails PRAGMA integrity_check: {integrity}")
    if revision is None:
        raise InvalidInput(f"{path} is not an AIME database (it has no schema revision).")
    scripts = _scripts()
    try:
        known = scripts.get_revision(revision)
    except Exception:  # noqa: BLE001 - alembic raises several kinds for an unknown id
        known = None
    if known is None:
        raise InvalidInput(f"{path} has schema revision {revision!r}, which this AIME does not know (a newer "
                           f"version made it?); upgrade AIME before restoring it.")
    return {"path": str(path), "integrity": integrity, "revision": revision, "head": scripts.get_current_head(),
            "counts": counts}


def _revision(path: Path) -> str | None:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if not connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
                                  ).fetchone():
            return None
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    finally:
        connection.close()


def table_counts(path: Path) -> dict[str, int]:
    """Rows in every table of a SQLite file (alembic_version excluded)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name != 'alembic_version' ORDER BY name")]
        return {name: connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}
    finally:
        connection.close()


def _holds_data(target: Path) -> bool:
    if not target.is_file() or target.stat().st_size == 0:
        return False
    try:
        counts = table_counts(target)
    except sqlite3.DatabaseError:
        return True  # something is there that is not ours to discard
    return any(counts.get(table) for table in DATA_TABLES)


def restore_sqlite(config: Config, backup: Path | str, *, force: bool = False) -> dict:
    """Replace the configured SQLite database with a verified backup, then migrate it to head."""
    backup = Path(backup)
    target = sqlite_path(config)
    found = inspect_backup(backup)
    if backup.resolve() == target.resolve():
        raise InvalidInput("The backup is the database itself.")
    if _holds_data(target) and not force:
        raise RestoreRefused(f"{target} already holds data. Stop AIME, then run the restore again with --force "
                             f"to replace it (make a backup of it first if you may need it).")
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".restoring")
    db.session.remove()
    db.engine.dispose()  # no pooled connection keeps the old file open
    try:
        _copy(backup, partial)
        if _integrity(partial) != "ok":
            raise InvalidInput("The copy of the backup failed PRAGMA integrity_check; nothing was replaced.")
        # The restored data and versions taken after the backup may meet again: only a new epoch tells them apart.
        data_version.renew_epoch(partial)
        for suffix in ("-wal", "-shm"):  # the old database's log would be replayed into the restored file
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    upgrade()
    db.engine.dispose()
    after = inspect_backup(target)
    return {"backup": str(backup), "database": str(target), "from_revision": found["revision"],
            "revision": after["revision"], "integrity": after["integrity"], "counts": after["counts"],
            "seconds": round(time.perf_counter() - started, 3)}


def advice(config: Config, backup: str) -> str:
    """How to restore a PostgreSQL database from a pg_dump file (password never printed)."""
    url = make_url(config.database_url)
    target = URL.create("postgresql", username=url.username, host=url.host, port=url.port,
                        database=url.database, query=url.query).render_as_string(hide_password=False)
    return (f"AIME does not restore a PostgreSQL database itself; stop AIME, then use pg_restore:\n"
            f"  pg_restore --clean --if-exists --no-owner --dbname='{target}' {backup}\n"
            f"  flask --app aime db upgrade   # an older backup is migrated to this version's schema\n"
            f"(give the password with PGPASSWORD or ~/.pgpass)")


def restore(config: Config, backup: str, *, force: bool = False) -> dict:
    """Restore the configured database from `backup` (SQLite), or NotConfigured with pg_restore advice."""
    if not config.is_sqlite:
        raise NotConfigured(advice(config, backup))
    return restore_sqlite(config, backup, force=force)
