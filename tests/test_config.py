"""Configuration: defaults, and one clear line naming the variable for each bad value."""
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from aime.config import Config, ConfigError, attach_config, config_of, current_config

ROOT = Path(__file__).resolve().parents[1]


def test_defaults(tmp_path):
    config = Config.from_env({"AIME_DATA_DIR": str(tmp_path)})
    assert config.data_dir == tmp_path.resolve()
    assert config.database_url == f"sqlite:///{tmp_path.resolve()}/musique.db"
    assert (config.timezone, config.bind, config.timeout, config.graceful_timeout, config.keepalive) == (
        "UTC", "127.0.0.1:8000", 75, 30, 75)
    assert (config.max_body_mb, config.max_upload_mb, config.private, config.cors_origins) == (1, 1024, False, [])
    assert (config.client_min_rate, config.import_lease_seconds) == (500, 60.0)


def test_plain_postgresql_url_gets_the_psycopg3_driver():
    config = Config.from_env({"DATABASE_URL": "postgresql://u:p@db/aime"})
    assert config.database_url == "postgresql+psycopg://u:p@db/aime"


@pytest.mark.parametrize("name, value, words", [
    ("DATABASE_URL", "not a url", "DATABASE_URL"),
    ("DATABASE_URL", "mysql://u@h/db", "DATABASE_URL"),
    ("AIME_TIMEZONE", "Mars/Olympus", "AIME_TIMEZONE"),
    ("AIME_BIND", "127.0.0.1:http", "AIME_BIND"),
    ("AIME_WORKERS", "two", "AIME_WORKERS"),
    ("AIME_TIMEOUT", "0", "AIME_TIMEOUT"),
    ("AIME_CLIENT_MIN_RATE", "-1", "AIME_CLIENT_MIN_RATE"),
    ("AIME_IMPORT_LEASE_SECONDS", "0", "AIME_IMPORT_LEASE_SECONDS"),
    ("AIME_PRIVATE", "perhaps", "AIME_PRIVATE"),
    ("AIME_HEALTH_CHECK_TIMEOUT", "fast", "AIME_HEALTH_CHECK_TIMEOUT"),
    ("AIME_CORS_ORIGINS", "example.org", "AIME_CORS_ORIGINS"),
    ("SENTRY_DSN", "nonsense", "SENTRY_DSN"),
    ("AIME_USER_NAME", "alice/../bob", "AIME_USER_NAME"),
    ("AIME_USER_NAME", "two words", "AIME_USER_NAME"),
])
def test_bad_values_name_the_variable(name, value, words):
    with pytest.raises(ConfigError) as caught:
        Config.from_env({name: value})
    assert words in str(caught.value)


def test_fractional_health_timeout_is_allowed():
    assert Config.from_env({"AIME_HEALTH_CHECK_TIMEOUT": "0.25"}).health_check_timeout == 0.25


def test_bad_value_stops_wsgi_import_with_one_clear_line(tmp_path):
    env = {"AIME_DATA_DIR": str(tmp_path), "AIME_TIMEZONE": "Nowhere/Land", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "AIME_TIMEZONE='Nowhere/Land' is not a known IANA time zone" in result.stderr


def test_importing_the_package_does_no_io(tmp_path):
    """Nothing at import time: importing every module creates no file and starts no thread."""
    code = ("import threading, pkgutil, importlib, aime\n"
            "before = threading.active_count()\n"
            "for m in pkgutil.walk_packages(aime.__path__, 'aime.'):\n"
            "    importlib.import_module(m.name)\n"
            "assert threading.active_count() == before, threading.enumerate()\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            env={"AIME_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "data").exists()


def test_one_accessor_reaches_the_apps_config(tmp_path):
    first, second = Flask("first"), Flask("second")
    one = Config.from_env({"AIME_DATA_DIR": str(tmp_path / "one")})
    two = Config.from_env({"AIME_DATA_DIR": str(tmp_path / "two")})
    attach_config(first, one)
    attach_config(second, two)
    assert (config_of(first), config_of(second)) == (one, two)
    with second.app_context():
        assert current_config() is two


def test_nothing_in_the_package_reads_the_config_key_but_the_accessor():
    readers = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "aime").rglob("*.py")
                     if '"aime.config"' in path.read_text() or "_config():" in path.read_text())
    assert readers == ["aime/config.py"]
