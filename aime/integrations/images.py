"""Download one image: http(s) only, type checked from headers, size capped while streaming, retried like JSON calls."""
from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_exponential_jitter

from .http import IntegrationError, RetryableError, RetryPolicy, _wait, make_session, parse_retry_after

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
CHUNK = 64 * 1024


class ImageRefused(IntegrationError):
    """The URL answered, but not with an image AIME keeps (type, size, status)."""

    code, title = "image-refused", "Image refused"


class ImageFetcher:
    """GET images with a byte cap and retries; one session (keep-alive) for a whole enrichment run."""

    def __init__(self, max_bytes: int, *, timeout: float = 10.0, policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.session = make_session({"Accept": "image/jpeg, image/png, image/webp, image/gif"})
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.policy = policy or RetryPolicy(attempts=3, budget=60.0)
        self.sleep = sleep

    def fetch(self, url: str) -> tuple[bytes, str]:
        """The image's bytes and declared content type; ImageRefused or IntegrationError when it cannot be had."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise ImageRefused("only http(s) image URLs are fetched")
        backoff = wait_exponential_jitter(multiplier=self.policy.initial, max=self.policy.maximum,
                                          jitter=self.policy.initial)
        retrying = Retrying(retry=retry_if_exception_type(RetryableError),
                            stop=stop_after_attempt(self.policy.attempts) | stop_after_delay(self.policy.budget),
                            wait=lambda state: _wait(state, backoff), sleep=self.sleep, reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(url)
        except RetryableError as error:
            raise IntegrationError(f"image host {urlsplit(url).netloc} did not answer ({error.reason}).") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, url: str) -> tuple[bytes, str]:
        host = urlsplit(url).netloc
        try:
            with self.session.get(url, timeout=self.timeout, stream=True) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    raise RetryableError(f"HTTP {response.status_code}",
                                         parse_retry_after(response.headers.get("Retry-After")))
                if response.status_code != 200:
                    raise ImageRefused(f"image host {host} answered HTTP {response.status_code}")
                kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                if kind not in IMAGE_TYPES:
                    raise ImageRefused(f"image host {host} sent {kind or 'no content type'}, not an image")
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise ImageRefused(f"image of {declared} bytes is over the {self.max_bytes} byte limit")
                body = bytearray()
                for chunk in response.iter_content(CHUNK):
                    body += chunk
                    if len(body) > self.max_bytes:  # a lying or missing Content-Length stops here
                        raise ImageRefused(f"image is over the {self.max_bytes} byte limit")
                return bytes(body), kind
        except requests.Timeout:
            raise RetryableError("timeout") from None
        except requests.ConnectionError:
            raise RetryableError("connection failed") from None
        except requests.RequestException as error:
            raise RetryableError(type(error).__name__) from None
