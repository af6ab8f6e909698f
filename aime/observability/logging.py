"""One JSON object per log line, with the request id, and no secrets."""
from __future__ import annotations

import contextlib
import logging
import re
import sys

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy.engine import make_url

from ..config import Config

_HANDLER_NAME = "aime-json"

# Credentials that must never reach a log line: URL passwords, bearer tokens, key=value secrets.
_SCRUBBERS = [
    (re.compile(r"(?P<pre>[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+(?=@)", re.I), r"\g<pre>***"),
    (re.compile(r"(?P<pre>\b(?:bearer|token)\s+)[A-Za-z0-9._~+/=-]{8,}", re.I), r"\g<pre>***"),
    (re.compile(r"(?P<pre>\b(?:api_key|apikey|token|password|secret|key)=)[^&\s]+", re.I), r"\g<pre>***"),
]


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask credentials (URL passwords, tokens, known secret values) in a string."""
    for pattern, replacement in _SCRUBBERS:
        text = pattern.sub(replacement, text)
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
    return text


class RequestContextFilter(logging.Filter):
    """Adds request_id, method and path to records logged during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = getattr(g, "request_id", None)
            record.method = request.method
            record.path = request.path
        return True


class ScrubbingJsonFormatter(JsonFormatter):
    """JSON formatter that masks credentials in the final line."""

    def __init__(self, *args, secrets: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record), self.secrets)


def secret_values(config: Config) -> tuple[str, ...]:
    """Configured secret values that must be masked wherever they appear."""
    values = [config.api_token, config.secret_key, config.lastfm_api_key, config.discogs_token,
              config.ai_api_key, config.spotify_client_secret]
    with contextlib.suppress(Exception):  # the URL was validated already; be safe anyway
        values.append(make_url(config.database_url).password)
    return tuple(str(v) for v in values if v)


def build_handler(config: Config) -> logging.Handler:
    """A stderr handler writing scrubbed JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(ScrubbingJsonFormatter(
        "{asctime}{levelname}{name}{message}", style="{",
        rename_fields={"asctime": "timestamp", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z", secrets=secret_values(config)))
    handler.addFilter(RequestContextFilter())
    return handler


def init_logging(app: Flask, config: Config) -> None:
    """Send the `aime` logger (which is also app.logger) through one scrubbing JSON handler."""
    logger = logging.getLogger("aime")
    logger.setLevel(config.log_level)
    logger.removeHandler(default_handler)
    for existing in list(logger.handlers):
        if existing.get_name() == _HANDLER_NAME:
            logger.removeHandler(existing)
    logger.addHandler(build_handler(config))
    logger.propagate = False
    # py-healthcheck logs every failing run at ERROR through the root logger (unscrubbed, plain text);
    # AIME's registry logs each change of status itself, so only its critical lines are let through.
    logging.getLogger("healthcheck").setLevel(logging.CRITICAL)
