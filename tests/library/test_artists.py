"""GET /api/v1/collection/artists/<id> and /artists/<id>, and the links to it from every page naming an artist."""
from __future__ import annotations

import re

from tests.factories import add_listen, create_album


def _library(client, auth) -> dict:
    """Björk: Homogenic owned (Jóga ×2, Hunter ×1), Post only heard (Army of Me ×1), Dual owned and never played."""
    homogenic = create_album(client, auth, "Homogenic", ("Björk",), year=1997,
                             tracks=[{"title": "Jóga"}, {"title": "Hunter"}])
    dual = create_album(client, auth, "Dual", ("Someone Else", "Björk"), year=2001)
    add_listen(client, auth, "Björk", "Jóga", "2024-03-01T10:00:00Z", album="Homogenic")
    add_listen(client, auth, "Björk", "Jóga", "2024-03-05T10:00:00Z", album="Homogenic")
    add_listen(client, auth, "Björk", "Hunter", "2024-03-02T10:00:00Z", album="Homogenic")
    add_listen(client, auth, "Björk", "Army of Me", "2024-04-01T08:30:00Z", album="Post")
    add_listen(client, auth, "Radiohead", "Airbag", "2024-04-02T08:30:00Z", album="OK Computer")
    artist_id = homogenic["artists"][0]["id"]
    return {"artist_id": artist_id, "homogenic": homogenic["id"], "dual": dual["id"]}


def test_artist_detail_counts_plays_albums_and_top_tracks(client, auth):
    lib = _library(client, auth)
    response = client.get(f"/api/v1/collection/artists/{lib['artist_id']}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["name"], body["play_count"]) == ("Björk", 4)
    assert (body["first_played"], body["last_played"]) == ("2024-03-01T10:00:00Z", "2024-04-01T08:30:00Z")
    assert [(a["title"], a["plays"], a["in_collection"]) for a in body["albums_owned"]] == [
        ("Homogenic", 3, True), ("Dual", 0, True)]
    homogenic = body["albums_owned"][0]
    assert (homogenic["first_played"], homogenic["last_played"]) == ("2024-03-01T10:00:00Z", "2024-03-05T10:00:00Z")
    assert [(a["title"], a["plays"], a["in_collection"]) for a in body["albums_heard"]] == [("Post", 1, False)]
    assert [(t["title"], t["album"], t["plays"]) for t in body["top_tracks"]] == [
        ("Jóga", "Homogenic", 2), ("Army of Me", "Post", 1), ("Hunter", "Homogenic", 1)]
    assert body["image_url"] is None


def test_artist_play_count_equals_the_all_time_artist_chart(client, auth):
    lib = _library(client, auth)
    chart = client.get("/api/v1/history/top/artists").get_json()["items"]
    detail = client.get(f"/api/v1/collection/artists/{lib['artist_id']}").get_json()
    assert {i["name"]: i["plays"] for i in chart} == {"Björk": detail["play_count"], "Radiohead": 1}


def test_image_is_the_cover_of_the_most_played_record_that_has_one(client, auth):
    lib = _library(client, auth)
    client.patch(f"/api/v1/collection/albums/{lib['dual']}", json={"image_url": "https://img.example/dual.jpg"},
                 headers=auth)
    body = client.get(f"/api/v1/collection/artists/{lib['artist_id']}").get_json()
    assert body["image_url"] == "https://img.example/dual.jpg"


def test_unknown_artist_is_a_problem_404(client):
    response = client.get("/api/v1/collection/artists/4242")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "Artist 4242 does not exist."


def test_artist_page_shows_the_same_numbers(client, auth):
    lib = _library(client, auth)
    html = client.get(f"/artists/{lib['artist_id']}").get_data(as_text=True)
    assert "<h1>Björk</h1>" in html
    assert re.search(r"data-artist-plays>(\d+)<", html).group(1) == "4"
    assert re.findall(r"data-album-plays>(\d+)<", html) == ["3", "0", "1"]
    assert client.get("/artists/4242").status_code == 404


def test_every_page_naming_an_artist_links_to_their_page(client, auth):
    lib = _library(client, auth)
    by_id = f'href="/artists/{lib["artist_id"]}"'
    by_name = 'href="/artists/named?name=Bj%C3%B6rk"'
    pages = {"/journal": by_name, "/timeline?date=2024-03-05": by_name, f"/collection/{lib['homogenic']}": by_id,
             "/collection": by_id, "/stats?period=all": by_id}
    for path, link in pages.items():
        html = client.get(path).get_data(as_text=True)
        assert link in html, path
    redirect = client.get("/artists/named?name=bjork")
    assert (redirect.status_code, redirect.headers["Location"]) == (302, f"/artists/{lib['artist_id']}")
    assert client.get("/artists/named?name=Nobody").status_code == 404
    assert client.get("/artists/named").status_code == 422
