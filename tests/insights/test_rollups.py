"""The rollups stay equal to a recount from the listens, through additions, removals and rebuilds."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import delete, select, text

from aime.database import run_write
from aime.models import Listen
from aime.services import rollups
from aime.services.period_cover import day_units

from .conftest import PLAYS, post_plays


def _state(db):
    buckets = db.session.execute(text("SELECT bucket, plays FROM listen_buckets ORDER BY bucket")).all()
    totals = db.session.execute(text("SELECT track_id, plays, first_played_at, last_played_at "
                                     "FROM track_play_totals ORDER BY track_id")).all()
    artists = db.session.execute(text("SELECT artist_id, plays FROM artist_play_totals ORDER BY artist_id")).all()
    quarters = db.session.execute(text("SELECT month, quarter, plays FROM month_quarter_plays "
                                       "ORDER BY month, quarter")).all()
    return ([tuple(r) for r in buckets], [tuple(r) for r in totals], [tuple(r) for r in artists],
            [tuple(r) for r in quarters])


def _recount(db):
    buckets = db.session.execute(text("SELECT played_at / 900, COUNT(*) FROM listens GROUP BY played_at / 900 "
                                      "ORDER BY 1")).all()
    totals = db.session.execute(text("SELECT track_id, COUNT(*), MIN(played_at), MAX(played_at) FROM listens "
                                     "GROUP BY track_id ORDER BY track_id")).all()
    artists = db.session.execute(text("SELECT tracks.artist_id, COUNT(*) FROM listens JOIN tracks "
                                      "ON tracks.id = listens.track_id GROUP BY tracks.artist_id "
                                      "ORDER BY tracks.artist_id")).all()
    # (UTC month, 15-minute slot of the UTC day), counted here one listen at a time.
    quarters = Counter((day_units(at // 86400)[0], at % 86400 // 900)
                       for at in db.session.scalars(text("SELECT played_at FROM listens")))
    return ([tuple(r) for r in buckets], [tuple(r) for r in totals], [tuple(r) for r in artists],
            sorted((m, q, n) for (m, q), n in quarters.items()))


def test_hand_checked_rollups(client, auth, db):
    ids = post_plays(client, auth)
    buckets, totals, artists, quarters = _state(db)
    # The closest plays, p1 (22:40) and p2 (22:45), fall in 22:30-22:45 and 22:45-23:00: 11 buckets of 1.
    assert len(buckets) == 11 and all(plays == 1 for _, plays in buckets)
    a1 = next(t for t in totals if t[0] == ids["A1"])
    assert a1[1:] == (3, 1704494400, 1704620400)  # 2024-01-05T22:40Z .. 2024-01-07T09:40Z
    assert [plays for _, plays in artists] == [5, 3, 2, 1]  # Alpha, Beta, Gamma, Delta (created in that order)
    # January 2024 is UTC month (2024 - 1970) * 12 = 648, July 654; slot = minutes of the UTC day // 15:
    # 09:00 36, 09:40 38, 14:00 56, 14:45 59, 22:40 90, 22:45 and (Jan 9) 22:50 91, 23:05 92, 23:30 twice 94.
    assert quarters == [(648, 36, 1), (648, 38, 1), (648, 56, 1), (648, 59, 1), (648, 90, 1), (648, 91, 2),
                        (648, 92, 1), (648, 94, 2), (654, 86, 1)]
    assert (buckets, totals, artists, quarters) == _recount(db)


def test_batch_and_removal_stay_exact(app, db, client, auth):
    ids = post_plays(client, auth, PLAYS[:4])
    # A batch writer: two plays in one bucket (1704499200..1704500100) and a repeated track, in one call.
    pairs = [(ids["A1"], 1704500000), (ids["A2"], 1704500050), (ids["A1"], 1704600000)]

    def add():
        for track_id, played_at in pairs:
            db.session.add(Listen(track_id=track_id, played_at=played_at, source="test"))
        db.session.flush()
        rollups.listens_added(db.session, pairs)

    run_write(add)
    assert _state(db) == _recount(db)
    bucket = dict(_state(db)[0])[1704500000 // 900]
    assert bucket == 2

    def remove():
        gone = db.session.execute(select(Listen.track_id, Listen.played_at).where(Listen.track_id == ids["A1"])).all()
        db.session.execute(delete(Listen).where(Listen.track_id == ids["A1"]))
        rollups.listens_removed(db.session, [tuple(r) for r in gone])

    run_write(remove)
    state = _state(db)
    assert state == _recount(db)
    assert ids["A1"] not in [t[0] for t in state[1]]


def test_rebuild_matches_recount(db, client, auth):
    post_plays(client, auth)
    db.session.execute(text("DELETE FROM listen_buckets"))
    db.session.commit()
    result = rollups.rebuild()
    assert result == {"buckets": 11, "tracks": 5}
    assert _state(db) == _recount(db)


def test_rebuild_command(runner, db, client, auth):
    post_plays(client, auth, PLAYS[:3])
    result = runner.invoke(args=["rollups-rebuild"])
    assert result.exit_code == 0, result.output
    assert "3 15-minute buckets, 3 tracks" in result.output
    assert _state(db) == _recount(db)


def test_migration_backfills_existing_listens(app, db, client, auth):
    from flask_migrate import downgrade, upgrade

    post_plays(client, auth)
    expected = _recount(db)
    kept = _period_and_group_rows(db)  # as the write path kept them (exact: tests/insights/test_stats_exact.py)
    # By hand: 6 track-months (C1 in January and July) + 5 track-years + 5 all-time; groups over January, July,
    # 2024 and all time: everything 4, artists 5+4+4, albums 4+3+3 (D1 has none), songs 6+5+5.
    assert (len(kept[0]), len(kept[1])) == (16, 43)
    db.session.remove()
    downgrade(revision="0002")  # drops the rollup tables; the listens stay
    upgrade()
    assert _state(db) == expected
    assert _period_and_group_rows(db) == kept  # back-filled by migrations 0014 and 0021 alike


def _period_and_group_rows(db):
    """Every row of track_period_plays and group_period_plays, ordered."""
    periods = db.session.execute(text("SELECT * FROM track_period_plays ORDER BY level, unit, track_id")).all()
    groups = db.session.execute(text(
        "SELECT * FROM group_period_plays ORDER BY kind, level, unit, key_id, title_key")).all()
    return [tuple(r) for r in periods], [tuple(r) for r in groups]


def test_rebuild_files_plays_before_1970_where_the_writers_do(db, client, auth):
    # 1969-12-15 12:00Z = -1,425,600 s (bucket -1,584, UTC month -1, year -1); 1969-12-31 23:58:20Z = -100 s
    # (bucket -1: floor(-100 / 900)); 1970-01-01 00:05Z = 300 s (bucket 0, month 0, year 0). SQL's integer
    # division rounds towards zero, which would put the first two in bucket 0 / year 0 (1970).
    ids = post_plays(client, auth, [("A1", "1969-12-15T12:00:00Z"), ("A2", "1969-12-31T23:58:20Z"),
                                    ("B1", "1970-01-01T00:05:00Z")])

    def rows():
        buckets = db.session.execute(text("SELECT bucket, plays FROM listen_buckets ORDER BY bucket")).all()
        periods = db.session.execute(text("SELECT level, unit, track_id, plays FROM track_period_plays "
                                          "ORDER BY level, unit, track_id")).all()
        return [tuple(r) for r in buckets], [tuple(r) for r in periods]

    a1, a2, b1 = ids["A1"], ids["A2"], ids["B1"]
    written = ([(-1584, 1), (-1, 1), (0, 1)],
               [(2, -1, a1, 1), (2, -1, a2, 1), (2, 0, b1, 1),   # months: December 1969, January 1970
                (3, -1, a1, 1), (3, -1, a2, 1), (3, 0, b1, 1),   # years: 1969, 1970
                (4, 0, a1, 1), (4, 0, a2, 1), (4, 0, b1, 1)])    # all time
    assert rows() == written
    rollups.rebuild()
    assert rows() == written
