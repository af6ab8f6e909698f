"""One registry entry is enough for a playlist algorithm: the API schema, its docs and the page derive from it."""
from __future__ import annotations

from sqlalchemy import select

from aime.extensions import db
from aime.models import Track
from aime.services.playlist_algorithms import BUILT_INS, Algorithm, algorithms, register_algorithm
from tests.web.test_pages import signed_in_client

BUILT_IN_NAMES = ["top_sessions", "artist_correlations", "artist_flow", "time_based", "complete_albums",
                  "rediscovery", "ai_generated"]


def _first_two(ctx):
    """A throwaway algorithm: the two smallest track ids, whatever the history."""
    return list(db.session.scalars(select(Track.id).order_by(Track.id).limit(2)))


def test_one_registered_entry_is_accepted_by_the_api_and_listed_on_the_page(app, auth, history):
    register_algorithm(app, Algorithm("first_two", "The first two", _first_two, ("days",)))
    client = app.test_client()
    response = client.post("/api/v1/playlists/generate", json={"algorithm": "first_two", "seed": 3, "days": 9,
                                                               "tz": "UTC"}, headers=auth)
    assert response.status_code == 201
    body = response.get_json()
    assert [t["track_id"] for t in body["tracks"]] == sorted(history.values())[:2]
    assert body["algorithm"] == "first_two" and body["name"].startswith("The first two · ")
    assert body["parameters"] == {"seed": 3, "max_tracks": 25, "tz": "UTC", "days": 9}
    signed_in, _csrf = signed_in_client(app)
    html = signed_in.get("/playlists").get_data(as_text=True)
    assert '<option value="first_two">The first two</option>' in html
    assert '<option value="time_based">Peak hour</option>' in html


def test_an_algorithm_registered_in_one_app_is_unknown_to_another(app, app_factory, auth, history):
    register_algorithm(app, Algorithm("first_two", "The first two", _first_two))
    other = app_factory(app.extensions["aime.config"])
    with other.app_context():
        assert list(algorithms()) == BUILT_IN_NAMES
    response = other.test_client().post("/api/v1/playlists/generate", json={"algorithm": "first_two"}, headers=auth)
    assert response.status_code == 422
    assert response.get_json()["errors"]["algorithm"] == [
        "Must be one of: " + ", ".join(BUILT_IN_NAMES) + "."]


def test_the_openapi_enum_and_the_labels_come_from_the_registry(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    field = spec["components"]["schemas"]["PlaylistGenerate"]["properties"]["algorithm"]
    assert field["enum"] == BUILT_IN_NAMES == list(BUILT_INS)
    assert [entry.label for entry in BUILT_INS.values()] == [
        "Top sessions", "Artists that go together", "Artist flow", "Peak hour", "Complete albums", "Rediscovery",
        "AI selection"]
