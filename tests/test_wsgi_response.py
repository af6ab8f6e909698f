"""AimeResponse hands the WSGI server the same status, headers and body as werkzeug's Response, for every kind
of answer, and the app's answers are AimeResponses."""
from __future__ import annotations

import pytest
from flask import Response
from werkzeug.test import EnvironBuilder

from aime.flask_app import AimeFlask, AimeResponse


def _json(cls):
    return cls(b'{"status":"ok"}\n', mimetype="application/json", headers={"X-Request-ID": "abc"})


def _closing(cls):
    response = cls(b"body")
    response.call_on_close(lambda: None)
    return response


def _unsized(cls):
    response = cls(b"body")
    del response.headers["Content-Length"]
    return response


def _wrong_length(cls):
    response = cls(b"body")
    response.headers["Content-Length"] = "99"  # kept as set: werkzeug computes it only when absent
    return response


def _passthrough(cls):
    response = cls(iter([b"a", b"b"]), direct_passthrough=True)
    return response


KINDS = {
    "json 200": _json,
    "text 404": lambda cls: cls("nicht gefunden, été\n", status=404),
    "problem 500": lambda cls: cls(b'{"status":500}', status=500, mimetype="application/problem+json"),
    "503 with Retry-After": lambda cls: cls(b"{}", status=503, headers={"Retry-After": "1"}),
    "str body": lambda cls: cls("caf\u00e9"),
    "two chunks": lambda cls: cls([b"a", b"bc"]),
    "a str chunk": lambda cls: cls([b"a", "b\u00e9"]),
    "empty": lambda cls: cls(b""),
    "redirect": lambda cls: cls(b"", status=302, headers={"Location": "/caf\u00e9?q=1"}),
    "created with Location": lambda cls: cls(b"{}", status=201, headers={"Location": "/api/v1/collection/albums/5"}),
    "content-location": lambda cls: cls(b"{}", headers={"Content-Location": "/a b"}),
    "204": lambda cls: cls(b"", status=204),
    "304": lambda cls: cls(b"", status=304, headers={"ETag": '"v1"', "Content-Type": "text/plain"}),
    "101": lambda cls: cls(b"", status=101),
    "streamed": lambda cls: cls(iter([b"a", b"b"])),
    "passthrough": _passthrough,
    "call_on_close": _closing,
    "no Content-Length": _unsized,
    "a Content-Length set by hand": _wrong_length,
}


def _wsgi(response, method: str) -> tuple[str, list[tuple[str, str]], bytes]:
    environ = EnvironBuilder(path="/x/y", method=method, base_url="http://music.example:8080/").get_environ()
    body, status, headers = response.get_wsgi_response(environ)
    data = b"".join(body)
    if hasattr(body, "close"):
        body.close()
    return status, headers, data


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_wsgi_response_is_werkzeugs(kind, method):
    assert _wsgi(KINDS[kind](AimeResponse), method) == _wsgi(KINDS[kind](Response), method)


def test_the_body_list_is_handed_over_only_when_nothing_waits_for_its_close():
    environ = EnvironBuilder(path="/live").get_environ()
    response = _json(AimeResponse)
    assert response.get_wsgi_response(environ)[0] is response.response
    closed = []
    response.call_on_close(lambda: closed.append(True))
    body = response.get_wsgi_response(environ)[0]
    assert body is not response.response
    body.close()
    assert closed == [True]


def test_the_headers_handed_over_are_a_copy():
    environ = EnvironBuilder(path="/live").get_environ()
    response = _json(AimeResponse)
    headers = response.get_wsgi_response(environ)[2]
    headers.append(("X-Later", "1"))
    assert "X-Later" not in response.headers


def test_the_apps_answers_are_aime_responses(app, client):
    assert AimeFlask.response_class is AimeResponse and app.response_class is AimeResponse
    assert client.get("/live").json == {"alive": True}
    with app.test_request_context("/live"):
        assert type(app.make_response({"a": 1})) is AimeResponse
