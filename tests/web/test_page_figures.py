"""Figures on the pages that were wrong for a new user (issue 14, item 5): listening time under an hour,
and a time axis that hides empty months."""
from __future__ import annotations

import re
import time

from tests.factories import add_listen, create_album
from aime.timeutil import iso


def test_home_shows_minutes_below_an_hour(client, auth):
    now = int(time.time())
    for offset, title in ((2, "One"), (1, "Two")):  # two plays of 9 minutes this week: 18 min, not "0 h"
        add_listen(client, auth, "Band", title, iso(now - offset), duration_seconds=540)
    html = client.get("/").get_data(as_text=True)
    assert '<span class="big">18 min</span> listened this week' in html


def test_stats_shows_hours_with_a_decimal_from_one_hour(client, auth):
    for day in range(1, 6):  # five plays of 30 minutes = 2.5 h
        add_listen(client, auth, "Band", f"Long {day}", f"2024-01-0{day}T10:00:00Z", duration_seconds=1800)
    html = client.get("/stats?start_date=2024-01-01&end_date=2024-01-31").get_data(as_text=True)
    assert '<span class="big">2.5 h</span> listened' in html


def test_album_plays_chart_shows_the_empty_months_between_plays(client, auth):
    album = create_album(client, auth, "Sea", ["The Bitter Pilots"], tracks=[{"title": "Ocean"}])
    for played_at in ("2023-11-10T10:00:00Z", "2024-01-10T10:00:00Z", "2026-10-10T10:00:00Z",
                      "2026-11-01T10:00:00Z"):
        add_listen(client, auth, "The Bitter Pilots", "Ocean", played_at, album="Sea")
    html = client.get(f"/collection/{album['id']}").get_data(as_text=True)
    chart = html.split("<h2>Plays over time</h2>", 1)[1].split("</svg>", 1)[0]
    bars = re.findall(r"<title>(\d{4}-\d{2}): (\d+)</title>", chart)
    assert len(bars) == 37  # 2023-11 .. 2026-11, every month
    assert bars[0] == ("2023-11", "1") and bars[1] == ("2023-12", "0") and bars[-1] == ("2026-11", "1")
    assert sum(int(n) for _, n in bars) == 4


def test_imports_list_shows_the_plays_already_there(app, client, tmp_path):
    """Issue 14 item 10: a re-import showed only "Imported 0"; the list now has the duplicates column."""
    import json

    from aime.jobs import imports

    listens = [{"listened_at": 1699650251 + 600 * i, "track_metadata": {"artist_name": "A", "track_name": f"T{i}"}}
               for i in range(3)]
    path = tmp_path / "listens.json"
    path.write_text(json.dumps(listens), encoding="utf-8")
    with app.app_context():
        for _ in range(2):
            imports.run_job(imports.create_file_job(path, None))
    html = client.get("/imports").get_data(as_text=True)
    assert '<th scope="col">Imported</th><th scope="col">Already there</th>' in html
    rows = re.findall(r'<td class="status-(\w+)">\w+</td><td>(\d+)</td>\s*<td>(\d+)</td>', html)
    assert rows == [("done", "0", "3"), ("done", "3", "0")]  # newest first: the re-import found all 3 there
