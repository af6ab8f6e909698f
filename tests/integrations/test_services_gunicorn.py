"""Exactly once under real gunicorn (3 workers): one poller for the fake Last.fm, `active` survives a restart."""
import itertools
from contextlib import contextmanager
from datetime import datetime

import pytest
import requests

from aime.timeutil import to_epoch
from tests.conftest import TEST_TOKEN  # the database_url fixture: tests/conftest.py
from tests.integrations.fakes import FakeLastfm
from tests.support.polling import poll
from tests.support.servers import Gunicorn, gunicorn

T0 = 1_699_963_200
INTERVAL = 0.5  # AIME_LASTFM_POLL_SECONDS
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
pytestmark = [pytest.mark.integration, pytest.mark.slow]


@contextmanager
def restarted(env, log_path):
    server = Gunicorn(env, log_path).start()
    try:
        yield server
    finally:
        server.stop()


def journal(server):
    body = requests.get(server.url("/api/v1/history/tracks?page_size=50"), timeout=5).json()
    return sorted((item["title"], to_epoch(datetime.fromisoformat(item["played_at"]))) for item in body["items"])


def test_three_workers_poll_once_per_interval_and_active_survives_a_restart(httpserver, tmp_path, database_url):
    fake = FakeLastfm(httpserver)
    fake.add("Daft Punk", "One More Time", "Discovery", T0)
    env = {"AIME_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url,
           "AIME_API_TOKEN": TEST_TOKEN, "AIME_WORKERS": "3", "AIME_THREADS": "2", "AIME_LOG_LEVEL": "warning",
           "AIME_SERVICE_LEASE_SECONDS": "1.5", "AIME_LASTFM_POLL_SECONDS": str(INTERVAL),
           "AIME_LASTFM_API_KEY": fake.api_key, "AIME_LASTFM_USER": "alice", "AIME_LASTFM_BASE_URL": fake.base_url}
    (tmp_path / "data").mkdir()

    with gunicorn(env, tmp_path / "gunicorn-1.log") as server:
        response = requests.post(server.url("/api/v1/services/tracker/start"), headers=AUTH, timeout=5)
        assert response.status_code == 200, response.text
        status = poll(lambda: (s := requests.get(server.url("/api/v1/services/tracker/status"), timeout=5)
                                     .json())["running"] and s, what="a lease holder")
        holder = status["holder"]
        poll(lambda: journal(server) == [("One More Time", T0)], what="the first scrobble")

        # Three plays between two polls.
        fake.add("Nina Simone", "Feeling Good", None, T0 + 240)
        fake.add("Miles Davis", "So What", "Kind of Blue", T0 + 800)
        fake.add("Björk", "Jóga", "Homogenic", T0 + 1105)
        poll(lambda: len(journal(server)) == 4, what="the three new scrobbles")
        seen = len(fake.times)
        poll(lambda: len(fake.times) >= seen + 8, what="eight more polls")

        assert journal(server) == sorted([("One More Time", T0), ("Feeling Good", T0 + 240),
                                          ("So What", T0 + 800), ("Jóga", T0 + 1105)])
        final = requests.get(server.url("/api/v1/services/tracker/status"), timeout=5).json()
        assert final["holder"] == holder  # one process held it throughout
        assert final["state"]["last_uts"] == T0 + 1105
        # One poller: consecutive polls are an interval apart (three pollers would land ~interval/3 apart),
        # and every poll after the three arrived asks only for what came after them.
        times = fake.times[1:]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        print(f"polls: {len(fake.times)}, gaps min {min(gaps):.3f}s max {max(gaps):.3f}s")
        assert min(gaps) >= INTERVAL * 0.8, gaps
        assert fake.requests[-1]["from"] == str(T0 + 1105 + 1)
        assert final["state"]["stored_total"] == 4
        assert fake.api_key not in server.log_text()

    polls_before_restart = len(fake.times)
    with restarted(env, tmp_path / "gunicorn-2.log") as server:  # same database, already migrated
        status = requests.get(server.url("/api/v1/services/tracker/status"), timeout=5).json()
        assert status["active"] is True
        poll(lambda: len(fake.times) > polls_before_restart, what="polling after the restart")
        assert fake.requests[polls_before_restart]["from"] == str(T0 + 1105 + 1)  # resumed, nothing re-read
        fake.add("Air", "Sexy Boy", "Moon Safari", T0 + 2000)
        poll(lambda: len(journal(server)) == 5, what="a scrobble after the restart")
        response = requests.post(server.url("/api/v1/services/tracker/stop"), headers=AUTH, timeout=5)
        assert response.json()["active"] is False
