"""AI endpoints: 503 without configuration; descriptions stored clean; batch enrichment; the listening haiku."""
import json
import random
import time

import pytest

from aime.errors import NotConfigured
from aime.integrations import ai
from aime.services.ai_playlist import generate_ai_playlist

from .conftest import CHAT, add_album, completion


@pytest.mark.parametrize("method, path", [("post", "/api/v1/services/ai/enrich-album/1"),
                                          ("post", "/api/v1/services/ai/enrich-all"),
                                          ("get", "/api/v1/history/haiku?days=7")])
def test_without_configuration_answers_503_problem(bare_app, auth, method, path):
    response = getattr(bare_app.test_client(), method)(path, headers=auth)
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 503 and body["detail"].startswith("AI is not configured")


def test_enrich_album_stores_clean_text(ai_client, auth, httpserver):
    album_id = add_album(ai_client, auth, "Homogenic", ["Björk"], year=1997, genre="Electronic")
    httpserver.expect_request(CHAT, method="POST").respond_with_json(
        completion("**Homogenic** is <i>icy</i> and warm at once.\n\n- Strings\n- Beats"))
    response = ai_client.post(f"/api/v1/services/ai/enrich-album/{album_id}", headers=auth)
    assert response.status_code == 200, response.get_json()
    expected = "Homogenic is icy and warm at once.\n\nStrings\nBeats"
    assert response.get_json() == {"album_id": album_id, "title": "Homogenic", "ai_description": expected}
    assert ai_client.get(f"/api/v1/collection/albums/{album_id}").get_json()["ai_description"] == expected
    prompt = httpserver.log[0][0].get_json()["messages"][1]["content"]
    assert '"Homogenic" by Björk (1997, Electronic)' in prompt


def test_enrich_album_limits_length_and_needs_token(ai_client, auth, httpserver):
    album_id = add_album(ai_client, auth, "Long", ["Talker"])
    assert ai_client.post(f"/api/v1/services/ai/enrich-album/{album_id}").status_code == 401
    httpserver.expect_request(CHAT, method="POST").respond_with_json(completion("abcd " * 400))
    stored = ai_client.post(f"/api/v1/services/ai/enrich-album/{album_id}", headers=auth).get_json()
    assert stored["ai_description"] == ("abcd " * 239).rstrip() + "…"


def test_enrich_album_unknown_album_is_404_without_calling_ai(ai_client, auth, httpserver):
    assert ai_client.post("/api/v1/services/ai/enrich-album/999", headers=auth).status_code == 404
    assert httpserver.log == []


def test_failing_endpoint_is_503_and_keeps_the_old_description(ai_app, ai_client, auth, httpserver):
    album_id = add_album(ai_client, auth, "Kept", ["Someone"], ai_description="Old words.")
    httpserver.expect_request(CHAT, method="POST").respond_with_json({}, status=500)
    response = ai_client.post(f"/api/v1/services/ai/enrich-album/{album_id}", headers=auth)
    assert response.status_code == 503 and response.get_json()["title"] == "AI endpoint unavailable"
    assert ai_client.get(f"/api/v1/collection/albums/{album_id}").get_json()["ai_description"] == "Old words."


def test_enrich_all_describes_only_albums_without_description(ai_client, auth, httpserver):
    first = add_album(ai_client, auth, "First", ["A"])
    add_album(ai_client, auth, "Described", ["B"], ai_description="Already here.")
    third = add_album(ai_client, auth, "Third", ["C"])
    httpserver.expect_ordered_request(CHAT, method="POST").respond_with_json(completion("One."))
    httpserver.expect_ordered_request(CHAT, method="POST").respond_with_json(completion("Three."))
    body = ai_client.post("/api/v1/services/ai/enrich-all", json={"limit": 10}, headers=auth).get_json()
    assert body == {"processed": 2, "enriched": 2, "failed": 0, "remaining": 0, "album_ids": [first, third],
                    "errors": []}
    assert len(httpserver.log) == 2


def test_enrich_all_stops_when_the_circuit_opens(ai_client, auth, httpserver):
    ids = [add_album(ai_client, auth, f"Album {n}", ["X"]) for n in range(4)]
    httpserver.expect_request(CHAT, method="POST").respond_with_json({}, status=500)
    body = ai_client.post("/api/v1/services/ai/enrich-all", headers=auth).get_json()
    # Albums 0 and 1 fail (2 attempts each), which opens the breaker (threshold 2); album 2 is refused at once.
    assert (body["processed"], body["enriched"], body["failed"], body["remaining"]) == (3, 0, 3, 4)
    assert [e["album_id"] for e in body["errors"]] == ids[:3]
    assert "not calling it again" in body["errors"][2]["error"]
    assert len(httpserver.log) == 4


def test_enrich_all_rejects_a_bad_limit(ai_client, auth):
    response = ai_client.post("/api/v1/services/ai/enrich-all", json={"limit": 0}, headers=auth)
    assert response.status_code == 422 and "limit" in response.get_json()["errors"]


def test_listening_haiku(ai_client, auth, httpserver):
    now = int(time.time())
    plays = [("Björk", "Hunter", now - 3600), ("Björk", "Jóga", now - 7200), ("Miles Davis", "So What", now - 86400),
             ("Old Band", "Old Song", now - 10 * 86400)]  # ten days ago: outside the 7-day window
    for artist, title, at in plays:
        played = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
        assert ai_client.post("/api/v1/history/tracks", json={"artist": artist, "title": title, "played_at": played},
                              headers=auth).status_code == 201
    httpserver.expect_request(CHAT, method="POST").respond_with_json(
        completion("# Haiku\nIce and trumpet blue\n*Hunter* walks the frozen street\nSo what, says the night"))
    response = ai_client.get("/api/v1/history/haiku?days=7")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["haiku"] == "Haiku\nIce and trumpet blue\nHunter walks the frozen street\nSo what, says the night"
    assert body["listens"] == 3 and body["top_artists"] == ["Björk", "Miles Davis"] and body["days"] == 7
    prompt = httpserver.log[0][0].get_json()["messages"][1]["content"]
    assert "3 plays, mostly Björk, Miles Davis" in prompt and "Old Band" not in prompt
    # Asked again within the cache period: the same haiku, no second AI call.
    assert ai_client.get("/api/v1/history/haiku?days=7").get_json() == body
    assert len(httpserver.log) == 1


def test_haiku_days_are_validated(ai_client):
    response = ai_client.get("/api/v1/history/haiku?days=0")
    assert response.status_code == 422 and "days" in response.get_json()["errors"]


CANDIDATES = [{"track_id": n, "title": f"Song {n}", "artist": "Band"} for n in range(10, 16)]


def test_ai_playlist_keeps_known_ids_in_the_ai_order(bare_ai_app, httpserver):
    httpserver.expect_request(CHAT, method="POST").respond_with_json(
        completion("Here you go: [12, 99, 10, 12, 15, 11]"))
    with bare_ai_app.app_context():
        chosen = generate_ai_playlist(bare_ai_app.extensions["aime.config"], "rainy sunday", CANDIDATES, 3,
                                      random.Random(1))
    assert chosen == [12, 10, 15]  # 99 is not a candidate, the second 12 is a repeat, then max_tracks=3
    prompt = httpserver.log[0][0].get_json()["messages"][1]["content"]
    assert "rainy sunday" in prompt and "13: Band - Song 13" in prompt


def test_ai_playlist_answer_without_candidates_is_an_error(bare_ai_app, httpserver):
    httpserver.expect_request(CHAT, method="POST").respond_with_json(completion("I cannot help with that."))
    with bare_ai_app.app_context(), pytest.raises(ai.AIUnavailable, match="none of the candidate"):
        generate_ai_playlist(bare_ai_app.extensions["aime.config"], None, CANDIDATES, 5, random.Random(1))


def test_ai_playlist_not_configured(bare_app):
    with bare_app.app_context(), pytest.raises(NotConfigured):
        generate_ai_playlist(bare_app.extensions["aime.config"], None, CANDIDATES, 5, random.Random(1))


def test_scheduled_haiku_and_enrichment_tasks_write_their_files(ai_app, ai_client, auth, httpserver):
    from aime.jobs import tasks

    for title in ("Kind of Blue", "Homogenic"):
        add_album(ai_client, auth, title, ["Artist"])
    httpserver.expect_request(CHAT, method="POST").respond_with_json(
        completion("<p>Blue smoke</p>\n*trumpet* in the late rain\nthe needle lifts"))
    run = tasks.run_task(ai_app, "haiku", "manual")
    assert run["status"] == "success" and run["output_file"].startswith("haiku-") and run["output_file"].endswith(".md")
    text = (ai_app.extensions["aime.config"].data_dir / "scheduled-output" / run["output_file"]).read_text()
    assert "## Kind of Blue — Artist" in text and "## Homogenic — Artist" in text
    assert text.count("Blue smoke  \ntrumpet in the late rain  \nthe needle lifts") == 2
    assert len(httpserver.log) == 2  # one haiku per album (five are asked for; the collection has two)

    run = tasks.run_task(ai_app, "ai_enrichment", "schedule")
    summary = json.loads((ai_app.extensions["aime.config"].data_dir / "scheduled-output" / run["output_file"])
                         .read_text())
    assert run["status"] == "success" and (summary["enriched"], summary["remaining"]) == (2, 0)


def test_ai_playlist_accepts_objects_with_track_ids(bare_ai_app, httpserver):
    httpserver.expect_request(CHAT, method="POST").respond_with_json(
        completion('```json\n[{"track_id": 14, "title": "Song 14"}, {"id": 11}]\n```'))
    with bare_ai_app.app_context():
        assert generate_ai_playlist(bare_ai_app.extensions["aime.config"], None, CANDIDATES, 5,
                                    random.Random(1)) == [14, 11]
