"""What enrichment knows about an album: its stored cover, MusicBrainz release-group id, user-set fields, last run.

The MusicBrainz release id lives on the album (Album.release_mbid), shared with the history importers.
"""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class AlbumEnrichment(db.Model):
    """One row per album that enrichment or the user has touched (absent: nothing known yet)."""

    __tablename__ = "album_enrichment"
    album_id: Mapped[int] = mapped_column(ForeignKey("albums.id", ondelete="CASCADE"), primary_key=True,
                                          autoincrement=False)
    # The cover is <AIME_DATA_DIR>/covers/<sha256>.<ext> (+ <sha256>.thumb.jpg); the digest is also its ETag.
    cover_sha256: Mapped[str | None] = mapped_column(String(64))
    cover_ext: Mapped[str | None] = mapped_column(String(8))
    cover_mime: Mapped[str | None] = mapped_column(String(50))
    cover_width: Mapped[int | None] = mapped_column(Integer)
    cover_height: Mapped[int | None] = mapped_column(Integer)
    cover_source: Mapped[str | None] = mapped_column(String(50))
    cover_source_url: Mapped[str | None] = mapped_column(String(1000))
    cover_fetched_at: Mapped[int | None] = mapped_column(BigInteger)
    musicbrainz_release_group_id: Mapped[str | None] = mapped_column(String(36))
    # Album fields the user typed (create/PUT/PATCH): enrichment never changes them.
    user_fields: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    enriched_at: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str | None] = mapped_column(String(20))  # matched, partial, ambiguous, not_found, failed
    report: Mapped[dict | None] = mapped_column(JSON)
