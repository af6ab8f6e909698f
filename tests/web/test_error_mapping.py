"""One error classification (errors.classify) for both surfaces: a page and the API answer a DB error alike."""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, ProgrammingError

from aime.services import stats

CASES = [  # (error the service raises, status, page title, Retry-After)
    (IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")), 409, "Conflict", None),
    (DataError("SELECT", {}, Exception("numeric field overflow")), 422, "Invalid input", None),
    (OperationalError("SELECT 1", {}, Exception("connection refused")), 503, "Database unavailable", "5"),
    (OperationalError("SELECT 1", {}, sqlite3.OperationalError("interrupted")), 503,
     "Request time limit exceeded", "5"),
    (DBAPIError("SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True), 503,
     "Database unavailable", "5"),
    (ProgrammingError("SELECT nope", {}, Exception("syntax error")), 500, "Something went wrong", None),
    (RuntimeError("secret internals"), 500, "Something went wrong", None),
]


@pytest.mark.parametrize(("error", "status", "title", "retry_after"), CASES,
                         ids=[type(case[0]).__name__ + str(i) for i, case in enumerate(CASES)])
def test_a_page_and_the_api_give_the_same_status(app, monkeypatch, error, status, title, retry_after):
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(stats, "history_stats", broken)
    client = app.test_client()
    api = client.get("/api/v1/history/stats")
    page = client.get("/")
    assert (api.status_code, api.mimetype) == (status, "application/problem+json")
    assert (page.status_code, page.mimetype) == (status, "text/html")
    assert api.headers.get("Retry-After") == page.headers.get("Retry-After") == retry_after
    html = page.get_data(as_text=True)
    assert f"<h1>{title}</h1>" in html
    for leak in ("secret", "refused", "syntax", "UNIQUE", "interrupted", "overflow"):
        assert leak not in html and leak not in api.get_data(as_text=True)
