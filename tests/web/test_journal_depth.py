"""The journal stays right (and quick) deep in a large history: page 500 of 25,050 plays."""
from __future__ import annotations

import re
import time

import sqlalchemy as sa

from aime.models import Artist, Listen, Track

PLAYS = 25_050
BASE = 1_600_000_000  # 2020-09-13T12:26:40Z


def test_page_500_shows_the_right_plays(app, db, client):
    artist = Artist(name="Many", name_key="many")
    db.session.add(artist)
    db.session.flush()
    tracks = [Track(title=f"Song {n}", title_key=f"song {n}", artist_id=artist.id, loved=False) for n in range(50)]
    db.session.add_all(tracks)
    db.session.flush()
    ids = [t.id for t in tracks]
    db.session.execute(sa.insert(Listen), [
        {"track_id": ids[i % 50], "played_at": BASE + i * 60, "source": "test", "client": None, "import_id": None}
        for i in range(PLAYS)])
    db.session.commit()

    started = time.perf_counter()
    response = client.get("/journal?page=500&tz=UTC")
    elapsed = time.perf_counter() - started
    print(f"journal page 500 of {PLAYS} plays: {elapsed * 1000:.0f} ms")  # measured, not asserted
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    # Newest first: page 500 holds plays number 24,951..25,000 counted from the newest, i.e. i = 99..50.
    times = re.findall(r'<time datetime="([^"]+)">', html)
    assert len(times) == 50
    assert times[0] == "2020-09-13T14:05:40+00:00"  # BASE + 99 min
    assert times[-1] == "2020-09-13T13:16:40+00:00"  # BASE + 50 min
    assert "Page 500 of 501 (25050)" in html
