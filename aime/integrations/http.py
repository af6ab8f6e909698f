"""A JSON-over-HTTP client with timeouts and bounded, jittered retries that honour rate limits.

Retried: timeouts, connection errors, 5xx and 429 (waiting what Retry-After asks when it is given).
Discogs' X-Discogs-Ratelimit-Remaining header is honoured by pausing before the window runs dry.
Logs and errors name the host and path only: query strings (Last.fm's api_key) and headers (Discogs'
token) never leave this module.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_exponential_jitter

from .. import deadlines
from ..errors import ServiceUnavailable
from ..version import __version__

log = logging.getLogger(__name__)
USER_AGENT = f"AIME/{__version__} +https://github.com/aime-music/aime"
MAX_RETRY_AFTER = 120.0  # never sleep longer than this for one Retry-After, whatever the server says


class IntegrationError(ServiceUnavailable):
    """An external service failed (after retries) or answered something we cannot use."""

    code, title = "integration-error", "External service error"


class RetryableError(Exception):
    """A failure worth another try (timeout, connection, 5xx, 429, a service's 'try later')."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class RetryPolicy:
    """How hard to try: attempts, total budget, backoff base and cap (seconds)."""

    attempts: int = 5
    budget: float = 120.0
    initial: float = 0.5
    maximum: float = 30.0


_SECRET_PARAM = re.compile(r"((?:api_key|token|key|secret|sig)=)[^&\s\"']+", re.IGNORECASE)


class RedactQuerySecrets(logging.Filter):
    """Masks secret query parameters (Last.fm's api_key) in urllib3's debug lines of request URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's arguments; never drops it."""
        if isinstance(record.args, tuple):
            record.args = tuple(_SECRET_PARAM.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


def _install_redaction() -> None:
    target = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, RedactQuerySecrets) for f in target.filters):
        target.addFilter(RedactQuerySecrets())


def make_session(headers: Mapping[str, str] | None = None) -> requests.Session:
    """A requests Session with our User-Agent and the given headers."""
    _install_redaction()  # here, not at import: importing a module changes no global logging
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    session.headers.update(headers or {})
    return session


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class JsonClient:
    """GET JSON from one service with timeouts, retries and rate-limit pauses."""

    def __init__(self, base_url: str, *, service: str, headers: Mapping[str, str] | None = None,
                 timeout: float = 10.0, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.session = make_session(headers)
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.sleep = sleep  # injectable so tests can see the pauses a server asked for
        self.requests_made = 0

    def get_json(self, path: str, params: Mapping[str, Any] | None = None,
                 check: Callable[[Any], None] | None = None, *, missing_ok: bool = False) -> Any:
        """GET base_url+path and return the decoded JSON; `check` may raise RetryableError for 'try later' bodies.

        With missing_ok, a 404 returns None (the Cover Art Archive says "no image" that way).
        """
        backoff = wait_exponential_jitter(multiplier=self.policy.initial, max=self.policy.maximum,
                                          jitter=self.policy.initial)
        retrying = Retrying(
            retry=retry_if_exception_type(RetryableError),
            stop=stop_after_attempt(self.policy.attempts) | stop_after_delay(self.policy.budget),
            wait=lambda state: _wait(state, backoff),
            sleep=self.sleep,
            before_sleep=lambda state: self._log_retry(path, state),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    status, payload = self._once(path, params, missing_ok)
                    if status == 404 and missing_ok:
                        return None
                    if check is not None:
                        check(payload)
                    if status >= 400:
                        raise IntegrationError(f"{self.service} refused the request (HTTP {status}).")
                    return payload
        except RetryableError as error:
            raise IntegrationError(f"{self.service} did not answer usefully after retries ({error.reason}).") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, path: str, params: Mapping[str, Any] | None, missing_ok: bool = False) -> tuple[int, Any]:
        self.requests_made += 1
        try:
            # Inside a request, never wait past its deadline (DeadlineExceeded, a 503, once nothing is left).
            response = self.session.get(self.base_url + path, params=params, timeout=deadlines.bound(self.timeout))
        except requests.Timeout:
            raise RetryableError("timeout") from None
        except requests.ConnectionError:
            raise RetryableError("connection failed") from None
        except requests.RequestException as error:  # broken body, too many redirects...: name the kind only
            raise RetryableError(type(error).__name__) from None
        self._respect_rate_limit(response)
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableError(f"HTTP {response.status_code}", parse_retry_after(response.headers.get("Retry-After")))
        if response.status_code == 404 and missing_ok:
            return 404, None
        try:
            payload = response.json()
        except ValueError:
            if response.status_code >= 400:
                raise IntegrationError(f"{self.service} refused the request (HTTP {response.status_code}).") from None
            raise IntegrationError(f"{self.service} sent a response that is not JSON.") from None
        return response.status_code, payload

    def _respect_rate_limit(self, response: requests.Response) -> None:
        # Discogs: a moving 60 s window of X-Discogs-Ratelimit requests; pause before it runs dry
        # instead of hitting 429s.
        remaining = _int_header(response, "X-Discogs-Ratelimit-Remaining")
        limit = _int_header(response, "X-Discogs-Ratelimit")
        if remaining is not None and remaining <= 1:
            pause = 60.0 / max(limit or 60, 1) * (2 - remaining)
            log.info("%s rate limit nearly used (%s left); pausing %.1f s", self.service, remaining, pause)
            self.sleep(pause)

    def _log_retry(self, path: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        reason = getattr(error, "reason", type(error).__name__)
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s %s%s failed (%s); retry %d in %.1f s", self.service, urlsplit(self.base_url).netloc,
                    path, reason, state.attempt_number, wait)


def _wait(state: RetryCallState, backoff) -> float:
    error = state.outcome.exception() if state.outcome else None
    asked = getattr(error, "retry_after", None)
    return deadlines.cap(asked if asked is not None else backoff(state))


def _int_header(response: requests.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None
