"""The OpenAPI document declares the API token and which operations need it (issue 14, item 11),
and what it declares is what the server does."""
from __future__ import annotations

import re

WRITES = ("post", "put", "patch", "delete")
METHODS = ("get",) + WRITES
REQUIREMENT = [{"bearerAuth": []}, {"tokenAuth": []}]


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def test_security_schemes_are_declared(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http" and schemes["bearerAuth"]["scheme"] == "bearer"
    assert (schemes["tokenAuth"]["type"], schemes["tokenAuth"]["in"], schemes["tokenAuth"]["name"]) == (
        "apiKey", "header", "Authorization")
    assert "Token <token>" in schemes["tokenAuth"]["description"]
    assert "security" not in spec  # reads are public unless AIME_PRIVATE=1


def test_writes_are_marked_and_really_need_the_token(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    marked = 0
    for method, path, operation in _operations(spec):
        url = re.sub(r"\{[^}]+\}", "1", path)
        answer = client.open(url, method=method.upper()).status_code
        if method in WRITES:
            assert operation["security"] == REQUIREMENT, (method, path)
            assert operation["responses"]["401"] == {"$ref": "#/components/responses/UNAUTHORIZED"}
            assert answer == 401, (method, path)
            marked += 1
        else:
            assert "security" not in operation, (method, path)
            assert answer != 401, (method, path)
    assert marked == 27  # every write operation: 19, plus 6 of collections and magazines, 2 of enrichment


def test_private_mode_marks_every_operation(make_app, auth):
    client = make_app(private=True).test_client()
    spec = client.get("/api/v1/openapi.json", headers=auth).get_json()  # the document too needs the token
    for method, path, operation in _operations(spec):
        assert operation["security"] == REQUIREMENT, (method, path)
        assert client.open(re.sub(r"\{[^}]+\}", "1", path), method=method.upper()).status_code == 401, path


def test_either_scheme_is_accepted(client, auth):
    token = auth["Authorization"].split(" ", 1)[1]
    body = {"artist": "A", "title": "T", "played_at": "2024-01-01T10:00:00Z"}
    assert client.post("/api/v1/history/tracks", json=body, headers={"Authorization": f"Token {token}"}
                       ).status_code == 201
    body["played_at"] = "2024-01-02T10:00:00Z"
    assert client.post("/api/v1/history/tracks", json=body, headers=auth).status_code == 201
