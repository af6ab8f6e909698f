"""Gunicorn settings, all from the environment (see docs/deploy.md)."""
import os

from aime.config import Config, ConfigError

try:
    _config = Config.from_env()
except ConfigError as error:  # one clear line naming the variable, then stop
    raise SystemExit(f"aime: configuration error: {error}") from None

bind = _config.bind
# gthread (it drains on SIGTERM; sync workers reset queued connections) with a minimum pace for slow
# clients, so that one trickling its request cannot hold a thread: see aime/server/worker.py.
worker_class = "aime.server.worker.ThreadWorker"
workers = _config.workers
threads = _config.threads
timeout = _config.timeout
graceful_timeout = _config.graceful_timeout
keepalive = _config.keepalive
# The app writes one JSON access line per request itself (aime.access: ISO time, request id,
# duration, scrubbed); gunicorn's own access log would only duplicate it. AIME_GUNICORN_ACCESS_LOG=-
# turns it back on.
accesslog = os.environ.get("AIME_GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("AIME_LOG_LEVEL", "info").lower()
# gunicorn's own lines (boot, signals, worker exits) as JSON too, in the shape of the app's lines.
_json_formatter = {
    "()": "pythonjsonlogger.json.JsonFormatter",
    "fmt": "{asctime}{levelname}{name}{message}",
    "style": "{",
    "rename_fields": {"asctime": "timestamp", "levelname": "level", "name": "logger"},
    "datefmt": "%Y-%m-%dT%H:%M:%S%z",
}
# A logconfig_dict alone switches gunicorn's access log on (whatever `accesslog` says): its logger gets a
# null handler at WARNING unless AIME_GUNICORN_ACCESS_LOG asks for it, so each request is logged once, by
# the app. When asked for, its line (already JSON, access_log_format below) is written as is, not wrapped.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": _json_formatter, "as_is": {"format": "%(message)s"}},
    # gunicorn's defaults' names, so its own root entry ("console") stays valid.
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        "access_console": {"class": "logging.StreamHandler", "formatter": "as_is", "stream": "ext://sys.stdout"},
        "nowhere": {"class": "logging.NullHandler"},
    },
    "root": {"level": "WARNING", "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO" if accesslog else "WARNING",
                            "handlers": ["access_console" if accesslog else "nowhere"], "propagate": False},
    },
}
# gunicorn's logger, except that an access line's fields are worked out only when the line is written.
logger_class = "aime.server.access_log.AccessLogger"
access_log_format = (
    '{"timestamp": "%(t)s", "level": "INFO", "logger": "gunicorn.access", "remote": "%(h)s", '
    '"method": "%(m)s", "path": "%(U)s", "status": %(s)s, "bytes": "%(B)s", "duration_ms": %(M)s, '
    '"request_id": "%({x-request-id}o)s", "user_agent": "%(a)s"}'
)

# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl): two
# instances would fight over it, and stopping it costs seconds at every shutdown. AIME does not use it.
control_socket_disable = True

# Hooks (the work itself lives in aime/server/hooks.py and aime/observability/metrics_dir.py). Imports happen
# inside the hooks: aime.server.hooks imports prometheus_client (through the metrics), which must first be
# imported after on_starting has set PROMETHEUS_MULTIPROC_DIR.
_metrics_dir_created = None
_shared_answers_dir = None


def on_starting(server):
    """Master, before anything else: glibc's malloc settings, an empty shared metrics directory and the service
    start time; a directory where the workers share the answers they build (aime/server/shared_answers.py)."""
    global _metrics_dir_created, _shared_answers_dir
    from aime.observability.metrics_dir import prepare_metrics_dir
    from aime.server.allocator import PAGE_SLOTS, share_sqlite_page_cache, tune_malloc
    from aime.server.shared_answers import prepare_shared_answers

    # Before any worker is forked: they inherit glibc's settings (two arenas, a fixed trim threshold).
    tuned = tune_malloc(os.environ)
    if tuned:
        server.log.info("glibc malloc: %s", ", ".join(f"{name}={value}" for name, value in tuned.items()))
    if _config.is_sqlite:  # before anything opens the database (when_ready's validation): one buffer of page slots
        slot = share_sqlite_page_cache()
        server.log.info("SQLite page cache: %d slots of %d bytes", PAGE_SLOTS if slot else 0, slot)
    path, created = prepare_metrics_dir()
    _metrics_dir_created = path if created else None
    server.log.info("metrics directory: %s", path)
    _shared_answers_dir = prepare_shared_answers()


def when_ready(server):
    """Master, before forking workers: validate startup, or stop with a clear message."""
    from aime.server.hooks import FAILURE_REASON, validate_before_serving

    if not validate_before_serving(_config, server.log):
        server.halt(reason=FAILURE_REASON, exit_status=1)


def post_worker_init(worker):
    """Worker, app loaded: start its background parts; SIGTERM flips /ready to 503 at once."""
    from aime.server.hooks import worker_started

    worker_started(worker, _config.drain_seconds)


def on_reload(server):
    """Master, SIGHUP: the workers about to be replaced stop without turning /ready to 503."""
    from aime.server.hooks import note_reload

    note_reload(server)


def worker_exit(server, worker):
    """Worker, on its way out: stop its background parts."""
    from aime.server.hooks import worker_stopping

    worker_stopping(worker)


def child_exit(server, worker):
    """Master, a worker died: drop its live gauges (its counters still count)."""
    from aime.server.hooks import worker_exited

    worker_exited(worker.pid)


def worker_abort(worker):
    """Worker, SIGABRT on timeout: log the stuck request's stack and report it to Sentry."""
    from aime.server.hooks import report_stuck_worker

    report_stuck_worker(worker)


def on_exit(server):
    """Master, last thing: remove the metrics directory if we made it, and the shared answers."""
    from aime.observability.metrics_dir import remove_metrics_dir
    from aime.server.shared_answers import remove_shared_answers

    remove_metrics_dir(_metrics_dir_created)
    remove_shared_answers(_shared_answers_dir)
