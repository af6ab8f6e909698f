"""OpenAI-compatible chat completions client with timeouts, retries with backoff, and a circuit breaker.

Works with any endpoint speaking `POST {AIME_AI_BASE_URL}/chat/completions` (OpenAI, Infomaniak EurIA, a local
Ollama at http://localhost:11434/v1). The breaker lives in `app.extensions` (one per app and endpoint), so a failing
endpoint is left alone for `AIME_AI_CIRCUIT_RESET_SECONDS` instead of every request waiting on it.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import requests
from flask import current_app
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from .. import deadlines
from ..config import Config
from ..errors import NotConfigured, ServiceUnavailable

log = logging.getLogger(__name__)
KEY = "aime.ai"
# Backoff between attempts of one call: 0.25 s, 0.5 s, 1 s ... (capped) plus up to 0.25 s of jitter.
BACKOFF_INITIAL, BACKOFF_MAX, BACKOFF_JITTER = 0.25, 4.0, 0.25
NOT_CONFIGURED = "AI is not configured: set AIME_AI_BASE_URL (and AIME_AI_API_KEY, AIME_AI_MODEL if needed)."


class AIUnavailable(ServiceUnavailable):
    """The AI endpoint failed, timed out, or answered something unusable."""

    code, title = "ai-unavailable", "AI endpoint unavailable"


class CircuitOpen(AIUnavailable):
    """The breaker is open: the endpoint failed repeatedly and is not called for a while."""


class _Retryable(Exception):
    """A failure worth another attempt (timeout, connection error, 429, 5xx)."""


@dataclass
class CircuitBreaker:
    """Opens after `failures` failed calls in a row; after `reset_seconds` one trial call may go through."""

    failures: int
    reset_seconds: float
    consecutive: int = 0
    opened_at: float | None = None
    last_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self) -> str:
        """closed, open, or half-open (the reset period is over; the next call is a trial)."""
        if self.opened_at is None:
            return "closed"
        return "open" if time.monotonic() - self.opened_at < self.reset_seconds else "half-open"

    def before_call(self) -> None:
        """Raise CircuitOpen while the endpoint is being left alone."""
        with self.lock:
            if self.state() == "open":
                wait = self.reset_seconds - (time.monotonic() - self.opened_at)
                raise CircuitOpen(f"The AI endpoint failed {self.consecutive} times in a row; "
                                  f"not calling it again for {wait:.0f} s.",
                                  headers={"Retry-After": str(int(wait) + 1)})

    def record(self, ok: bool, error: str | None = None) -> None:
        """Count a call's outcome; a failed trial call re-opens the breaker at once."""
        with self.lock:
            if ok:
                self.consecutive, self.opened_at, self.last_error = 0, None, None
                return
            self.consecutive += 1
            self.last_error = error
            if self.opened_at is not None or self.consecutive >= self.failures:
                if self.opened_at is None or self.state() != "open":
                    log.warning("AI circuit opened after %d failures: %s", self.consecutive, error)
                self.opened_at = time.monotonic()


def is_configured(config: Config) -> bool:
    """True when an AI endpoint is configured (an API key is optional: local servers need none)."""
    return bool(config.ai_base_url)


def breaker(config: Config) -> CircuitBreaker:
    """This app's breaker for the configured endpoint."""
    breakers = current_app.extensions.setdefault(KEY, {})
    key = (config.ai_base_url, config.ai_model)
    if key not in breakers:
        breakers[key] = CircuitBreaker(config.ai_circuit_failures, config.ai_circuit_reset_seconds)
    return breakers[key]


def health(config: Config) -> dict:
    """Integration status for health checks: not configured, or configured with the breaker's state."""
    if not is_configured(config):
        return {"configured": False, "status": "not_configured"}
    cb = breaker(config)
    return {"configured": True, "status": "failing" if cb.state() != "closed" else "ok", "circuit": cb.state(),
            "consecutive_failures": cb.consecutive, "last_error": cb.last_error}


def chat(config: Config, messages: list[dict], *, max_tokens: int = 400, temperature: float = 0.7) -> str:
    """Send a chat completion and return the answer's text (raises NotConfigured or AIUnavailable)."""
    if not is_configured(config):
        raise NotConfigured(NOT_CONFIGURED)
    cb = breaker(config)
    cb.before_call()
    body = {"model": config.ai_model, "messages": messages, "max_tokens": max_tokens, "temperature": temperature}
    try:
        text = _post_with_retries(config, body)
    except AIUnavailable as error:
        cb.record(False, error.detail)
        raise
    cb.record(True)
    return text


def _post_with_retries(config: Config, body: dict) -> str:
    backoff = wait_exponential_jitter(multiplier=BACKOFF_INITIAL, max=BACKOFF_MAX, jitter=BACKOFF_JITTER)
    retrying = Retrying(
        retry=retry_if_exception_type(_Retryable),
        stop=stop_after_attempt(config.ai_attempts),
        wait=lambda state: deadlines.cap(backoff(state)),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                return _post_once(config, body)
    except _Retryable as error:
        raise AIUnavailable(f"The AI endpoint did not answer usefully after {config.ai_attempts} attempts: "
                            f"{error}.") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _post_once(config: Config, body: dict) -> str:
    headers = {"Accept": "application/json"}
    if config.ai_api_key:
        headers["Authorization"] = f"Bearer {config.ai_api_key}"
    try:
        read = deadlines.bound(config.ai_timeout)  # inside a request, never past its deadline
        response = requests.post(f"{config.ai_base_url}/chat/completions", json=body, headers=headers,
                                 timeout=(min(read, 10.0), read))
    except requests.Timeout:
        raise _Retryable(f"timed out after {config.ai_timeout:g} s") from None
    except requests.RequestException as error:
        raise _Retryable(f"connection failed ({type(error).__name__})") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise _Retryable(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        # 401/403/404 mean a wrong key, model or URL: retrying will not help.
        raise AIUnavailable(f"The AI endpoint refused the request (HTTP {response.status_code}); "
                            "check AIME_AI_BASE_URL, AIME_AI_API_KEY and AIME_AI_MODEL.")
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise AIUnavailable("The AI endpoint answered something that is not a chat completion.") from None
    if not isinstance(content, str):
        raise AIUnavailable("The AI endpoint answered something that is not a chat completion.")
    return content
