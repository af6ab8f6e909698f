"""gunicorn's access log under the shipped config (aime/server/access_log.py): an access line's fields are worked out
only when the line is written, and the line is the one gunicorn writes when it is."""
from __future__ import annotations

import logging
import runpy
import uuid
from datetime import timedelta

from gunicorn.config import Config as GunicornConfig
from gunicorn.glogging import Logger

from aime.server.access_log import AccessLogger
from tests.support.servers import ROOT


class _Response:
    status, status_code, sent, headers, response_length = "200 OK", 200, 16, [("X-Request-ID", "r-1")], 16


class _Request:
    headers = [("USER-AGENT", "test")]


ENVIRON = {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "GET", "RAW_URI": "/a", "PATH_INFO": "/a",
           "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_USER_AGENT": "test"}


def _logger(monkeypatch, level: int) -> tuple[AccessLogger, list[logging.LogRecord], list[int]]:
    """The shipped config's logger class on a config with a logconfig_dict (not applied: this process's logging
    stays as it is), its access lines going to a list at `level`; and the count of atoms worked out."""
    monkeypatch.setattr(Logger, "setup", lambda self, cfg: setattr(self, "cfg", cfg))
    config = GunicornConfig()
    config.set("logconfig_dict", {"version": 1})
    config.set("logger_class", AccessLogger)
    logger = config.logger_class(config)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.access_log = logging.getLogger(f"test.gunicorn.access.{uuid.uuid4().hex}")
    logger.access_log.propagate = False
    logger.access_log.addHandler(handler)
    logger.access_log.setLevel(level)
    counted: list[int] = []
    atoms = Logger.atoms
    monkeypatch.setattr(Logger, "atoms", lambda self, *args: counted.append(1) or atoms(self, *args))
    return logger, records, counted


def test_the_shipped_config_names_the_access_logger(monkeypatch, tmp_path):
    monkeypatch.setenv("AIME_DATA_DIR", str(tmp_path))
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = GunicornConfig()
    config.set("logger_class", settings["logger_class"])
    assert config.logger_class is AccessLogger and issubclass(AccessLogger, Logger)


def test_an_access_line_the_logger_would_drop_is_not_worked_out(monkeypatch):
    logger, records, counted = _logger(monkeypatch, logging.WARNING)
    logger.access(_Response(), _Request(), ENVIRON, timedelta(milliseconds=1))
    assert (records, counted) == ([], [])


def test_an_access_line_the_logger_writes_is_gunicorns(monkeypatch):
    logger, records, counted = _logger(monkeypatch, logging.INFO)
    logger.access(_Response(), _Request(), ENVIRON, timedelta(milliseconds=1))
    assert counted == [1] and len(records) == 1
    when = records[0].args["t"]  # gunicorn's own [date] of the line
    assert records[0].getMessage() == f'127.0.0.1 - - {when} "GET /a HTTP/1.1" 200 16 "-" "test"'

