"""The timeline's hand-built body equals TimelineSchema's dump field for field, and the documented schema stays."""
from __future__ import annotations

import json
from datetime import date

from aime.config import current_config
from aime.schemas.history import TimelineSchema, timeline_body
from aime.services import history
from tests.factories import add_listen, create_album

# 2023-10-29 in Europe/Zurich has 25 hours: 02:00-03:00 comes twice (CEST, then CET).
PLAYS = [("Björk", "Hunter", "2023-10-28T22:30:00Z", "Homogenic"),  # 00:30 CEST
         ("Björk", "Jóga", "2023-10-29T00:30:00Z", "Homogenic"),  # 02:30 CEST
         ("Air", "Sexy Boy", "2023-10-29T01:30:00Z", None),  # 02:30 CET, no album: None fields
         ("Air", "Remember", "2023-10-29T22:59:59Z", None)]  # 23:59:59 CET, the day's last second


def _day(client, auth):
    album = create_album(client, auth, "Homogenic", ["Björk"], year=1997,
                         tracks=[{"title": "Hunter"}, {"title": "Jóga"}])
    for artist, title, played_at, album_title in PLAYS:
        add_listen(client, auth, artist, title, played_at, album=album_title)
    track_id = album["tracks"][0]["id"]
    assert client.post(f"/api/v1/history/tracks/{track_id}/love", json={"loved": True}, headers=auth).status_code == 200


def test_the_body_equals_the_schema_dump_for_a_dst_day(app, client, auth):
    _day(client, auth)
    with app.test_request_context():
        day = history.timeline(current_config(), date(2023, 10, 29), "Europe/Zurich")
        dumped = TimelineSchema().dump(day)
        built = timeline_body(day)
        assert built == dumped
        assert json.dumps(built, sort_keys=False) == json.dumps(dumped, sort_keys=False)  # the same field order
    assert built["date"] == "2023-10-29" and built["tz"] == "Europe/Zurich"
    assert [(i["title"], i["played_at"]) for i in built["hours"]["2"]] == [
        ("Jóga", "2023-10-29T00:30:00Z"), ("Sexy Boy", "2023-10-29T01:30:00Z")]
    hunter, sexy_boy = built["hours"]["0"][0], built["hours"]["2"][1]
    assert (hunter["album"], hunter["year"], hunter["loved"]) == ("Homogenic", 1997, True)
    assert (sexy_boy["album"], sexy_boy["album_id"], sexy_boy["year"], sexy_boy["album_image"], sexy_boy["loved"]) \
        == (None, None, None, None, False)
    assert built["stats"] == {"total_tracks": 4, "unique_artists": 2, "unique_albums": 1, "peak_hour": 2}


def test_the_route_serves_the_schema_dump_in_hour_order(app, client, auth):
    _day(client, auth)
    response = client.get("/api/v1/history/timeline?date=2023-10-29&tz=Europe/Zurich")
    with app.test_request_context():
        dumped = TimelineSchema().dump(history.timeline(current_config(), date(2023, 10, 29), "Europe/Zurich"))
    assert response.get_json() == dumped
    assert list(response.get_json()["hours"]) == [str(hour) for hour in range(24)]


def test_openapi_still_documents_the_timeline_schema(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    ok = spec["paths"]["/api/v1/history/timeline"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Timeline"}
    properties = spec["components"]["schemas"]["Timeline"]["properties"]
    assert sorted(properties) == ["date", "hours", "stats", "tz"]
