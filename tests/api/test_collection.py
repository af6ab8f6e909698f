"""Collection endpoints: create, list, filter, sort, change, delete, artists, stats."""
from tests.factories import add_listen, album_body, create_album

HOMOGENIC_TRACKS = [{"title": "Hunter", "duration_seconds": 255}, {"title": "Jóga", "duration_seconds": 305}]


def test_create_album_returns_it_with_artists_and_tracks(client, auth):
    album = create_album(client, auth, year=1997, support="Vinyle", genre="Electronic",
                         labels=["One Little Indian"], discogs_id=123, tracks=HOMOGENIC_TRACKS,
                         spotify_url="https://open.spotify.com/album/x")
    assert album["title"] == "Homogenic"
    assert [a["name"] for a in album["artists"]] == ["Björk"]
    assert [(t["track_number"], t["title"], t["duration_seconds"]) for t in album["tracks"]] == [
        (1, "Hunter", 255), (2, "Jóga", 305)]
    assert album["labels"] == ["One Little Indian"]
    assert album["in_collection"] is True and album["play_count"] == 0 and album["last_played"] is None
    assert album["created_at"].endswith("Z")

    fetched = client.get(f"/api/v1/collection/albums/{album['id']}").get_json()
    assert fetched == album


def test_artists_are_created_once_case_and_accent_insensitively(client, auth):
    create_album(client, auth, "Homogenic", ["Björk"])
    create_album(client, auth, "Debut", ["BJORK"])
    artists = client.get("/api/v1/collection/artists").get_json()
    assert artists["total"] == 1
    assert artists["items"] == [{"id": artists["items"][0]["id"], "name": "Björk", "album_count": 2}]


def test_same_title_different_artist_is_a_different_album(client, auth):
    first = create_album(client, auth, "Greatest Hits", ["Queen"])
    second = create_album(client, auth, "Greatest Hits", ["ABBA"])
    assert first["id"] != second["id"]


def test_same_album_twice_is_409(client, auth):
    create_album(client, auth, "Homogenic", ["Björk"])
    response = client.post("/api/v1/collection/albums", json=album_body("  homogenic ", ["bjork"]), headers=auth)
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert response.get_json()["status"] == 409


def test_duplicate_discogs_id_is_409(client, auth):
    create_album(client, auth, "A", ["X"], discogs_id=42)
    response = client.post("/api/v1/collection/albums", json=album_body("B", ["Y"], discogs_id=42), headers=auth)
    assert response.status_code == 409
    assert "42" in response.get_json()["detail"]
    assert client.get("/api/v1/collection/albums").get_json()["total"] == 1


def test_list_filters_sort_and_pages(client, auth):
    create_album(client, auth, "Kind of Blue", ["Miles Davis"], year=1959, support="Vinyle", genre="Jazz")
    create_album(client, auth, "OK Computer", ["Radiohead"], year=1997, support="CD", genre="Alternative Rock")
    create_album(client, auth, "Homogenic", ["Björk"], year=1997, support="Vinyle", genre="Electronic")

    def titles(query):
        response = client.get("/api/v1/collection/albums" + query)
        assert response.status_code == 200, response.get_json()
        return [a["title"] for a in response.get_json()["items"]]

    assert titles("") == ["Homogenic", "Kind of Blue", "OK Computer"]
    assert titles("?sort=-year") == ["Homogenic", "OK Computer", "Kind of Blue"]
    assert titles("?sort=artist") == ["Homogenic", "Kind of Blue", "OK Computer"]
    assert titles("?support=vinyle") == ["Homogenic", "Kind of Blue"]
    assert titles("?year=1997") == ["Homogenic", "OK Computer"]
    assert titles("?genre=jazz") == ["Kind of Blue"]
    assert titles("?artist=radio") == ["OK Computer"]
    assert titles("?search=bjork") == ["Homogenic"]  # matches the artist, accent-insensitively
    assert titles("?search=100%25") == []  # LIKE wildcards are literal
    page = client.get("/api/v1/collection/albums?page=2&page_size=2").get_json()
    assert page == {**page, "total": 3, "page": 2, "page_size": 2, "pages": 2}
    assert [a["title"] for a in page["items"]] == ["OK Computer"]
    assert client.get("/api/v1/collection/albums?page=9").get_json()["items"] == []


def test_put_replaces_and_patch_changes_some_fields(client, auth):
    album = create_album(client, auth, year=1997, genre="Electronic", tracks=HOMOGENIC_TRACKS)
    url = f"/api/v1/collection/albums/{album['id']}"
    patched = client.patch(url, json={"year": 1998}, headers=auth).get_json()
    assert (patched["year"], patched["genre"], len(patched["tracks"])) == (1998, "Electronic", 2)

    replaced = client.put(url, json=album_body("Homogenic (Remaster)", ["Björk"], tracks=[{"title": "Hunter"}]),
                          headers=auth)
    assert replaced.status_code == 200
    body = replaced.get_json()
    assert (body["title"], body["year"], body["genre"]) == ("Homogenic (Remaster)", None, None)
    assert [t["title"] for t in body["tracks"]] == ["Hunter"]


def test_delete_removes_album_without_plays(client, auth):
    album = create_album(client, auth)
    assert client.delete(f"/api/v1/collection/albums/{album['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/collection/albums/{album['id']}").status_code == 404


def test_delete_keeps_history_of_a_played_album(client, auth):
    album = create_album(client, auth, tracks=HOMOGENIC_TRACKS)
    played = client.post(f"/api/v1/history/albums/{album['id']}/listen", json={"started_at": "2024-01-01T10:00:00Z"},
                         headers=auth)
    assert played.status_code == 201
    assert client.delete(f"/api/v1/collection/albums/{album['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/collection/albums/{album['id']}").status_code == 404
    assert client.get("/api/v1/collection/albums").get_json()["total"] == 0
    journal = client.get("/api/v1/history/tracks").get_json()
    assert [(i["title"], i["album"], i["album_id"]) for i in journal["items"]] == [
        ("Jóga", None, None), ("Hunter", None, None)]


def test_delete_album_with_unplayed_tracks_removes_them(client, auth):
    """Regression: an album with tracks answered 500 (StaleDataError) on DELETE."""
    album = create_album(client, auth, tracks=HOMOGENIC_TRACKS)
    assert client.delete(f"/api/v1/collection/albums/{album['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/collection/albums/{album['id']}").status_code == 404
    assert client.get("/api/v1/collection/stats").get_json()["total_tracks"] == 0
    assert client.get("/api/v1/search?q=hunter&type=track").get_json()["tracks"] == []
    assert client.get("/api/v1/history/tracks").get_json()["total"] == 0


def test_delete_album_folds_its_plays_into_the_same_song_without_album(client, auth):
    add_listen(client, auth, "Björk", "Jóga", "2024-01-01T09:00:00Z")  # a loose play, no album
    album = create_album(client, auth, tracks=HOMOGENIC_TRACKS)
    add_listen(client, auth, "Björk", "Jóga", "2024-01-02T09:00:00Z", album="Homogenic")
    add_listen(client, auth, "Björk", "Hunter", "2024-01-03T09:00:00Z", album="Homogenic")
    assert client.delete(f"/api/v1/collection/albums/{album['id']}", headers=auth).status_code == 204
    journal = client.get("/api/v1/history/tracks").get_json()
    assert [(i["title"], i["album"], i["played_at"]) for i in journal["items"]] == [
        ("Hunter", None, "2024-01-03T09:00:00Z"), ("Jóga", None, "2024-01-02T09:00:00Z"),
        ("Jóga", None, "2024-01-01T09:00:00Z")]
    assert len({i["track_id"] for i in journal["items"] if i["title"] == "Jóga"}) == 1
    top = client.get("/api/v1/history/top/tracks?start_date=2024-01-01&end_date=2024-01-31").get_json()
    assert [(t["name"], t["album"], t["plays"]) for t in top["items"]] == [("Jóga", None, 2), ("Hunter", None, 1)]


def test_collection_stats(client, auth):
    create_album(client, auth, "Kind of Blue", ["Miles Davis"], year=1959, support="Vinyle",
                 tracks=[{"title": "So What"}])
    create_album(client, auth, "OK Computer", ["Radiohead"], year=1997, support="CD")
    create_album(client, auth, "Homogenic", ["Björk"], year=1997, support="Vinyle")
    create_album(client, auth, "Bootleg", ["Radiohead"])
    stats = client.get("/api/v1/collection/stats").get_json()
    assert stats == {
        "total_albums": 4, "total_artists": 3, "total_tracks": 1,
        "by_support": {"CD": 1, "Vinyle": 2, "unknown": 1},
        "by_year": {"1959": 1, "1997": 2, "unknown": 1},
        "by_decade": {"1950s": 1, "1990s": 2, "unknown": 1},
    }


def test_unknown_album_is_404_problem(client, auth):
    for method in ("get", "put", "patch", "delete"):
        kwargs = {"headers": auth}
        if method in ("put", "patch"):
            kwargs["json"] = album_body()
        response = getattr(client, method)("/api/v1/collection/albums/999", **kwargs)
        assert response.status_code == 404, method
        assert response.content_type == "application/problem+json"
        assert response.get_json()["detail"] == "Album 999 does not exist."
