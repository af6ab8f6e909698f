"""What gunicorn.conf.py's hooks do: startup validation, draining, reloads, stuck workers (the metrics directory:
aime/observability/metrics_dir.py)."""
from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
import time
import traceback

import sentry_sdk
from prometheus_client import multiprocess
from sqlalchemy.orm import configure_mappers

from .. import background
from ..health.readiness import VALIDATED_ENV, start_draining
from ..health.registry import get_registry
from ..health.validation import passed_all, render
from ..observability.metrics_dir import METRICS_DIR_ENV
from ..observability.requests import inflight_requests
from .startup import validate_environment

log = logging.getLogger("aime.server")
RELOAD_MARK = "replaced-workers"  # in the metrics dir: "<time> <pid> <pid> ..." written by the master on SIGHUP
RELOAD_MARK_SECONDS = 300  # a mark older than this is stale (a later stop must drain even if a pid was reused)


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges; its counters stay (they are part of the service's totals)."""
    if os.environ.get(METRICS_DIR_ENV):
        multiprocess.mark_process_dead(pid)


def validate_before_serving(config, server_log) -> bool:
    """Run the startup validation in the master; log every line; True when the server may start."""
    steps = validate_environment(wait_seconds=config.startup_db_wait_seconds)
    for line in render(steps).splitlines():
        (server_log.info if not line.startswith("FAIL") else server_log.error)("aime validate: %s", line)
    if passed_all(steps):
        os.environ[VALIDATED_ENV] = "1"  # inherited by every worker forked from now on
        return True
    return False


FAILURE_REASON = (
    "AIME startup validation failed (see the FAIL lines above); fix them, or run "
    "`flask --app aime validate` for details. Not serving errors instead."
)


def flask_app(worker):
    """The Flask app a worker serves, or None when it is wrapped in something else."""
    app = getattr(worker, "wsgi", None)
    return app if hasattr(app, "extensions") else None


def worker_started(worker, drain_seconds: float) -> None:
    """Start the app's background parts and make SIGTERM flip readiness before the worker stops."""
    app = flask_app(worker)
    if app is None:
        return
    # The handler first: a SIGTERM arriving while background parts start must drain too.
    _install_drain_handler(worker, app, drain_seconds)
    background.start(app)
    know_health_before_serving(app)
    settle_before_serving(app)  # after: what the first checks built (Alembic's script directory, ...) is frozen too
    log.info("worker %s ready (SIGTERM: /ready turns 503, then %.1fs of draining)", worker.pid, drain_seconds)


def settle_before_serving(app) -> None:
    """Pay a worker's one-time costs before its first request instead of inside one, under load.

    The ORM's mappers are configured at the first ORM query of a process (~50-100 ms of CPU at 1,000,000 plays,
    paid by whichever request comes first, while the worker's other threads wait for the GIL). And every object
    built so far (the app, its modules, SQLAlchemy's and marshmallow's structures: ~140,000) lives as long as the
    worker, yet a full collection of the cyclic garbage collector walks them all: 60-200 ms with the GIL held, a
    stall of every connection of the worker, a few times per worker under load (docs/benchmarks.md, "SQLite read
    p99"). Frozen, they are left out of every later collection; objects made afterwards are collected as before.
    The ETags' code fingerprint (a hash of AIME's ~200 source files, ~1 MB read: ~5 ms of CPU, 60 ms of wall on a
    loaded machine) is taken here too, not in the worker's first conditional GET.
    """
    from ..api.conditional import code_fingerprint

    code_fingerprint(app)
    configure_mappers()
    gc.collect()
    gc.freeze()


def know_health_before_serving(app) -> None:
    """The worker's first health results, known before its first request (at most one check deadline, the checks
    running concurrently; the monitor started above is already running them): from then on a request that finds a
    refresh running always has a previous result to answer from after 0.2 s instead of waiting for the check."""
    try:
        get_registry(app).evaluate()
    except Exception:  # noqa: BLE001 - the monitor and the next request try again
        log.exception("the first health round failed")


def _install_drain_handler(worker, app, drain_seconds: float) -> None:
    stop_taking_requests = worker.handle_exit

    def on_sigterm(sig, frame):
        if _replaced_by_reload(worker.pid):
            # SIGHUP: new workers already serve; the instance is not stopping, so /ready stays 200 and
            # nothing needs the load balancer's notice: stop taking requests now and finish the ones held.
            stop_taking_requests(sig, frame)
            return
        start_draining(app)  # /ready answers 503 from this instant
        if drain_seconds > 0:
            # Keep serving while load balancers notice /ready; then the normal graceful stop.
            timer = threading.Timer(drain_seconds, stop_taking_requests, args=(sig, frame))
            timer.daemon = True
            timer.start()
        else:
            stop_taking_requests(sig, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn does: do not break in-flight system calls


def note_reload(server) -> None:
    """Master, on SIGHUP: name the workers about to be replaced, so that their SIGTERM does not mark the
    instance as draining (a reload keeps it in service; only a stop turns /ready to 503)."""
    directory = os.environ.get(METRICS_DIR_ENV)
    if directory:
        pids = " ".join(str(pid) for pid in server.WORKERS)
        with open(os.path.join(directory, RELOAD_MARK), "w", encoding="ascii") as mark:
            mark.write(f"{time.time():.3f} {pids}")


def _replaced_by_reload(pid: int) -> bool:
    directory = os.environ.get(METRICS_DIR_ENV)
    if not directory:
        return False
    try:
        with open(os.path.join(directory, RELOAD_MARK), encoding="ascii") as mark:
            written, *pids = mark.read().split()
        age = time.time() - float(written)
    except (OSError, ValueError):
        return False
    return age < RELOAD_MARK_SECONDS and str(pid) in pids


def worker_stopping(worker) -> None:
    """Stop the app's background parts."""
    app = flask_app(worker)
    if app is not None:
        background.stop(app)


def report_stuck_worker(worker) -> None:
    """On SIGABRT (worker timeout): log each in-flight request with its stack, report it to Sentry."""
    app = flask_app(worker)
    inflight = inflight_requests(app) if app is not None else {}
    frames = sys._current_frames()
    stuck = []
    for ident, info in inflight.items():
        frame = frames.get(ident)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "(no stack)"
        stuck.append({**info, "stack": stack})
        log.error("worker %s aborted while serving %s %s (request %s, %.1fs)\n%s", worker.pid, info["method"],
                  info["path"], info["request_id"], time.monotonic() - info["started"], stack,
                  extra={"request_id": info["request_id"], "method": info["method"], "path": info["path"]})
    if not stuck:
        log.error("worker %s aborted with no request in flight", worker.pid)
    with sentry_sdk.new_scope() as scope:
        scope.set_extra("stuck_requests", [{k: v for k, v in item.items() if k != "started"} for item in stuck])
        paths = ", ".join(f"{item['method']} {item['path']}" for item in stuck) or "no request in flight"
        sentry_sdk.capture_message(f"gunicorn worker timeout: {paths}", level="error")
    sentry_sdk.flush(timeout=2)
