"""The collection: artists, albums (ordered artists), tracks."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import IdMixin, TimestampMixin, now_epoch


def trigram_index(name: str, column: str) -> Index:
    """A pg_trgm GIN index serving LIKE '%...%' search on PostgreSQL (SQLite searches through FTS5, migration 0012)."""
    return Index(name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"}).ddl_if(
        dialect="postgresql")


class Artist(IdMixin, db.Model):
    """A performer; `name_key` is the case/accent-insensitive identity."""

    __tablename__ = "artists"
    name: Mapped[str] = mapped_column(String(500), nullable=False)
    name_key: Mapped[str] = mapped_column(String(500), nullable=False, unique=True)
    artist_mbid: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_epoch, nullable=False)

    __table_args__ = (trigram_index("ix_artists_name_key_trgm", "name_key"),)


class AlbumArtist(db.Model):
    """Ordered link between an album and its artists (position 0 is the primary artist)."""

    __tablename__ = "album_artists"
    album_id: Mapped[int] = mapped_column(ForeignKey("albums.id", ondelete="CASCADE"), primary_key=True)
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    artist: Mapped[Artist] = relationship(lazy="joined")
    __table_args__ = (Index("ix_album_artists_artist", "artist_id"),)


class Album(IdMixin, TimestampMixin, db.Model):
    """A record. Identity is (normalised title, primary artist), never the title alone."""

    __tablename__ = "albums"
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    title_key: Mapped[str] = mapped_column(String(500), nullable=False)
    primary_artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id"), nullable=False)
    year: Mapped[int | None] = mapped_column(Integer)
    support: Mapped[str | None] = mapped_column(String(100))
    genre: Mapped[str | None] = mapped_column(String(200))
    labels: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    catalog_number: Mapped[str | None] = mapped_column(String(200))
    discogs_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    spotify_url: Mapped[str | None] = mapped_column(String(1000))
    discogs_url: Mapped[str | None] = mapped_column(String(1000))
    apple_music_url: Mapped[str | None] = mapped_column(String(1000))
    image_url: Mapped[str | None] = mapped_column(String(1000))
    release_mbid: Mapped[str | None] = mapped_column(String(36))
    ai_description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(50), nullable=False, default="manual")
    # Albums seen only in listening history are not part of the owned collection.
    in_collection: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    album_artists: Mapped[list[AlbumArtist]] = relationship(
        order_by=AlbumArtist.position, cascade="all, delete-orphan", lazy="selectin")
    tracks: Mapped[list[Track]] = relationship(
        back_populates="album", order_by="(Track.track_number, Track.id)", lazy="selectin")

    __table_args__ = (
        UniqueConstraint("title_key", "primary_artist_id", name="uq_albums_identity"),
        Index("ix_albums_collection_title", "in_collection", "title_key"),
        Index("ix_albums_primary_artist", "primary_artist_id"),
        trigram_index("ix_albums_title_key_trgm", "title_key"),
    )

    @property
    def artists(self) -> list[Artist]:
        """Artists in credited order."""
        return [link.artist for link in self.album_artists]


class Track(IdMixin, db.Model):
    """A song by an artist, on an album or (for loose plays) on none."""

    __tablename__ = "tracks"
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    title_key: Mapped[str] = mapped_column(String(500), nullable=False)
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id"), nullable=False)
    album_id: Mapped[int | None] = mapped_column(ForeignKey("albums.id", ondelete="SET NULL"))
    track_number: Mapped[int | None] = mapped_column(Integer)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    recording_mbid: Mapped[str | None] = mapped_column(String(36))
    spotify_uri: Mapped[str | None] = mapped_column(String(100))
    loved: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_epoch, nullable=False)

    artist: Mapped[Artist] = relationship(lazy="joined")
    album: Mapped[Album | None] = relationship(back_populates="tracks")

    __table_args__ = (
        # One row per (artist, album-or-none, title); the expression makes "no album" a real value.
        Index("uq_tracks_identity", "artist_id", text("coalesce(album_id, 0)"), "title_key", unique=True),
        Index("ix_tracks_album", "album_id"),
        Index("ix_tracks_title_key", "title_key", "id"),  # (key, id) order: search's probe reads the index only
        trigram_index("ix_tracks_title_key_trgm", "title_key"),
    )
