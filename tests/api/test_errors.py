"""Every error is application/problem+json with the right status, and leaks nothing internal."""
import pytest

from tests.factories import album_body

PROBLEM = "application/problem+json"


def assert_problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body


@pytest.mark.backend_independent
def test_malformed_json_is_400(client, auth):
    response = client.post("/api/v1/collection/albums", data="{not json", content_type="application/json", headers=auth)
    assert_problem(response, 400)


@pytest.mark.backend_independent
def test_wrong_types_are_422_with_field_errors(client, auth):
    response = client.post("/api/v1/collection/albums", json={"title": 5, "artists": "Björk", "year": "soon"},
                           headers=auth)
    body = assert_problem(response, 422)
    assert set(body["errors"]) == {"title", "artists", "year"}


@pytest.mark.backend_independent
@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/playlists/generate", {"algorithm": "time_based", "seed": 0.3}, "seed"),
    ("/api/v1/playlists/generate", {"algorithm": "time_based", "max_tracks": 25.7}, "max_tracks"),
    ("/api/v1/collection/albums", {"title": "Post", "artists": ["Björk"], "year": 1995.5}, "year"),
    ("/api/v1/collection/albums", {"title": "Post", "artists": ["Björk"], "tracks": [{"title": "Army of Me",
                                                                                    "track_number": 1.5}]}, "tracks"),
])
def test_a_fractional_number_for_an_integer_is_422_not_truncated(client, auth, path, body, field):
    """Found by schemathesis: {"seed": 0.3} was loaded as seed 0 and the playlist made (201)."""
    problem = assert_problem(client.post(path, json=body, headers=auth), 422)
    assert list(problem["errors"]) == [field]
    assert client.get("/api/v1/playlists").get_json()["total"] == 0
    assert client.get("/api/v1/collection/albums").get_json()["total"] == 0


def test_whole_numbers_still_load_as_integers(client, auth):
    response = client.post("/api/v1/collection/albums", json={"title": "Post", "artists": ["Björk"], "year": 1995.0},
                           headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["year"] == 1995


@pytest.mark.backend_independent
def test_missing_required_fields_are_422(client, auth):
    body = assert_problem(client.post("/api/v1/collection/albums", json={}, headers=auth), 422)
    assert set(body["errors"]) == {"title", "artists"}


@pytest.mark.backend_independent
def test_unknown_fields_are_422(client, auth):
    body = assert_problem(client.post("/api/v1/collection/albums", json=album_body(colour="red"), headers=auth), 422)
    assert body["errors"] == {"colour": ["Unknown field."]}
    assert client.get("/api/v1/collection/albums").get_json()["total"] == 0


@pytest.mark.backend_independent
@pytest.mark.parametrize("query, field", [("page=0", "page"), ("page_size=101", "page_size"), ("page=x", "page"),
                                          ("sort=colour", "sort"), ("year=abc", "year")])
def test_bad_album_queries_are_422(client, query, field):
    body = assert_problem(client.get(f"/api/v1/collection/albums?{query}"), 422)
    assert field in body["errors"]


@pytest.mark.backend_independent
@pytest.mark.parametrize("query, field", [("page_size=1001", "page_size"), ("start_date=yesterday", "start_date"),
                                          ("loved=maybe", "loved"), ("tz=Mars/Olympus", "tz"),
                                          ("start_date=2024-02-01&end_date=2024-01-01", "end_date")])
def test_bad_journal_queries_are_422(client, query, field):
    body = assert_problem(client.get(f"/api/v1/history/tracks?{query}"), 422)
    assert field in body["errors"]


@pytest.mark.backend_independent
def test_bad_timeline_zone_is_422(client):
    body = assert_problem(client.get("/api/v1/history/timeline?date=2024-01-01&tz=Not/AZone"), 422)
    assert "tz" in body["errors"]


@pytest.mark.backend_independent
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dXNlcjpwdw=="},
                                     {"Authorization": "Bearer"}])
def test_writes_without_the_right_token_are_401_and_change_nothing(client, headers):
    response = client.post("/api/v1/collection/albums", json=album_body(), headers=headers)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/collection/albums").get_json()["total"] == 0


def test_token_scheme_is_accepted(client):
    from tests.conftest import TEST_TOKEN

    response = client.post("/api/v1/collection/albums", json=album_body(),
                           headers={"Authorization": f"Token {TEST_TOKEN}"})
    assert response.status_code == 201


def test_reads_are_public_unless_private(app, app_factory):
    from tests.conftest import TEST_TOKEN

    assert app.test_client().get("/api/v1/collection/albums").status_code == 200
    private = app_factory(app.extensions["aime.config"].replace(private=True))
    client = private.test_client()
    assert_problem(client.get("/api/v1/collection/albums"), 401)
    assert client.get("/api/v1/collection/albums", headers={"Authorization": f"Bearer {TEST_TOKEN}"}).status_code == 200


@pytest.mark.backend_independent
def test_unknown_route_is_404_and_wrong_method_is_405(client, auth):
    assert_problem(client.get("/api/v1/nothing-here"), 404)
    response = client.put("/api/v1/collection/albums", json={}, headers=auth)
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


@pytest.mark.backend_independent
def test_body_over_the_limit_is_413(client, auth):
    big = {"title": "x", "artists": ["y"], "ai_description": "z" * (1024 * 1024 + 10)}
    assert_problem(client.post("/api/v1/collection/albums", json=big, headers=auth), 413)


@pytest.mark.backend_independent
def test_unexpected_error_is_500_without_internals(app, client, caplog):
    def explode():
        raise RuntimeError("secret /srv/aime/data/musique.db SELECT password FROM users")

    app.add_url_rule("/api/v1/explode", "explode", explode)
    response = client.get("/api/v1/explode", headers={"X-Request-ID": "req-123"})
    body = assert_problem(response, 500)
    text = response.get_data(as_text=True)
    for leak in ("secret", "/srv", "SELECT", "Traceback", "RuntimeError"):
        assert leak not in text
    assert body["request_id"] == "req-123" and response.headers["X-Request-ID"] == "req-123"


@pytest.mark.backend_independent
def test_openapi_document_is_served(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["info"]["title"] == "AIME"
    for path in ("/api/v1/collection/albums", "/api/v1/collection/albums/{album_id}", "/api/v1/history/tracks",
                 "/api/v1/history/timeline", "/api/v1/history/stats", "/api/v1/search",
                 "/api/v1/collection/export/json", "/api/v1/collection/export/markdown"):
        assert path in spec["paths"], path
