"""Kept answers served before Flask's dispatch (aime/api/fast_answers.py): for every route that keeps its answers,
the same status, header list and body, to the byte, the same counters and the same access line as Flask's path;
Flask's path whenever anything else in the request could change them; every write seen by the next read."""
from __future__ import annotations

import io
import json
import logging
import re
import shutil
import sqlite3

import pytest
from flask import signals
from sqlalchemy.exc import OperationalError
from werkzeug.test import EnvironBuilder

from aime.observability.logging import build_handler
from aime.services import data_version
from tests.factories import add_listen, create_album

PLAYED = "2023-11-14T22:13:20Z"
LATER = "2023-11-14T22:23:20Z"
REQUEST_ID = "fast-answers.test:1"  # the client's own X-Request-ID: both paths then send the same headers
PERIOD = "start_date=2023-01-01&end_date=2023-12-31"
# Every route that keeps its answers: (path, URL rule), the album's and its artist's ids filled in.
KEPT = [("/api/v1/collection/albums/{id}", "/api/v1/collection/albums/<int:album_id>"),
        ("/api/v1/collection/albums?sort=title&page_size=10", "/api/v1/collection/albums"),
        ("/api/v1/history/tracks?page=1&page_size=50", "/api/v1/history/tracks"),
        (f"/api/v1/history/tracks?page=1&page_size=1&{PERIOD}", "/api/v1/history/tracks"),
        ("/api/v1/search?q=hunt", "/api/v1/search"),
        ("/api/v1/collection/artists/{artist}", "/api/v1/collection/artists/<int:artist_id>"),
        ("/api/v1/collection/artists", "/api/v1/collection/artists"),
        ("/api/v1/collection/stats", "/api/v1/collection/stats")]
# Kept too, but their answer also depends on today's date (conditional_get's `vary`): always Flask's.
VARYING = [f"/api/v1/history/stats?{PERIOD}", f"/api/v1/history/top/artists?limit=10&{PERIOD}",
           "/api/v1/history/timeline?date=2023-11-14"]


@pytest.fixture
def album(client, auth):
    """An owned album with two tracks, one of them played once."""
    made = create_album(client, auth, "Homogenic", ["Björk"], tracks=[{"title": "Hunter"}, {"title": "Jóga"}])
    add_listen(client, auth, "Björk", "Hunter", PLAYED, album="Homogenic")
    return made


@pytest.fixture
def access_lines(app):
    """The access lines the app writes from now on, as its own handler formats them (filter included)."""
    stream = io.StringIO()
    handler = build_handler(app.extensions["aime.config"])
    handler.setStream(stream)
    logger = logging.getLogger("aime.access")
    level = logging.getLogger("aime").level
    logger.addHandler(handler)
    logging.getLogger("aime").setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logging.getLogger("aime").setLevel(level)


def ask(app, path: str, method: str = "GET", headers: dict | None = None, scheme: str = "http",
        host: str = "localhost") -> tuple[str, list[tuple[str, str]], bytes]:
    """One request through the WSGI app as a server makes it: (status line, the header list, the body)."""
    environ = EnvironBuilder(path=path, method=method, base_url=f"{scheme}://{host}/",
                             headers={"X-Request-ID": REQUEST_ID, **(headers or {})},
                             environ_base={"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000"}).get_environ()
    seen = []
    body = app(environ, lambda status, pairs, exc_info=None: seen.append((status, list(pairs))))
    try:
        content = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    return seen[0][0], seen[0][1], content


def served(app) -> int:
    """How many answers the app gave before Flask's dispatch."""
    return app.fast_answers.served if app.fast_answers is not None else 0


def counters(client, rule: str) -> dict:
    """The request counters and the latency count of (GET, rule, 200), from /metrics, and /health's total."""
    text = client.get("/metrics").get_data(as_text=True)
    labels = f'endpoint="{rule}",method="GET",status="200"'
    counted = re.search(rf"^aime_http_requests_total\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    timed = re.search(rf'^aime_http_request_duration_seconds_count\{{endpoint="{re.escape(rule)}"\}} (\S+)$', text,
                      re.M)
    return {"requests": float(counted.group(1)) if counted else 0.0,
            "timed": float(timed.group(1)) if timed else 0.0, "health": client.get("/health").json["requests"]}


def _line(line: dict) -> dict:
    return {name: value for name, value in line.items() if name not in ("timestamp", "duration_ms")}


@pytest.mark.parametrize(("path", "rule"), KEPT)
def test_a_kept_answer_before_flask_is_flasks_to_the_byte_with_the_same_counts_and_line(
        app, client, album, access_lines, path, rule):
    path = path.format(id=album["id"], artist=album["artists"][0]["id"])
    built = ask(app, path)
    before = counters(client, rule)
    kept = ask(app, path)  # Flask's path serves the kept answer, and learns the URL
    between = counters(client, rule)
    assert served(app) == 0
    fast = ask(app, path)
    after = counters(client, rule)
    assert served(app) == 1
    assert built[0] == kept[0] == fast[0] == "200 OK"
    assert fast == kept and fast[2] == built[2]
    assert [name for name, _value in fast[1]] == ["Content-Type", "Content-Length", "ETag", "Cache-Control",
                                                  "X-Request-ID", "X-Content-Type-Options"]
    assert dict(fast[1])["X-Request-ID"] == REQUEST_ID
    # /health and /metrics answer between: their counts (probes: none) change nothing here.
    assert between == {"requests": before["requests"] + 1, "timed": before["timed"] + 1,
                       "health": before["health"] + 1}
    assert after == {"requests": between["requests"] + 1, "timed": between["timed"] + 1,
                     "health": between["health"] + 1}
    lines = [line for line in access_lines() if line["logger"] == "aime.access" and line["path"] != "/metrics"
             and line["path"] != "/health"]
    assert len(lines) == 3
    assert _line(lines[1]) == _line(lines[2]) == {
        "level": "INFO", "logger": "aime.access", "message": f"GET {path.split('?')[0]} 200", "status": 200,
        "request_id": REQUEST_ID, "method": "GET", "path": path.split("?")[0]}
    assert list(lines[2]) == list(lines[1])  # the same fields, in the same order
    assert isinstance(lines[2]["duration_ms"], float)


def test_a_new_request_id_each_time_unless_the_client_sends_one(app, album):
    path = f"/api/v1/collection/albums/{album['id']}"
    for _ in range(3):
        ask(app, path, headers={"X-Request-ID": "has spaces"})
    ids = {dict(ask(app, path, headers={"X-Request-ID": "has spaces"})[1])["X-Request-ID"] for _ in range(2)}
    assert served(app) == 3 and len(ids) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)


@pytest.mark.parametrize("path", VARYING)
def test_answers_that_also_depend_on_the_day_are_always_flasks(app, album, path):
    answers = [ask(app, path) for _ in range(3)]
    assert served(app) == 0 and answers[0] == answers[1] == answers[2] and answers[0][0] == "200 OK"


@pytest.mark.parametrize(("method", "headers", "host"), [
    ("HEAD", {}, "localhost"),
    ("GET", {"Upgrade": "websocket"}, "localhost"),
    ("GET", {}, "example.org:8443"),  # a Host Flask has not seen yet: Flask checks it first
])
def test_anything_else_is_flasks(app, album, method, headers, host):
    path = f"/api/v1/collection/albums/{album['id']}"
    for _ in range(2):
        ask(app, path)
    learnt = served(app)
    flasks = ask(app, path, method=method, headers=headers, host=host)
    assert served(app) == learnt
    assert flasks[0] == "200 OK"


def test_a_revalidation_is_flasks_304(app, album):
    path = f"/api/v1/collection/albums/{album['id']}"
    for _ in range(3):
        status, headers, _body = ask(app, path)
    etag = dict(headers)["ETag"]
    status, headers, body = ask(app, path, headers={"If-None-Match": etag})
    assert (status, body, dict(headers)["ETag"]) == ("304 NOT MODIFIED", b"", etag)
    assert served(app) == 1


def test_over_https_the_answer_carries_hsts_as_flasks_does(app, album):
    path = f"/api/v1/collection/albums/{album['id']}"
    ask(app, path)
    flasks = ask(app, path, scheme="https")  # the https host is new: Flask's
    fast = ask(app, path, scheme="https")
    assert served(app) == 1 and fast == flasks
    assert fast[1][-1] == ("Strict-Transport-Security", "max-age=31536000")


def test_a_forwarded_scheme_from_trusted_proxies_is_weighed_by_flask(make_app):
    app = make_app(trusted_proxies=("127.0.0.1/32",))
    client, token = app.test_client(), app.extensions["aime.config"].api_token
    add_listen(client, {"Authorization": f"Bearer {token}"}, "Björk", "Hunter", PLAYED)
    path = "/api/v1/history/tracks"
    for _ in range(3):
        ask(app, path)
    assert served(app) == 1
    forwarded = ask(app, path, headers={"X-Forwarded-Proto": "https"})
    assert served(app) == 1 and ("Strict-Transport-Security", "max-age=31536000") in forwarded[1]


def test_a_receiver_of_flasks_request_signals_gets_every_request(app, album):
    path = f"/api/v1/collection/albums/{album['id']}"
    for _ in range(3):
        ask(app, path)
    seen = []

    def note(sender, **_extra):
        seen.append(sender)

    signals.request_started.connect(note, app)
    try:
        ask(app, path)
    finally:
        signals.request_started.disconnect(note, app)
    assert seen == [app] and served(app) == 1


@pytest.mark.parametrize("overrides", [{"private": True}, {"cors_origins": ["https://example.org"]}])
def test_private_or_cors_apps_answer_everything_through_flask(make_app, overrides):
    app = make_app(**overrides)
    client, token = app.test_client(), app.extensions["aime.config"].api_token
    auth = {"Authorization": f"Bearer {token}"}
    add_listen(client, auth, "Björk", "Hunter", PLAYED)
    for _ in range(3):
        assert ask(app, "/api/v1/history/tracks", headers=auth)[0] == "200 OK"
    assert app.fast_answers is None


def test_every_write_is_seen_by_the_next_read_of_every_worker(app, app_factory, client, auth, album):
    """Two workers (two apps on one database) answering before Flask; a write through one, then one by another
    connection altogether: each worker's next read is the new answer, and the one after is again served early."""
    other = app_factory(app.extensions["aime.config"])
    path = f"/api/v1/collection/albums/{album['id']}"
    for worker in (app, other):
        for _ in range(3):
            ask(worker, path)
        assert served(worker) == 1
    add_listen(client, auth, "Björk", "Jóga", LATER, album="Homogenic")
    for worker in (app, other):
        assert json.loads(ask(worker, path)[2])["play_count"] == 2
        assert json.loads(ask(worker, path)[2])["play_count"] == 2
        assert served(worker) == 2
    with app.app_context():
        from aime.extensions import db
        with db.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE albums SET year = 1997")
    for worker in (app, other):
        assert json.loads(ask(worker, path)[2])["year"] == 1997
        assert json.loads(ask(worker, path)[2])["year"] == 1997
        assert served(worker) == 3


def test_a_sqlite_file_replaced_under_the_app_is_read_at_once(make_app, tmp_path):
    """A backup copied over the database file: the next early answer comes from the file that is there now."""
    app = make_app()
    client = app.test_client()
    headers = {"Authorization": "Bearer " + app.extensions["aime.config"].api_token}
    database = app.extensions["aime.config"].data_dir / "musique.db"
    add_listen(client, headers, "Air", "La Femme d'Argent", PLAYED)
    backup = tmp_path / "b.db"
    with sqlite3.connect(database) as source, sqlite3.connect(backup) as target:
        source.backup(target)
    add_listen(client, headers, "Air", "Kelly Watch the Stars", LATER)
    path = "/api/v1/history/tracks"
    titles = [[item["title"] for item in json.loads(ask(app, path)[2])["items"]] for _ in range(3)]
    assert titles == [["Kelly Watch the Stars", "La Femme d'Argent"]] * 3 and served(app) == 1
    for stale in database.parent.glob("musique.db*"):
        stale.unlink()
    shutil.copy(backup, database)
    titles = [[item["title"] for item in json.loads(ask(app, path)[2])["items"]] for _ in range(3)]
    assert titles == [["La Femme d'Argent"]] * 3 and served(app) == 3  # the first one Flask's: a new version


def test_an_error_of_the_version_read_is_flasks_answer_read_once(app, album, monkeypatch):
    """The read fails before Flask's dispatch: Flask answers with that very error (503 problem+json, counted),
    without reading the version again."""
    path = f"/api/v1/collection/albums/{album['id']}"
    for _ in range(3):
        ask(app, path)
    calls = []

    def failing(*args):
        calls.append(args)
        raise OperationalError(data_version.READ, None, sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(data_version, "on_thread", failing)
    status, headers, body = ask(app, path)
    assert len(calls) == 1 and served(app) == 1
    assert status == "503 SERVICE UNAVAILABLE" and dict(headers)["Content-Type"] == "application/problem+json"
    early = json.loads(body)
    app.fast_answers, fast = None, app.fast_answers  # Flask's path alone, for the same error
    try:
        status_flask, headers_flask, body_flask = ask(app, path)
    finally:
        app.fast_answers = fast
    assert (status, headers) == (status_flask, headers_flask) and early == json.loads(body_flask)


def test_a_late_answer_is_flasks_503(app, album):
    """Past the deadline (AIME_TIMEOUT shortened to nothing): the 503 Flask's path gives, not the kept answer."""
    path = f"/api/v1/collection/albums/{album['id']}"
    for _ in range(3):
        ask(app, path)
    config = app.extensions["aime.config"]
    app.extensions["aime.config"] = config.replace(timeout=1e-9)
    try:
        status, headers, body = ask(app, path)
        app.fast_answers, fast = None, app.fast_answers
        try:
            flasks = ask(app, path)
        finally:
            app.fast_answers = fast
    finally:
        app.extensions["aime.config"] = config
    assert status == flasks[0] == "503 SERVICE UNAVAILABLE"
    assert (headers, body) == (flasks[1], flasks[2])
    assert json.loads(body)["type"] == "https://aime.local/problems/deadline-exceeded"
    assert served(app) == 1


def test_an_error_after_the_read_is_answered_by_flask_as_any_error(app, album, monkeypatch):
    """Anything else failing before the early answer is sent (here the count) goes to Flask, which answers it as it
    answers any error: a 500 problem+json, never a bare server error."""
    from aime.api import fast_answers

    path = f"/api/v1/collection/albums/{album['id']}"
    for _ in range(3):
        ask(app, path)

    def broken(*_args):
        raise RuntimeError("the counter file is gone")

    monkeypatch.setattr(fast_answers, "observe_request", broken)
    status, headers, body = ask(app, path)
    assert status == "500 INTERNAL SERVER ERROR" and dict(headers)["Content-Type"] == "application/problem+json"
    assert json.loads(body)["status"] == 500 and "counter file" not in body.decode()
    assert served(app) == 1
