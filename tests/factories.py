"""Small helpers that create data through the API, the way a user would."""
from __future__ import annotations


def album_body(title="Homogenic", artists=("Björk",), **extra) -> dict:
    """A valid POST /collection/albums body."""
    body = {"title": title, "artists": list(artists)}
    body.update(extra)
    return body


def create_album(client, auth, title="Homogenic", artists=("Björk",), **extra) -> dict:
    """Create an album through the API and return its JSON (asserting 201)."""
    response = client.post("/api/v1/collection/albums", json=album_body(title, artists, **extra), headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def add_listen(client, auth, artist, title, played_at, album=None, **extra) -> dict:
    """Record a play through the API (asserting 201)."""
    body = {"artist": artist, "title": title, "played_at": played_at, **extra}
    if album:
        body["album"] = album
    response = client.post("/api/v1/history/tracks", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()
