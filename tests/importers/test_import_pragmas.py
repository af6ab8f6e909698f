"""`flask import` tunes its own SQLite connections (page cache, checkpoints); a server's keep the defaults."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from aime.database import run_write
from aime.extensions import db
from aime.jobs import imports
from aime.services.importers.pipeline import IMPORT_PRAGMAS


def _pragmas() -> dict:
    return {name: db.session.execute(text(f"PRAGMA {name}")).scalar() for name in IMPORT_PRAGMAS}


@pytest.fixture
def sqlite_only(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite pragmas")


def _import(app, path: Path, own_process: bool) -> tuple[dict, dict]:
    with app.app_context():
        db.engine.dispose()  # fresh connections: what an earlier test set does not count
        report = imports.run_job(imports.create_file_job(path, None), own_process=own_process)
        return report, run_write(_pragmas)


def test_the_cli_import_tunes_its_connections(app, sqlite_only, samples):
    report, pragmas = _import(app, samples / "recenttracks-alice-1700000000.csv", True)
    assert report["status"] == "done"
    assert pragmas == {"cache_size": -65536, "wal_autocheckpoint": 10000}


def test_an_import_in_a_server_thread_keeps_the_defaults(app, sqlite_only, samples):
    report, pragmas = _import(app, samples / "recenttracks-alice-1700000000.csv", False)
    assert report["status"] == "done"
    assert pragmas == {"cache_size": -2000, "wal_autocheckpoint": 1000}
