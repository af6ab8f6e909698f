"""Top tracks count a song (artist + title) across the albums it appears on (issue 14, item 6).

The issue's case at small scale, every play one hour apart in January 2024 (UTC):
  Ocean, The Bitter Pilots: 40 plays on "Sea", 5 on "Live", 2 on "Best Of" = 47 plays (most played album: Sea)
  Wind,  The Bitter Pilots: 45 plays on "Sea"
  Rain,  Other Band:        43 plays on "Clouds"
By album row the ranking was Wind 45, Rain 43, Ocean 40, ... (Ocean's 47 plays never counted together);
by song it is Ocean 47, Wind 45, Rain 43.
"""
from __future__ import annotations

import pytest

from tests.conftest import TEST_TOKEN

from .conftest import get_ok

LB = {"Authorization": f"Token {TEST_TOKEN}"}
START = 1704067200  # 2024-01-01T00:00:00Z
SONGS = [("The Bitter Pilots", "Ocean", "Sea", 40), ("The Bitter Pilots", "Ocean", "Live", 5),
         ("The Bitter Pilots", "Ocean", "Best Of", 2), ("The Bitter Pilots", "Wind", "Sea", 45),
         ("Other Band", "Rain", "Clouds", 43)]


@pytest.fixture
def songs(client):
    """The plays above, submitted in one ListenBrainz import."""
    payload, n = [], 0
    for artist, title, album, plays in SONGS:
        for _ in range(plays):
            payload.append({"listened_at": START + 3600 * n, "track_metadata": {
                "artist_name": artist, "track_name": title, "release_name": album}})
            n += 1
    response = client.post("/1/submit-listens", json={"listen_type": "import", "payload": payload}, headers=LB)
    assert response.status_code == 200, response.get_json()
    return n


def _ranking(items):
    return [(i["name"], i["artist"], i["album"], i["plays"]) for i in items]


EXPECTED = [("Ocean", "The Bitter Pilots", "Sea", 47), ("Wind", "The Bitter Pilots", "Sea", 45),
            ("Rain", "Other Band", "Clouds", 43)]


def test_top_tracks_count_a_song_across_albums(client, songs):
    assert songs == 135
    year = get_ok(client, "/api/v1/history/top/tracks", start_date="2024-01-01", end_date="2024-12-31")
    assert _ranking(year["items"]) == EXPECTED
    all_time = get_ok(client, "/api/v1/history/top/tracks", limit=2)  # the rollup path
    assert _ranking(all_time["items"]) == EXPECTED[:2]
    stats = get_ok(client, "/api/v1/history/stats", start_date="2024-01-01", end_date="2024-12-31", limit=3)
    assert _ranking(stats["top_tracks"]) == EXPECTED
    assert stats["unique_tracks"] == 5  # album rows stay distinct where that is what is counted


def test_the_shown_track_is_the_most_played_albums(client, songs):
    item = get_ok(client, "/api/v1/history/top/tracks", limit=1)["items"][0]
    journal = get_ok(client, "/api/v1/history/tracks", artist="The Bitter Pilots", album="Sea", page_size=1000)
    ocean_on_sea = {i["track_id"] for i in journal["items"] if i["title"] == "Ocean"}
    assert ocean_on_sea == {item["id"]}
    assert item["album_id"] == journal["items"][0]["album_id"]


def test_stats_page_ranks_the_song(client, songs):
    page = client.get("/stats?start_date=2024-01-01&end_date=2024-12-31").get_data(as_text=True)
    tracks = page.split("<h2>Top tracks</h2>", 1)[1].split("</section>", 1)[0]
    assert tracks.index("Ocean") < tracks.index("Wind") < tracks.index("Rain")
    assert ">47<" in tracks and ">40<" not in tracks


def _track_ids(client) -> dict[tuple[str, str], int]:
    journal = get_ok(client, "/api/v1/history/tracks", page_size=1000)["items"]
    return {(i["title"], i["album"]): i["track_id"] for i in journal}


def test_playlists_that_pick_by_plays_count_songs(client, auth, songs):
    ids = _track_ids(client)
    # Rediscovery (not heard for 30 days, played 3+ times): one entry per song, most played first, each shown
    # by its most played album's track. By album row it was Wind, Rain, Ocean/Sea, Ocean/Live (Ocean twice).
    body = client.post("/api/v1/playlists/generate", json={"algorithm": "rediscovery", "days": 30, "seed": 1,
                                                           "max_tracks": 5}, headers=auth).get_json()
    assert [t["track_id"] for t in body["tracks"]] == [ids[("Ocean", "Sea")], ids[("Wind", "Sea")],
                                                        ids[("Rain", "Clouds")]]
    # Artist flow from a top artist takes that artist's most played songs first: Ocean (47), then Wind (45).
    flow = client.post("/api/v1/playlists/generate", json={"algorithm": "artist_flow", "seed": 1, "max_tracks": 5},
                       headers=auth).get_json()
    versions = (ids[("Ocean", "Sea")], ids[("Wind", "Sea")], ids[("Ocean", "Live")], ids[("Ocean", "Best Of")])
    pilots = [t["track_id"] for t in flow["tracks"] if t["track_id"] in versions]
    assert sorted(pilots) == sorted([ids[("Ocean", "Sea")], ids[("Wind", "Sea")]])
