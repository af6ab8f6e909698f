"""Scrobbling clients against real gunicorn (3 workers): playing now and Last.fm sessions are shared by every
worker and survive a restart; a 2 MB ListenBrainz import passes the real server."""
from __future__ import annotations

import json
import time

import pylast
import pytest
import requests

from aime.services.audioscrobbler import session_key
from tests.api.test_audioscrobbler import ToPlainHttp, network
from tests.conftest import TEST_TOKEN  # the database_url fixture: tests/conftest.py
from tests.support.servers import gunicorn

LB = {"Authorization": f"Token {TEST_TOKEN}"}
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _fresh_get(url: str) -> dict:
    # A new connection each time: gunicorn hands each to whichever worker accepts it first.
    return requests.get(url, headers={"Connection": "close"}, timeout=10).json()


def test_scrobblers_across_workers_and_a_restart(tmp_path, database_url):
    env = {"AIME_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url, "AIME_API_TOKEN": TEST_TOKEN,
           "AIME_WORKERS": "3", "AIME_THREADS": "2", "AIME_LOG_LEVEL": "warning"}
    (tmp_path / "data").mkdir()
    now = int(time.time())
    with gunicorn(env, tmp_path / "gunicorn-1.log") as server:
        body = {"listen_type": "playing_now", "payload": [{"track_metadata": {
            "artist_name": "Low", "track_name": "Words", "additional_info": {"duration": 300}}}]}
        assert requests.post(server.url("/1/submit-listens"), json=body, headers=LB, timeout=10).json() == {
            "status": "ok"}
        seen = {json.dumps(_fresh_get(server.url("/1/user/aime/playing-now"))["payload"]["listens"])
                for _ in range(12)}
        assert [json.loads(s)[0]["track_metadata"]["track_name"] for s in seen] == ["Words"]

        net = network(server.base_url)
        assert net.session_key == session_key(TEST_TOKEN, "aime")
        for i in range(6):  # each scrobble on a new connection, so on any worker
            net.scrobble("Low", f"Song {i}", now - 3000 + 300 * i)

        pad = "p" * 9000
        big = {"listen_type": "import", "payload": [
            {"listened_at": now - 100000 + 60 * i,
             "track_metadata": {"artist_name": "Cocteau Twins", "track_name": f"T{i}", "additional_info": {"c": pad}}}
            for i in range(230)]}
        data = json.dumps(big).encode()
        assert len(data) > 2_000_000
        response = requests.post(server.url("/1/submit-listens"), data=data, timeout=30,
                                 headers={**LB, "Content-Type": "application/json"})
        assert (response.status_code, response.json()) == (200, {"status": "ok"})

    with gunicorn(env, tmp_path / "gunicorn-2.log") as server:
        # The session key pylast got before the restart still works: it is derived, not kept in a worker.
        again = pylast._Network(name="AIME", homepage=server.base_url, ws_server=("aime.test", "/2.0/"),
                                api_key="k", api_secret="s", session_key=net.session_key, username="aime",
                                password_hash="", domain_names={}, urls={},
                                proxy={"https://": ToPlainHttp(server.base_url)})
        again.scrobble("Low", "Song 6", now - 1000)
        assert _fresh_get(server.url("/1/user/aime/playing-now"))["payload"]["listens"][0]["track_metadata"][
            "track_name"] == "Words"
        journal = requests.get(server.url("/api/v1/history/tracks?page_size=10&artist=Low"), timeout=10).json()
        assert [(i["title"], i["source"]) for i in journal["items"]] == [(f"Song {i}", "lastfm-api")
                                                                        for i in range(6, -1, -1)]
        assert _fresh_get(server.url("/1/user/aime/listen-count")) == {"payload": {"count": 237}}
