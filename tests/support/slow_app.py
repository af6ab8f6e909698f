"""WSGI module for lifecycle tests: the real AIME app plus /slow and /pid.

Run by gunicorn with the shipped gunicorn.conf.py as `tests.support.slow_app:app`; the product code has
no test-only branch. /slow?seconds=N&tag=T writes a marker file named T into $AIME_DATA_DIR/slow-started
when it begins (so a test can poll until every request is really in flight), sleeps N seconds and
answers {"slept": N, "tag": T, "pid": <worker pid>}. /pid answers the worker's pid (to see a reload).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from flask import jsonify, request

from aime import create_app

app = create_app()


@app.get("/slow")
def slow():
    """Sleep for ?seconds=N (at most 60) and say so."""
    seconds = min(float(request.args.get("seconds", "1")), 60.0)
    tag = request.args.get("tag", "")
    if tag:
        started = Path(app.extensions["aime.config"].data_dir) / "slow-started"
        started.mkdir(parents=True, exist_ok=True)
        (started / tag).touch()
    time.sleep(seconds)
    return jsonify(slept=seconds, tag=tag, pid=os.getpid())


@app.get("/pid")
def pid():
    """The pid of the worker that answered."""
    return jsonify(pid=os.getpid())
