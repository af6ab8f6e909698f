"""One error hierarchy, and the one place that turns any error into problem+json (RFC 9457)."""
from __future__ import annotations

import logging
from typing import Any

import sentry_sdk
from flask import Flask, Response, json, request
from marshmallow import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class AimeError(Exception):
    """Base of every error AIME raises on purpose; carries its HTTP status."""

    status = 500
    code = "internal-error"
    title = "Internal server error"

    def __init__(self, detail: str | None = None, *, errors: dict | None = None, headers: dict | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}


class BadRequest(AimeError):
    status, code, title = 400, "bad-request", "Bad request"


class Unauthorized(AimeError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any):
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="aime"'})
        super().__init__(detail, **kwargs)


class NotFound(AimeError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(AimeError):
    status, code, title = 409, "conflict", "Conflict"


class RequestTimeout(AimeError):
    status, code, title = 408, "request-timeout", "Request timeout"

    def __init__(self, detail: str | None = None, **kwargs: Any):
        super().__init__(detail or "The request arrived too slowly; send it again at a steadier pace.",
                         **kwargs)


class InvalidInput(AimeError):
    status, code, title = 422, "invalid-input", "Invalid input"


class TooManyRequests(AimeError):
    status, code, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int = 60, **kwargs: Any):
        kwargs.setdefault("headers", {"Retry-After": str(retry_after)})
        super().__init__(detail, **kwargs)


class ServiceUnavailable(AimeError):
    status, code, title = 503, "service-unavailable", "Service unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    code, title = "database-unavailable", "Database unavailable"

    def __init__(self, detail: str | None = None, **kwargs: Any):
        kwargs.setdefault("headers", {"Retry-After": "5"})
        super().__init__(detail or "The database is busy or unavailable; try again shortly.", **kwargs)


class DeadlineExceeded(ServiceUnavailable):
    code, title = "deadline-exceeded", "Request time limit exceeded"

    def __init__(self, detail: str | None = None, **kwargs: Any):
        kwargs.setdefault("headers", {"Retry-After": "5"})
        super().__init__(detail or "The request took longer than this server allows (AIME_TIMEOUT); nothing was "
                         "written. Try again, or ask for less.", **kwargs)


def is_deadline_error(error: BaseException) -> bool:
    """True for a statement stopped by the request deadline (SQLite interrupt, PostgreSQL query_canceled)."""
    if not isinstance(error, OperationalError):
        return False
    orig = error.orig
    if getattr(orig, "sqlstate", None) == "57014":
        return True
    return "interrupted" in str(orig).lower() and "sqlite" in type(orig).__module__


class NotConfigured(ServiceUnavailable):
    code, title = "not-configured", "Feature not configured"


def problem(status: int, title: str, detail: str | None = None, *, code: str | None = None,
            errors: dict | None = None, headers: dict | None = None) -> Response:
    """Build an application/problem+json response."""
    body: dict[str, Any] = {
        "type": f"https://aime.local/problems/{code or status}" if code else "about:blank",
        "title": title,
        "status": status,
        "detail": detail or title,
    }
    if errors:
        body["errors"] = errors
    rid = getattr(request, "request_id", None) if request else None
    if rid:
        body["request_id"] = rid
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _from_aime(error: AimeError) -> Response:
    return problem(error.status, error.title, error.detail, code=error.code, errors=error.errors,
                   headers=error.headers)


def _from_validation(error: ValidationError) -> Response:
    return problem(422, "Invalid input", "One or more fields are invalid.", code="invalid-input",
                   errors=_normalise_messages(error.messages))


def _normalise_messages(messages: Any) -> Any:
    if isinstance(messages, dict):
        return messages
    return {"_schema": messages}


def _from_http(error: HTTPException) -> Response:
    status = error.code or 500
    errors = None
    detail = error.description
    # webargs/flask-smorest put marshmallow messages in error.data
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if status == 422 and messages:
        # messages are keyed by location (json, query, form); flatten the single location
        errors = next(iter(messages.values())) if len(messages) == 1 else messages
        detail = "One or more fields are invalid."
    if status == 400 and request and request.is_json is not None and "JSON" in (detail or ""):
        detail = "The request body is not valid JSON."
    if status == 413:
        detail = "The request body is larger than this endpoint accepts."
    headers = {}
    if status == 405 and error.get_response().headers.get("Allow"):
        headers["Allow"] = error.get_response().headers["Allow"]
    return problem(status, error.name, detail, code=error.name.lower().replace(" ", "-"),
                   errors=errors, headers=headers)


def _is_db_unavailable(error: Exception) -> bool:
    return isinstance(error, OperationalError) or (isinstance(error, DBAPIError) and error.connection_invalidated)


def classify(error: Exception) -> AimeError:
    """The AimeError an unexpected exception stands for, on pages and in the API alike; logs it.

    A value the database cannot store is the request's fault (422), a unique key hit by a concurrent
    writer a conflict (409), a deadline or an unreachable database a 503; anything else is a bug: a
    500 whose trace goes to the log and Sentry while the client learns nothing internal.
    """
    where = (request.method, request.path) if request else ("-", "-")
    if isinstance(error, (OverflowError, DataError)):
        # An id beyond 64 bits (SQLite raises OverflowError before the query), a NUL character or an
        # out-of-range number (PostgreSQL data exception, SQLSTATE 22xxx).
        log.info("unstorable value in %s %s: %s", *where, type(error).__name__)
        return InvalidInput("A value in the request is out of range or contains a character "
                            "(such as NUL) that cannot be stored.")
    if isinstance(error, RecursionError) and request and request.is_json:
        # JSON nested thousands deep exhausts the decoder's stack (json.loads, in webargs or Flask): bad input.
        log.info("JSON body nested too deeply in %s %s", *where)
        return BadRequest("The JSON body is nested too deeply.")
    if isinstance(error, IntegrityError):
        # The same answer the service gives when it sees the duplicate first.
        log.info("integrity conflict: %s", type(error.orig).__name__)
        return Conflict("This conflicts with data that already exists.")
    if is_deadline_error(error):
        log.warning("%s %s stopped at its deadline", *where)
        return DeadlineExceeded()
    if _is_db_unavailable(error):
        log.warning("database unavailable: %s", type(error.orig if hasattr(error, "orig") else error).__name__,
                    exc_info=True)
        return DatabaseUnavailable()
    log.exception("unhandled error on %s %s", *where)
    sentry_sdk.capture_exception(error)  # a no-op unless SENTRY_DSN configured the SDK
    return AimeError("An unexpected error occurred; it has been logged.")


def _from_unexpected(error: Exception) -> Response:
    return _from_aime(classify(error))


def register_error_handlers(app: Flask) -> None:
    """Map every error to problem+json in one place."""
    app.register_error_handler(AimeError, _from_aime)
    app.register_error_handler(ValidationError, _from_validation)
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(Exception, _from_unexpected)
