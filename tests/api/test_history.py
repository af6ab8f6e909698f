"""History endpoints: journal, manual listens, album listens, love, timeline, stats."""
from tests.factories import add_listen, create_album


def test_manual_listen_appears_in_journal_newest_first(client, auth):
    add_listen(client, auth, "Björk", "Jóga", "2024-03-01T10:00:00Z", album="Homogenic")
    add_listen(client, auth, "Radiohead", "Airbag", "2024-03-01T11:00:00+01:00")  # the same instant, 10:00Z
    add_listen(client, auth, "Miles Davis", "So What", "2024-03-02T09:00:00Z")
    journal = client.get("/api/v1/history/tracks").get_json()
    assert journal["total"] == 3 and journal["pages"] == 1
    assert [(i["played_at"], i["artist"], i["title"]) for i in journal["items"]] == [
        ("2024-03-02T09:00:00Z", "Miles Davis", "So What"),
        ("2024-03-01T10:00:00Z", "Radiohead", "Airbag"),  # same instant: the newer track id first
        ("2024-03-01T10:00:00Z", "Björk", "Jóga"),
    ]
    item = journal["items"][2]
    assert set(item) == {"id", "played_at", "artist", "title", "album", "album_id", "track_id", "year", "loved",
                         "source", "album_image"}
    assert (item["album"], item["loved"], item["source"]) == ("Homogenic", False, "manual")
    assert journal["items"][1]["album"] is None and journal["items"][1]["album_id"] is None


def test_same_play_twice_is_409_and_a_genuine_repeat_is_kept(client, auth):
    add_listen(client, auth, "Björk", "Jóga", "2024-03-01T10:00:00Z")
    again = client.post("/api/v1/history/tracks", json={"artist": "bjork", "title": "JOGA",
                                                         "played_at": "2024-03-01T10:00:30Z"}, headers=auth)
    assert again.status_code == 409
    add_listen(client, auth, "Björk", "Jóga", "2024-03-01T10:05:00Z")  # five minutes later: a real repeat
    assert client.get("/api/v1/history/tracks").get_json()["total"] == 2


def test_journal_filters(client, auth):
    add_listen(client, auth, "Björk", "Jóga", "2024-03-01T10:00:00Z", album="Homogenic")
    add_listen(client, auth, "Björk", "Hunter", "2024-03-05T10:00:00Z", album="Homogenic")
    add_listen(client, auth, "Radiohead", "Airbag", "2024-03-10T10:00:00Z", album="OK Computer")

    def titles(query):
        response = client.get("/api/v1/history/tracks" + query)
        assert response.status_code == 200, response.get_json()
        return [i["title"] for i in response.get_json()["items"]]

    assert titles("?artist=bjork") == ["Hunter", "Jóga"]
    assert titles("?album=computer") == ["Airbag"]
    assert titles("?start_date=2024-03-02&end_date=2024-03-05") == ["Hunter"]
    assert titles("?source=manual&page_size=1&page=2") == ["Hunter"]
    track_id = client.get("/api/v1/history/tracks?artist=radiohead").get_json()["items"][0]["track_id"]
    client.post(f"/api/v1/history/tracks/{track_id}/love", json={"loved": True}, headers=auth)
    assert titles("?loved=true") == ["Airbag"]
    assert titles("?loved=false") == ["Hunter", "Jóga"]


def test_journal_items_carry_the_track_id_to_love(client, auth):
    """Issue 14 item 12: love takes a track id; a journal item's `id` is the listen's, `track_id` the song's."""
    add_listen(client, auth, "Björk", "Jóga", "2024-03-01T10:00:00Z")
    add_listen(client, auth, "Radiohead", "Airbag", "2024-03-01T11:00:00Z")
    add_listen(client, auth, "Björk", "Jóga", "2024-03-01T12:00:00Z")
    newest = client.get("/api/v1/history/tracks").get_json()["items"][0]
    assert (newest["title"], newest["id"], newest["track_id"]) == ("Jóga", 3, 1)
    loved = client.post(f"/api/v1/history/tracks/{newest['track_id']}/love", headers=auth)
    assert loved.get_json() == {"track_id": 1, "loved": True}
    journal = client.get("/api/v1/history/tracks").get_json()["items"]
    assert [(i["title"], i["loved"]) for i in journal] == [("Jóga", True), ("Airbag", False), ("Jóga", True)]


def test_love_sets_and_toggles(client, auth):
    track_id = add_listen(client, auth, "Björk", "Jóga", "2024-03-01T10:00:00Z")["track_id"]
    url = f"/api/v1/history/tracks/{track_id}/love"
    assert client.post(url, json={"loved": True}, headers=auth).get_json() == {"track_id": track_id, "loved": True}
    assert client.post(url, json={"loved": True}, headers=auth).get_json()["loved"] is True
    assert client.post(url, headers=auth).get_json()["loved"] is False  # no body toggles
    assert client.post(url, headers=auth).get_json()["loved"] is True
    assert client.post("/api/v1/history/tracks/999/love", headers=auth).status_code == 404


def test_album_listen_spaces_tracks_by_duration(client, auth):
    album = create_album(client, auth, tracks=[{"title": "Hunter", "duration_seconds": 255},
                                               {"title": "Jóga", "duration_seconds": 305},
                                               {"title": "Unravel"}])
    url = f"/api/v1/history/albums/{album['id']}/listen"
    result = client.post(url, json={"started_at": "2024-03-01T20:00:00Z"}, headers=auth)
    assert result.status_code == 201
    body = result.get_json()
    assert (body["created"], body["duplicates"]) == (3, 0)
    # 20:00:00, +255 s = 20:04:15, +305 s = 20:09:20 (Unravel has no duration; it is last so it does not matter)
    assert [(i["title"], i["played_at"]) for i in body["listens"]] == [
        ("Hunter", "2024-03-01T20:00:00Z"), ("Jóga", "2024-03-01T20:04:15Z"), ("Unravel", "2024-03-01T20:09:20Z")]
    again = client.post(url, json={"started_at": "2024-03-01T20:00:00Z"}, headers=auth).get_json()
    assert (again["created"], again["duplicates"]) == (0, 3)
    side = client.post(url, json={"started_at": "2024-03-02T20:00:00Z", "track_numbers": [2]}, headers=auth)
    assert [i["title"] for i in side.get_json()["listens"]] == ["Jóga"]
    detail = client.get(f"/api/v1/collection/albums/{album['id']}").get_json()
    assert (detail["play_count"], detail["last_played"]) == (4, "2024-03-02T20:00:00Z")
    assert client.post("/api/v1/history/albums/999/listen", headers=auth).status_code == 404


def test_play_at_2330_utc_lands_on_next_day_in_zurich(client, auth):
    add_listen(client, auth, "Björk", "Jóga", "2024-01-15T23:30:00Z", album="Homogenic")

    utc = client.get("/api/v1/history/timeline?date=2024-01-15&tz=UTC").get_json()
    assert utc["date"] == "2024-01-15" and utc["tz"] == "UTC"
    assert [i["title"] for i in utc["hours"]["23"]] == ["Jóga"]
    assert utc["stats"] == {"total_tracks": 1, "unique_artists": 1, "unique_albums": 1, "peak_hour": 23}

    zurich_before = client.get("/api/v1/history/timeline?date=2024-01-15&tz=Europe/Zurich").get_json()
    assert zurich_before["stats"]["total_tracks"] == 0
    zurich = client.get("/api/v1/history/timeline?date=2024-01-16&tz=Europe/Zurich").get_json()
    assert list(zurich["hours"]) == [str(h) for h in range(24)]  # hour order, not "0", "1", "10", ...
    assert [i["title"] for i in zurich["hours"]["0"]] == ["Jóga"]  # 23:30 UTC = 00:30 CET
    assert zurich["stats"]["peak_hour"] == 0

    assert client.get("/api/v1/history/stats?start_date=2024-01-16&end_date=2024-01-16&tz=Europe/Zurich"
                      ).get_json()["total_tracks"] == 1
    assert client.get("/api/v1/history/stats?start_date=2024-01-16&end_date=2024-01-16&tz=UTC"
                      ).get_json()["total_tracks"] == 0


def test_history_stats_by_hand(client, auth):
    album = create_album(client, auth, tracks=[{"title": "Hunter", "duration_seconds": 200},
                                               {"title": "Jóga", "duration_seconds": 300}])
    # Album played twice (4 plays, 1000 s), plus one loose Radiohead play of unknown length.
    client.post(f"/api/v1/history/albums/{album['id']}/listen", json={"started_at": "2024-05-01T08:00:00Z"},
                headers=auth)
    client.post(f"/api/v1/history/albums/{album['id']}/listen", json={"started_at": "2024-05-02T08:00:00Z"},
                headers=auth)
    add_listen(client, auth, "Radiohead", "Airbag", "2024-05-02T21:00:00Z")
    stats = client.get("/api/v1/history/stats?start_date=2024-05-01&end_date=2024-05-31").get_json()
    assert (stats["total_tracks"], stats["unique_artists"], stats["unique_albums"],
            stats["unique_tracks"]) == (5, 2, 1, 3)
    assert stats["total_duration_seconds"] == 1000
    assert stats["peak_hour"] == 8
    assert [(a["name"], a["plays"], a["duration_seconds"]) for a in stats["top_artists"]] == [
        ("Björk", 4, 1000), ("Radiohead", 1, 0)]
    assert [(a["name"], a["plays"]) for a in stats["top_albums"]] == [("Homogenic", 4)]
    tracks = [(t["name"], t["plays"]) for t in stats["top_tracks"]]
    assert sorted(tracks[:2]) == [("Hunter", 2), ("Jóga", 2)] and tracks[2:] == [("Airbag", 1)]  # a tie first


def test_future_listen_is_rejected(client, auth):
    response = client.post("/api/v1/history/tracks", json={"artist": "A", "title": "B",
                                                             "played_at": "2199-01-01T00:00:00Z"}, headers=auth)
    assert response.status_code == 422
    assert "played_at" in response.get_json()["errors"]
    assert client.get("/api/v1/history/tracks").get_json()["total"] == 0
