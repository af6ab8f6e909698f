"""Configuration read from the environment (12-factor), typed and validated.

One way to reach it: code running in an app context (views, CLI commands, jobs, infrastructure such as
run_write) calls current_config(); code holding an app outside its context calls config_of(app). Services
take the Config they need as a parameter (generate_playlist(config, data)) instead of reading the app, so
they say what they depend on and tests pass a Config.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from collections.abc import Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


KEY = "aime.config"


class ConfigError(ValueError):
    """A configuration value is unusable; the message names the variable."""


def _text(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _int(env: Mapping[str, str], name: str, default: int, minimum: int | None = None) -> int:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = _text(env, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def _cookie_secure(env: Mapping[str, str]) -> str:
    """AIME_SESSION_COOKIE_SECURE: auto/always/never; the booleans it used to take still mean always/never."""
    raw = (_text(env, "AIME_SESSION_COOKIE_SECURE") or "auto").lower()
    value = {"1": "always", "true": "always", "yes": "always", "on": "always",
             "0": "never", "false": "never", "no": "never", "off": "never"}.get(raw, raw)
    if value not in ("auto", "always", "never"):
        raise ConfigError(f"AIME_SESSION_COOKIE_SECURE={raw!r} must be one of auto, always, never (or 1/0)")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = (_text(env, name) or default).lower()
    if raw not in choices:
        raise ConfigError(f"{name}={raw!r} must be one of {', '.join(choices)}")
    return raw


def _timezone(env: Mapping[str, str], name: str) -> str:
    raw = _text(env, name, "UTC")
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}={raw!r} is not a known IANA time zone (e.g. Europe/Zurich)") from None
    return raw


def _database_url(env: Mapping[str, str], data_dir: Path) -> str:
    raw = _text(env, "DATABASE_URL")
    if raw is None:
        return f"sqlite:///{(data_dir / 'musique.db').resolve()}"
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError("DATABASE_URL is not a valid database URL (e.g. postgresql+psycopg://user@host/db)") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"DATABASE_URL uses {url.get_backend_name()!r}; AIME supports sqlite and postgresql")
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        raw = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return raw


def _url(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    raw = _text(env, name, default)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL")
    return raw.rstrip("/")


def _origins(env: Mapping[str, str], name: str) -> list[str]:
    raw = _text(env, name, "")
    origins = [item.strip() for item in raw.split(",") if item.strip()]
    for origin in origins:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/")):
            raise ConfigError(f"{name} contains {origin!r}, which is not an origin like https://example.org")
    return origins


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = _text(env, name, "")
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(f"{name} contains {item!r}, which is not an IP address or network (e.g. 10.0.0.0/8)") \
                from None
    return items


def _sentry_dsn(env: Mapping[str, str], name: str) -> str | None:
    raw = _text(env, name)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.username or not parts.hostname:
        raise ConfigError(f"{name} is not a valid Sentry DSN (https://<key>@<host>/<project>)")
    return raw


@dataclass(frozen=True)
class Config:
    """Every setting AIME reads, already parsed and validated."""

    data_dir: Path
    database_url: str
    timezone: str = "UTC"
    api_token: str | None = None
    secret_key: str | None = None
    private: bool = False
    max_body_mb: int = 1
    max_upload_mb: int = 1024
    bind: str = "127.0.0.1:8000"
    workers: int = 2
    threads: int = 4
    io_threads: int = 64
    accept_pause_ms: float = 20.0
    timeout: int = 75
    graceful_timeout: int = 30
    keepalive: int = 75
    client_min_rate: int = 500
    cors_origins: list[str] = field(default_factory=list)
    sentry_dsn: str | None = None
    sentry_environment: str = "production"
    sentry_traces_sample_rate: float = 0.0
    log_level: str = "INFO"
    health_check_timeout: float = 2.0
    health_interval: float = 30.0
    health_success_ttl: float = 10.0
    health_failure_ttl: float = 3.0
    health_details: str = "token"
    disk_min_free_mb: int = 500
    error_rate_warn: float = 5.0
    drain_seconds: float = 0.0
    startup_db_wait_seconds: float = 30.0
    sentry_release: str | None = None
    dedup_window_seconds: int = 60
    user_name: str = "aime"
    lastfm_shared_secret: str | None = None
    lastfm_api_key: str | None = None
    lastfm_user: str | None = None
    lastfm_base_url: str = "https://ws.audioscrobbler.com/2.0"
    discogs_token: str | None = None
    discogs_user: str | None = None
    discogs_base_url: str = "https://api.discogs.com"
    lastfm_poll_seconds: float = 60.0
    discogs_sync_seconds: float = 86400.0
    http_timeout_seconds: float = 10.0
    spotify_client_id: str | None = None
    spotify_client_secret: str | None = None
    spotify_base_url: str = "https://api.spotify.com/v1"
    spotify_accounts_url: str = "https://accounts.spotify.com"
    musicbrainz_contact: str | None = None
    musicbrainz_base_url: str = "https://musicbrainz.org/ws/2"
    coverart_base_url: str = "https://coverartarchive.org"
    cover_max_mb: int = 10
    cover_thumb_px: int = 300
    ai_base_url: str | None = None
    ai_api_key: str | None = None
    ai_model: str = "gpt-4o-mini"
    ai_timeout: float = 30.0
    ai_attempts: int = 3
    ai_circuit_failures: int = 3
    ai_circuit_reset_seconds: float = 120.0
    music_library_path: str | None = None
    sqlite_busy_timeout_ms: int = 5000
    write_retry_seconds: float = 10.0
    service_lease_seconds: float = 15.0
    import_lease_seconds: float = 60.0
    db_write_stall_seconds: float = 120.0
    # Web sign-in cookie's Secure flag: "auto" (per request: https directly or via a trusted proxy), "always", "never".
    session_cookie_secure: str = "auto"
    # Security (issue 15): proxies whose X-Forwarded-For/-Proto are believed, failed authentications allowed
    # per client address and minute, paid AI calls allowed to anonymous clients per address and hour,
    # a token for Prometheus to scrape /metrics in private mode, and the longest date range one request may ask.
    trusted_proxies: tuple[str, ...] = ()
    auth_failures_per_minute: int = 5
    ai_anonymous_per_hour: int = 10
    metrics_token: str | None = None
    max_range_days: int = 9200

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Parse and validate the environment (or a mapping given by tests)."""
        env = os.environ if env is None else env
        data_dir = Path(_text(env, "AIME_DATA_DIR", "./data")).expanduser().resolve()
        bind = _text(env, "AIME_BIND", "127.0.0.1:8000")
        _check_bind(bind)
        return cls(
            data_dir=data_dir,
            database_url=_database_url(env, data_dir),
            timezone=_timezone(env, "AIME_TIMEZONE"),
            api_token=_text(env, "AIME_API_TOKEN"),
            secret_key=_text(env, "SECRET_KEY"),
            private=_bool(env, "AIME_PRIVATE"),
            max_body_mb=_int(env, "AIME_MAX_BODY_MB", 1, minimum=1),
            max_upload_mb=_int(env, "AIME_MAX_UPLOAD_MB", 1024, minimum=1),
            bind=bind,
            workers=_int(env, "AIME_WORKERS", 2, minimum=1),
            threads=_int(env, "AIME_THREADS", 4, minimum=1),
            # threads per worker that read requests and write answers; AIME_THREADS of them run the app at once
            io_threads=_int(env, "AIME_IO_THREADS", 64, minimum=1),
            # how long a worker holding AIME_THREADS connections leaves a new one to the others (aime/server/worker.py)
            accept_pause_ms=_float(env, "AIME_ACCEPT_PAUSE_MS", 20.0),
            timeout=_int(env, "AIME_TIMEOUT", 75, minimum=1),
            graceful_timeout=_int(env, "AIME_GRACEFUL_TIMEOUT", 30, minimum=1),
            keepalive=_int(env, "AIME_KEEPALIVE", 75, minimum=0),
            # bytes/s a client must keep up beyond AIME_TIMEOUT seconds of waiting (aime/server/worker.py); 0: no limit
            client_min_rate=_int(env, "AIME_CLIENT_MIN_RATE", 500, minimum=0),
            cors_origins=_origins(env, "AIME_CORS_ORIGINS"),
            sentry_dsn=_sentry_dsn(env, "SENTRY_DSN"),
            sentry_environment=_text(env, "SENTRY_ENVIRONMENT", "production"),
            sentry_traces_sample_rate=_float(env, "SENTRY_TRACES_SAMPLE_RATE", 0.0),
            log_level=_choice(env, "AIME_LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper(),
            health_check_timeout=_float(env, "AIME_HEALTH_CHECK_TIMEOUT", 2.0, minimum=0.01),
            health_interval=_float(env, "AIME_HEALTH_INTERVAL", 30.0, minimum=0.1),
            health_success_ttl=_float(env, "AIME_HEALTH_SUCCESS_TTL", 10.0),
            health_failure_ttl=_float(env, "AIME_HEALTH_FAILURE_TTL", 3.0),
            health_details=_choice(env, "AIME_HEALTH_DETAILS", "token", ("token", "always", "never")),
            disk_min_free_mb=_int(env, "AIME_DISK_MIN_FREE_MB", 500, minimum=0),
            error_rate_warn=_float(env, "AIME_ERROR_RATE_WARN", 5.0),
            drain_seconds=_float(env, "AIME_DRAIN_SECONDS", 0.0),
            startup_db_wait_seconds=_float(env, "AIME_STARTUP_DB_WAIT_SECONDS", 30.0),
            sentry_release=_text(env, "SENTRY_RELEASE"),
            dedup_window_seconds=_int(env, "AIME_DEDUP_WINDOW_SECONDS", 60, minimum=0),
            # the one user's name in the ListenBrainz and Last.fm compatible APIs (/1/user/<name>/..., /2.0/)
            user_name=_user_name(env, "AIME_USER_NAME"),
            lastfm_shared_secret=_text(env, "AIME_LASTFM_SHARED_SECRET"),
            lastfm_api_key=_text(env, "AIME_LASTFM_API_KEY"),
            lastfm_user=_text(env, "AIME_LASTFM_USER"),
            lastfm_base_url=_url(env, "AIME_LASTFM_BASE_URL", "https://ws.audioscrobbler.com/2.0"),
            discogs_token=_text(env, "AIME_DISCOGS_TOKEN"),
            discogs_user=_text(env, "AIME_DISCOGS_USER"),
            discogs_base_url=_url(env, "AIME_DISCOGS_BASE_URL", "https://api.discogs.com"),
            # Background sync: seconds between Last.fm polls and between Discogs collection syncs, and the
            # per-request timeout of the Last.fm/Discogs HTTP clients.
            lastfm_poll_seconds=_float(env, "AIME_LASTFM_POLL_SECONDS", 60.0, minimum=0.1),
            discogs_sync_seconds=_float(env, "AIME_DISCOGS_SYNC_SECONDS", 86400.0, minimum=1.0),
            http_timeout_seconds=_float(env, "AIME_HTTP_TIMEOUT_SECONDS", 10.0, minimum=0.05),
            spotify_client_id=_text(env, "AIME_SPOTIFY_CLIENT_ID"),
            spotify_client_secret=_text(env, "AIME_SPOTIFY_CLIENT_SECRET"),
            spotify_base_url=_url(env, "AIME_SPOTIFY_BASE_URL", "https://api.spotify.com/v1"),
            spotify_accounts_url=_url(env, "AIME_SPOTIFY_ACCOUNTS_URL", "https://accounts.spotify.com"),
            # MusicBrainz asks every client for a contact (e-mail or URL) in its User-Agent: setting it turns
            # MusicBrainz matching and the Cover Art Archive on.
            musicbrainz_contact=_text(env, "AIME_MUSICBRAINZ_CONTACT"),
            musicbrainz_base_url=_url(env, "AIME_MUSICBRAINZ_BASE_URL", "https://musicbrainz.org/ws/2"),
            coverart_base_url=_url(env, "AIME_COVERART_BASE_URL", "https://coverartarchive.org"),
            cover_max_mb=_int(env, "AIME_COVER_MAX_MB", 10, minimum=1),
            cover_thumb_px=_int(env, "AIME_COVER_THUMB_PX", 300, minimum=32),
            ai_base_url=_url(env, "AIME_AI_BASE_URL"),
            ai_api_key=_text(env, "AIME_AI_API_KEY"),
            ai_model=_text(env, "AIME_AI_MODEL", "gpt-4o-mini"),
            # AI calls: per-request timeout, attempts per call (retried with backoff), and the circuit breaker:
            # after ai_circuit_failures failed calls in a row the endpoint is left alone for the reset period.
            ai_timeout=_float(env, "AIME_AI_TIMEOUT", 30.0, minimum=0.05),
            ai_attempts=_int(env, "AIME_AI_ATTEMPTS", 3, minimum=1),
            ai_circuit_failures=_int(env, "AIME_AI_CIRCUIT_FAILURES", 3, minimum=1),
            ai_circuit_reset_seconds=_float(env, "AIME_AI_CIRCUIT_RESET_SECONDS", 120.0),
            music_library_path=_text(env, "AIME_MUSIC_LIBRARY_PATH"),
            sqlite_busy_timeout_ms=_int(env, "AIME_SQLITE_BUSY_TIMEOUT_MS", 5000, minimum=0),
            write_retry_seconds=_float(env, "AIME_WRITE_RETRY_SECONDS", 10.0),
            service_lease_seconds=_float(env, "AIME_SERVICE_LEASE_SECONDS", 15.0, minimum=0.3),
            # an import job whose process died is taken over this long after its last committed batch
            import_lease_seconds=_float(env, "AIME_IMPORT_LEASE_SECONDS", 60.0, minimum=1.0),
            # writes waiting this long with no commit anywhere: the database check fails (busy is not down)
            db_write_stall_seconds=_float(env, "AIME_DB_WRITE_STALL_SECONDS", 120.0, minimum=1.0),
            session_cookie_secure=_cookie_secure(env),
            trusted_proxies=_networks(env, "AIME_TRUSTED_PROXIES"),
            auth_failures_per_minute=_int(env, "AIME_AUTH_FAILURES_PER_MINUTE", 5, minimum=1),
            ai_anonymous_per_hour=_int(env, "AIME_AI_ANONYMOUS_PER_HOUR", 10, minimum=0),
            metrics_token=_text(env, "AIME_METRICS_TOKEN"),
            max_range_days=_int(env, "AIME_MAX_RANGE_DAYS", 9200, minimum=1),
        )

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    def replace(self, **changes: Any) -> Config:
        """A copy with some settings changed (tests use this)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Config(**values)


def _user_name(env: Mapping[str, str], name: str) -> str:
    value = _text(env, name, "aime")
    # It is a URL path segment (/1/user/<name>/listens): no slash, space or control character.
    if len(value) > 64 or any(ch in "/\\?#%" or ch.isspace() or not ch.isprintable() for ch in value):
        raise ConfigError(f"{name}={value[:80]!r} must be a user name of at most 64 characters, without spaces "
                          "or / \\ ? # %")
    return value


def _check_bind(bind: str) -> None:
    if bind.startswith("unix:"):
        return
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"AIME_BIND={bind!r} must be host:port with a numeric port (e.g. 127.0.0.1:8000)")


def attach_config(app: Flask, config: Config) -> None:
    """Make config the app's Config (create_app does it once)."""
    app.extensions[KEY] = config


def config_of(app: Flask) -> Config:
    """The Config of an app held outside its context (server hooks, threads started with the app)."""
    return app.extensions[KEY]


def current_config() -> Config:
    """The Config of the current app (views, CLI commands, jobs)."""
    return config_of(current_app)
