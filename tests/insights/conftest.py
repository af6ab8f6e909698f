"""A small listening history whose statistics are worked out by hand in the tests.

Times are UTC; Europe/Zurich is UTC+1 in January/February (CET) and UTC+2 in July (CEST).

 play  UTC                    Zurich local              track (artist, album, seconds)
 p1    2024-01-05 22:40       Fri 05 Jan 23:40          A1 Alpha One (Alpha, Album A, 200)
 p2    2024-01-05 22:45       Fri 05 Jan 23:45          A2 Alpha Two (Alpha, Album A, 300)
 p3    2024-01-05 23:05       Sat 06 Jan 00:05          B1 Beta One  (Beta,  Album B, 240)
 p4    2024-01-05 23:30       Sat 06 Jan 00:30          A1
 p5    2024-01-06 14:00       Sat 06 Jan 15:00          C1 Gamma Long (Gamma, Album C, 1200)
 p6    2024-01-06 14:45       Sat 06 Jan 15:45          B1
 p7    2024-01-07 09:00       Sun 07 Jan 10:00          A2
 p8    2024-01-07 09:40       Sun 07 Jan 10:40          A1
 p9    2024-01-09 22:50       Tue 09 Jan 23:50          B1
 p10   2024-07-01 21:30       Mon 01 Jul 23:30 (CEST)   C1
 p11   2024-01-31 23:30       Thu 01 Feb 00:30          D1 Delta One (Delta, no album, unknown length)
"""
from __future__ import annotations

import pytest

TRACKS = {
    "A1": {"artist": "Alpha", "title": "Alpha One", "album": "Album A", "duration_seconds": 200},
    "A2": {"artist": "Alpha", "title": "Alpha Two", "album": "Album A", "duration_seconds": 300},
    "B1": {"artist": "Beta", "title": "Beta One", "album": "Album B", "duration_seconds": 240},
    "C1": {"artist": "Gamma", "title": "Gamma Long", "album": "Album C", "duration_seconds": 1200},
    "D1": {"artist": "Delta", "title": "Delta One"},
}
PLAYS = [
    ("A1", "2024-01-05T22:40:00Z"), ("A2", "2024-01-05T22:45:00Z"), ("B1", "2024-01-05T23:05:00Z"),
    ("A1", "2024-01-05T23:30:00Z"), ("C1", "2024-01-06T14:00:00Z"), ("B1", "2024-01-06T14:45:00Z"),
    ("A2", "2024-01-07T09:00:00Z"), ("A1", "2024-01-07T09:40:00Z"), ("B1", "2024-01-09T22:50:00Z"),
    ("C1", "2024-07-01T21:30:00Z"), ("D1", "2024-01-31T23:30:00Z"),
]


def post_plays(client, auth, plays=PLAYS) -> dict[str, int]:
    """Record plays through the API (so the rollups are maintained the normal way); track ids by key."""
    ids = {}
    for key, played_at in plays:
        response = client.post("/api/v1/history/tracks", json={**TRACKS[key], "played_at": played_at}, headers=auth)
        assert response.status_code == 201, response.get_json()
        ids[key] = response.get_json()["track_id"]
    return ids


@pytest.fixture
def history(client, auth) -> dict[str, int]:
    """The history above, recorded; returns track ids by key (A1, A2, B1, C1, D1)."""
    return post_plays(client, auth)


def get_ok(client, url: str, **params) -> dict:
    """GET an API URL and return its JSON, asserting 200."""
    response = client.get(url, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()
