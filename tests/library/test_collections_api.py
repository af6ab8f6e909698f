"""/api/v1/collections: by hand, by query (genre, artist, period, support, label, listening facts), bad input."""
from __future__ import annotations

import time
from datetime import datetime, UTC

from tests.factories import add_listen, create_album


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _library(client, auth) -> dict:
    """Four owned records and one only heard; plays placed relative to now where the facts need it."""
    ids = {
        "kind_of_blue": create_album(client, auth, "Kind of Blue", ("Miles Davis",), year=1959, genre="Jazz",
                                     support="Vinyl", labels=["Columbia"], tracks=[{"title": "So What"}])["id"],
        "blue_train": create_album(client, auth, "Blue Train", ("John Coltrane",), year=1957, genre="Jazz",
                                   support="CD", labels=["Blue Note"], tracks=[{"title": "Locomotion"}])["id"],
        "ok_computer": create_album(client, auth, "OK Computer", ("Radiohead",), year=1997, genre="Rock",
                                    support="Vinyl", labels=["Parlophone"], tracks=[{"title": "Airbag"}])["id"],
        "homogenic": create_album(client, auth, "Homogenic", ("Björk",), year=1997, genre="Electronic",
                                  support="CD", labels=["One Little Indian"], tracks=[{"title": "Jóga"}])["id"],
    }
    now = int(time.time())
    # Kind of Blue: three winter-evening plays (UTC is AIME_TIMEZONE in tests) and nothing for three years.
    for moment in ("2021-12-20T19:00:00Z", "2022-01-10T21:30:00Z", "2022-02-01T18:00:00Z"):
        add_listen(client, auth, "Miles Davis", "So What", moment, album="Kind of Blue")
    # OK Computer: played yesterday, one winter morning and one winter evening.
    add_listen(client, auth, "Radiohead", "Airbag", _iso(now - 86400), album="OK Computer")
    add_listen(client, auth, "Radiohead", "Airbag", "2023-01-05T09:00:00Z", album="OK Computer")
    add_listen(client, auth, "Radiohead", "Airbag", "2023-01-06T22:00:00Z", album="OK Computer")
    # Homogenic: a summer evening only. Blue Train: never played. Post: heard, not owned.
    add_listen(client, auth, "Björk", "Jóga", "2023-07-01T20:00:00Z", album="Homogenic")
    add_listen(client, auth, "Björk", "Army of Me", "2022-01-01T20:00:00Z", album="Post")
    return ids


def _create(client, auth, body, status=201):
    response = client.post("/api/v1/collections", json=body, headers=auth)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _titles(collection) -> list[str]:
    return [a["title"] for a in collection["albums"]]


def test_a_collection_by_hand_keeps_order_reasons_and_ignores_repeats(client, auth):
    ids = _library(client, auth)
    made = _create(client, auth, {"name": "Sunday", "album_ids": [ids["homogenic"], ids["kind_of_blue"]],
                                  "reason": "slow mornings"})
    assert (made["kind"], made["query"], made["album_count"]) == ("manual", None, 2)
    assert _titles(made) == ["Homogenic", "Kind of Blue"]
    assert [a["reason"] for a in made["albums"]] == ["slow mornings", "slow mornings"]
    added = client.post(f"/api/v1/collections/{made['id']}/albums",
                        json={"album_ids": [ids["kind_of_blue"], ids["blue_train"]]}, headers=auth).get_json()
    assert [(a["title"], a["reason"], a["plays"]) for a in added["albums"]] == [
        ("Homogenic", "slow mornings", 1), ("Kind of Blue", "slow mornings", 3), ("Blue Train", "added by hand", 0)]
    removed = client.delete(f"/api/v1/collections/{made['id']}/albums/{ids['homogenic']}", headers=auth)
    assert _titles(removed.get_json()) == ["Kind of Blue", "Blue Train"]
    listing = client.get("/api/v1/collections").get_json()["items"]
    assert [(c["name"], c["album_count"]) for c in listing] == [("Sunday", 2)]


def test_queries_by_genre_artist_period_support_and_label(client, auth):
    ids = _library(client, auth)
    cases = [({"genre": "jazz"}, ["Blue Train", "Kind of Blue"]),  # by first artist: Coltrane, then Davis
             ({"artist": "radio"}, ["OK Computer"]),
             ({"year_from": 1990, "year_to": 1999}, ["Homogenic", "OK Computer"]),
             ({"support": "vinyl"}, ["Kind of Blue", "OK Computer"]),
             ({"label": "blue note"}, ["Blue Train"]),
             ({"genre": "Jazz", "support": "CD"}, ["Blue Train"])]
    for query, titles in cases:
        assert _titles(_create(client, auth, {"name": str(query), "query": query})) == titles, query
    jazz = _create(client, auth, {"name": "jazz on vinyl", "query": {"genre": "jazz", "support": "Vinyl"}})
    assert jazz["albums"][0]["reason"] == "Jazz · Vinyl"
    assert ids  # every album above came from the library


def test_listening_facts(client, auth):
    _library(client, auth)
    silent = _create(client, auth, {"name": "Forgotten", "query": {"fact": "not_played_for_days"}})
    # Never played first, then the longest silence; OK Computer (yesterday) and Post (not owned) are out.
    assert _titles(silent) == ["Blue Train", "Kind of Blue", "Homogenic"]
    assert silent["albums"][0]["reason"] == "never played"
    assert silent["albums"][1]["reason"].startswith("last played 2022-02-01, ")
    assert _titles(_create(client, auth, {"name": "n", "query": {"fact": "never_played"}})) == ["Blue Train"]
    most = _create(client, auth, {"name": "m", "query": {"fact": "most_played"}})
    assert [(a["title"], a["plays"]) for a in most["albums"]] == [("Kind of Blue", 3), ("OK Computer", 3),
                                                                 ("Homogenic", 1)]
    winter = _create(client, auth, {"name": "w", "query": {"fact": "winter_evenings"}})
    assert [(a["title"], a["reason"]) for a in winter["albums"]] == [
        ("Kind of Blue", "3 of its 3 plays on winter evenings (Dec-Feb, 18:00-24:00 UTC)"),
        ("OK Computer", "1 of its 3 plays on winter evenings (Dec-Feb, 18:00-24:00 UTC)")]
    heard_too = _create(client, auth, {"name": "h", "query": {"fact": "winter_evenings", "owned": False}})
    assert _titles(heard_too) == ["Kind of Blue", "Post", "OK Computer"]  # ties: by first artist (Björk)
    shorter = _create(client, auth, {"name": "s", "query": {"fact": "not_played_for_days", "days": 2, "limit": 2}})
    assert _titles(shorter) == ["Blue Train", "Kind of Blue"]


def test_patch_and_delete(client, auth):
    ids = _library(client, auth)
    made = _create(client, auth, {"name": "Jazz", "query": {"genre": "jazz"}})
    changed = client.patch(f"/api/v1/collections/{made['id']}", json={"name": "Rock", "query": {"genre": "rock"}},
                           headers=auth)
    assert (changed.status_code, changed.get_json()["name"], _titles(changed.get_json())) == (
        200, "Rock", ["OK Computer"])
    refused = client.post(f"/api/v1/collections/{made['id']}/albums", json={"album_ids": [ids["homogenic"]]},
                          headers=auth)
    assert (refused.status_code, refused.mimetype) == (409, "application/problem+json")
    assert client.delete(f"/api/v1/collections/{made['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/collections/{made['id']}").status_code == 404
    assert client.get(f"/api/v1/collection/albums/{ids['ok_computer']}").status_code == 200  # the album stays


def test_bad_input_is_a_clear_problem_and_stores_nothing(client, auth):
    ids = _library(client, auth)
    cases = [({"query": {"genre": "jazz"}}, 422, "name"),
             ({"name": "x", "query": {}}, 422, "query"),
             ({"name": "x", "query": {"fact": "sunny_days"}}, 422, "query"),
             ({"name": "x", "query": {"year_from": 2000, "year_to": 1990}}, 422, "query"),
             ({"name": "x", "query": {"genre": "jazz", "colour": "blue"}}, 422, "query"),
             ({"name": "x", "query": {"genre": "jazz"}, "album_ids": [ids["homogenic"]]}, 422, "album_ids"),
             ({"name": "x", "album_ids": [ids["homogenic"], 4242]}, 404, None),
             ({"name": "x", "wish": "calm jazz"}, 503, None)]
    for body, status, field in cases:
        response = client.post("/api/v1/collections", json=body, headers=auth)
        assert (response.status_code, response.mimetype) == (status, "application/problem+json"), body
        if field:
            assert field in response.get_json()["errors"], (body, response.get_json())
    assert client.get("/api/v1/collections").get_json()["items"] == []
    assert client.post("/api/v1/collections", json={"name": "x"}).status_code == 401
    assert client.get("/api/v1/collections/99").get_json()["detail"] == "Collection 99 does not exist."


def test_support_vinyl_finds_the_vinyle_records_of_discogs_imports_and_the_demo(client, auth):
    """AIME stores vinyl as "Vinyle"; the README's query {"support": "Vinyl"} found none of them."""
    homogenic = create_album(client, auth, "Homogenic", ("Björk",), year=1997, support="Vinyle")["id"]
    create_album(client, auth, "Post", ("Björk",), year=1995, support="CD")
    for support in ("Vinyl", "vinyle", "VINYL"):
        found = _create(client, auth, {"name": f"Forgotten {support}", "query": {
            "support": support, "fact": "not_played_for_days", "days": 730}})
        assert [(a["id"], a["reason"]) for a in found["albums"]] == [(homogenic, "Vinyle; never played")]
    cds = _create(client, auth, {"name": "CDs", "query": {"support": "cd"}})
    assert [a["title"] for a in cds["albums"]] == ["Post"]
