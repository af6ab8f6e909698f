"""Gunicorn settings, all from the environment (see docs/deploy.md)."""
import os

from aime.config import Config, ConfigError

try:
    _config = Config.from_env()
except ConfigError as error:  # one clear line naming the variable, then stop
    raise SystemExit(f"aime: configuration error: {error}") from None

bind = _config.bind
worker_class = "gthread"  # gthread drains on SIGTERM; sync workers reset queued connections
workers = _config.workers
threads = _config.threads
timeout = _config.timeout
graceful_timeout = _config.graceful_timeout
keepalive = _config.keepalive
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("AIME_LOG_LEVEL", "info").lower()
access_log_format = (
    '{"timestamp": "%(t)s", "level": "INFO", "logger": "gunicorn.access", "remote": "%(h)s", '
    '"method": "%(m)s", "path": "%(U)s", "status": %(s)s, "bytes": "%(B)s", "duration_ms": %(M)s, '
    '"request_id": "%({x-request-id}o)s", "user_agent": "%(a)s"}'
)
