"""Names another writer creates between the import's look-up and its insert (one file imported twice at once, on
two instances: the scale benchmark's check that found the artists' case on PostgreSQL)."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from aime.database import run_write
from aime.extensions import db
from aime.services.importers import pipeline
from aime.services.importers.records import Play
from aime.services.importers.resolve import CatalogCache

T0 = 1_700_000_000


def _write(plays: list[Play]):
    return run_write(lambda: pipeline.write_plays(db.session, CatalogCache("lastfm"), plays, window=60,
                                                  source="lastfm"))


@pytest.mark.parametrize("kind", ["artists", "albums", "tracks"])
def test_a_name_another_writer_created_after_the_look_up_is_found_not_failed(app, monkeypatch, kind):
    with app.app_context():
        assert len(_write([Play(0, "Shared", "Song", "Record", T0)]).inserted) == 1  # the other writer, committed
        look_up, looks = getattr(CatalogCache, f"_load_{kind}"), []

        def before_the_other_commit(self, session, keys):
            looks.append(list(keys))
            if len(looks) > 1:  # the first look-up ran before the other writer committed: it saw nothing
                look_up(self, session, keys)

        monkeypatch.setattr(CatalogCache, f"_load_{kind}", before_the_other_commit)
        result = _write([Play(0, "Shared", "Song", "Record", T0 + 600)])
        assert (len(result.inserted), len(looks)) == (1, 2)  # its insert met the conflict, so it looked again
        counts = db.session.execute(text(
            "SELECT (SELECT COUNT(*) FROM artists), (SELECT COUNT(*) FROM albums), (SELECT COUNT(*) FROM tracks), "
            "(SELECT COUNT(DISTINCT track_id) FROM listens), (SELECT COUNT(*) FROM listens)")).one()
        assert tuple(counts) == (1, 1, 1, 1, 2)
