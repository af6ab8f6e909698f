"""A request's URL adapter (aime.flask_app.AimeFlask.create_url_adapter) is the one Flask binds, for the first
request of a host and for every later one, and a host that Flask refuses is refused the same way."""
from __future__ import annotations

import pytest
from flask import Flask, url_for
from werkzeug.exceptions import BadHost, NotFound
from werkzeug.test import EnvironBuilder

from aime import create_app
from tests.conftest import make_config

# (Host header or None, base URL, path, query string, extra environ)
REQUESTS = [
    ("localhost:8000", "http://localhost:8000/", "/live", "", {}),
    ("Example.COM:80", "http://example.com/", "/api/v1/history/tracks", "page=1&page_size=1", {}),
    ("example.com:443", "https://example.com/", "/api/v1/collection/albums/5", "", {}),
    ("[::1]:8080", "http://[::1]:8080/", "/ready", "a=%C3%A9", {}),
    ("bücher.example", "http://bücher.example/", "/live", "", {}),
    ("bad host", "http://localhost/", "/live", "", {}),
    (None, "http://10.0.0.7:8000/", "/health", "", {}),
    (None, "http://[fe80::1]:80/", "/live", "", {}),
    ("localhost", "http://localhost/prefix/", "/live", "", {}),
    ("localhost", "http://localhost/", "/caf\u00e9/d\u00e9j\u00e0 vu", "x=%E2%82%AC", {}),
    ("localhost", "http://localhost/", "/api/v1/collection/albums/", "", {"REQUEST_METHOD": "POST"}),
    ("localhost", "http://localhost/", "", "", {"SCRIPT_NAME": "", "PATH_INFO": ""}),
    ("localhost", "http://localhost/", "/live", "", {"SCRIPT_NAME": None, "QUERY_STRING": None}),
]


def _app(tmp_path, **settings):
    config = make_config(tmp_path)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(config)
    app.config.update(settings)
    return app


def _environ(host, base_url, path, query, extra) -> dict:
    headers = {} if host is None else {"Host": host}
    environ = EnvironBuilder(path=path or "/", base_url=base_url, query_string=query, headers=headers).get_environ()
    if host is None:
        environ.pop("HTTP_HOST", None)
    for name, value in extra.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


def _adapter_state(adapter) -> dict:
    return {name: value for name, value in vars(adapter).items() if name != "map"}


def _flask_binding(app, environ) -> tuple[dict, str]:
    request = app.request_class(dict(environ))
    adapter = Flask.create_url_adapter(app, request)
    return _adapter_state(adapter), request.host


@pytest.mark.parametrize("given", REQUESTS, ids=[f"{r[0]}|{r[1]}{r[2]}" for r in REQUESTS])
def test_the_adapter_of_the_first_and_every_later_request_of_a_host_is_flasks(tmp_path, given):
    app = _app(tmp_path)
    environ = _environ(*given)
    expected = _flask_binding(app, environ)
    for _ in range(3):  # the first request of the host goes through Flask, the next ones reuse its host
        request = app.request_class(dict(environ))
        adapter = app.create_url_adapter(request)
        assert adapter.map is app.url_map
        assert (_adapter_state(adapter), request.host) == expected
    assert len(app._hosts) == 1


def test_the_answers_match_and_url_for_builds_with_the_requests_host(tmp_path):
    app = _app(tmp_path)
    client = app.test_client()
    for _ in range(2):
        answer = client.get("/live", headers={"Host": "Music.Example:8080"})
        assert answer.status_code == 200
        with app.test_request_context("/live", headers={"Host": "Music.Example:8080"}):
            assert url_for("health.live", _external=True) == "http://music.example:8080/live"
            assert url_for("collection.AlbumItem", album_id=5) == "/api/v1/collection/albums/5"
        assert client.get("/no/such/path", headers={"Host": "Music.Example:8080"}).status_code == 404


def test_a_host_flask_refuses_is_refused_every_time_and_not_remembered(tmp_path):
    app = _app(tmp_path)
    environ = _environ("a" * 64 + ".example", "http://localhost/", "/live", "", {})  # a label > 63 octets
    for _ in range(2):
        request = app.request_class(dict(environ))
        with pytest.raises(BadHost):
            app.create_url_adapter(request)
    assert app._hosts == {}


def test_trusted_hosts_and_server_name_are_flasks_own_binding(tmp_path):
    app = _app(tmp_path, TRUSTED_HOSTS=["music.example"])
    client = app.test_client()
    for _ in range(2):
        assert client.get("/live", headers={"Host": "music.example"}).status_code == 200
        assert client.get("/live", headers={"Host": "other.example"}).status_code == 400
    assert app._hosts == {}
    app = _app(tmp_path, SERVER_NAME="music.example")
    request = app.request_class(_environ("music.example", "http://music.example/", "/live", "", {}))
    assert app.create_url_adapter(request).server_name == "music.example" and app._hosts == {}


def test_the_table_of_hosts_stays_bounded(tmp_path):
    from aime.flask_app import MAX_KNOWN_HOSTS

    app = _app(tmp_path)
    for number in range(MAX_KNOWN_HOSTS * 2 + 1):
        request = app.request_class(_environ(f"host{number}.example", "http://localhost/", "/nowhere", "", {}))
        with pytest.raises(NotFound):
            app.create_url_adapter(request).match()
        assert len(app._hosts) <= MAX_KNOWN_HOSTS
