"""WSGI module for lifecycle tests: the real AIME app plus /slow and /pid.

Run by gunicorn with the shipped gunicorn.conf.py as `tests.support.slow_app:app`; the product code has
no test-only branch. /slow?seconds=N&tag=T writes a marker file named T into $AIME_DATA_DIR/slow-started
when it begins (so a test can poll until every request is really in flight), sleeps N seconds and
answers {"slept": N, "tag": T, "pid": <worker pid>}. /pid answers the worker's pid (to see a reload).
/settled says whether the worker's ORM mappers are configured and its startup objects frozen (out of the
garbage collector's reach) before any ORM query.
/slow-query runs one SQL statement that takes minutes (SQLite: a recursive count; PostgreSQL: pg_sleep)
unless the request deadline stops it.
"""
from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import sqlalchemy as sa
from flask import jsonify, request

from aime import create_app
from aime.extensions import db
from aime.models import Listen, Track
from tests.support.slow_sql import SLOW_SQL

app = create_app()


@app.get("/slow")
def slow():
    """Sleep for ?seconds=N (at most 60) and say so."""
    seconds = min(float(request.args.get("seconds", "1")), 60.0)
    tag = request.args.get("tag", "")
    if tag:
        started = Path(app.extensions["aime.config"].data_dir) / "slow-started"
        started.mkdir(parents=True, exist_ok=True)
        # The marker names the worker that took the request (a test kills one in flight); renamed into place, so
        # a marker that exists is complete.
        (started / f".{tag}.part").write_text(str(os.getpid()))
        os.replace(started / f".{tag}.part", started / tag)
    time.sleep(seconds)
    return jsonify(slept=seconds, tag=tag, pid=os.getpid())


@app.get("/pid")
def pid():
    """The pid of the worker that answered."""
    return jsonify(pid=os.getpid())


@app.get("/slow-query")
def slow_query():
    """One statement that runs for minutes unless something stops it."""
    db.session.execute(sa.text(SLOW_SQL[db.engine.url.get_backend_name()]))
    return jsonify(finished=True)


@app.get("/settled")
def settled():
    """Whether this worker configured its mappers and froze its startup objects before serving (no ORM here)."""
    return jsonify(mappers=sa.inspect(Track).configured and sa.inspect(Listen).configured,
                   frozen=gc.get_freeze_count() > 0, pid=os.getpid())
