"""Deleting an album: its unplayed tracks go with it, its played tracks stay in the history without album."""
from __future__ import annotations

from sqlalchemy import delete, func, select, update

from ..extensions import db
from ..models import Album, Listen, Track
from ..models.ops import PlaylistTrack
from . import rollups
from .sql_lists import one_of

def remove_album(album: Album) -> None:
    """Delete `album` inside the caller's transaction, keeping every play of its tracks (album-less)."""
    tracks = db.session.scalars(select(Track).where(Track.album_id == album.id)).all()
    for track in tracks:
        played = db.session.scalar(select(func.count(Listen.id)).where(Listen.track_id == track.id))
        if played:
            _detach(track)
        else:
            db.session.delete(track)
    db.session.flush()
    # The ORM would otherwise try to null the album_id of tracks it still holds in album.tracks.
    db.session.expire(album, ["tracks"])
    db.session.delete(album)
    db.session.flush()


def _detach(track: Track) -> None:
    """Make a played track album-less, or fold it into the same song's album-less track when one exists."""
    twin = db.session.scalar(select(Track).where(
        Track.artist_id == track.artist_id, Track.album_id.is_(None), Track.title_key == track.title_key))
    if twin is None:
        track.album_id, track.track_number = None, None
        return
    twin.loved = twin.loved or track.loved
    twin.duration_seconds = twin.duration_seconds or track.duration_seconds
    # A play stored on both rows at the same instant is one play: keep the twin's, drop this one.
    clashes = db.session.execute(select(Listen.id, Listen.track_id, Listen.played_at).where(
        Listen.track_id == track.id,
        Listen.played_at.in_(select(Listen.played_at).where(Listen.track_id == twin.id)))).all()
    if clashes:
        db.session.execute(delete(Listen).where(one_of(Listen.id, [row.id for row in clashes])))
        rollups.listens_removed(db.session, [(row.track_id, row.played_at) for row in clashes])
    db.session.execute(update(Listen).where(Listen.track_id == track.id).values(track_id=twin.id))
    db.session.execute(update(PlaylistTrack).where(PlaylistTrack.track_id == track.id).values(track_id=twin.id))
    # Every per-track rollup of both rows, listened time included (the artist and the instants are unchanged).
    rollups.tracks_recounted(db.session, {track.id, twin.id})
    db.session.delete(track)
