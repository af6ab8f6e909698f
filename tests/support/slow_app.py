"""WSGI module for lifecycle tests: the real AIME app plus /slow and /pid.

Run by gunicorn with the shipped gunicorn.conf.py as `tests.support.slow_app:app`; the product code has
no test-only branch. /slow?seconds=N&tag=T writes a marker file named T into $AIME_DATA_DIR/slow-started
when it begins (so a test can poll until every request is really in flight), sleeps N seconds and
answers {"slept": N, "tag": T, "pid": <worker pid>}. /pid answers the worker's pid (to see a reload).
/settled says whether the worker's ORM mappers are configured, its startup objects frozen (out of the
garbage collector's reach) and its ETags' code fingerprint taken before any ORM query or conditional GET.
/slow-query runs one SQL statement that takes minutes (SQLite: a recursive count; PostgreSQL: pg_sleep)
unless the request deadline stops it.
/probe/answered-by is a conditional GET (kept per data version, like every hot read) whose answer names the worker
that built it; every response says which worker sent it (`X-Served-By`), so a test sees which worker built the
answer another one served.
"""
from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import sqlalchemy as sa
from flask import jsonify, request
from flask_smorest import Blueprint

from aime import create_app
from aime.api.conditional import conditional_get
from aime.extensions import db
from aime.models import Listen, Track
from tests.support.slow_sql import SLOW_SQL

app = create_app()
probe = Blueprint("probe", __name__)


@probe.route("/answered-by")
@conditional_get(probe)
def answered_by():
    """The pid of the worker that built this answer (kept per data version, as the statistics are)."""
    return jsonify(built_by=os.getpid())


app.extensions["aime.api"].register_blueprint(probe, url_prefix="/probe")


@app.after_request
def served_by(response):
    response.headers["X-Served-By"] = str(os.getpid())
    return response


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
                   frozen=gc.get_freeze_count() > 0, fingerprint="aime.etag_salt" in app.extensions, pid=os.getpid())
