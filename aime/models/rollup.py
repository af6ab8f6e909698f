"""Pre-aggregated listening counts (kept in step with listens by aime.services.rollups)."""
from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

# Their foreign keys to tracks exist on SQLite only. On PostgreSQL migration 0022 replaced them by a trigger that
# deletes a track's rows with it: the listens' own key already checks the track of every play counted here, and
# checking each rollup row again cost about a tenth of an import's server CPU there.
KEYED_ON_SQLITE_ONLY = ("track_play_totals", "track_period_plays")
BUCKET_SECONDS = 900  # 15 minutes: every real UTC offset is a multiple, so a bucket never straddles a local hour


class ListenBucket(db.Model):
    """Number of plays that started in one 15-minute UTC bucket (bucket = played_at // 900)."""

    __tablename__ = "listen_buckets"
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    plays: Mapped[int] = mapped_column(Integer, nullable=False)


class TrackPlayTotal(db.Model):
    """All-time plays of one track, with its first and last play (UTC epoch seconds)."""

    __tablename__ = "track_play_totals"
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True,
                                          autoincrement=False)
    plays: Mapped[int] = mapped_column(Integer, nullable=False)
    first_played_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_played_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Listening time: the sum of the plays' own lengths where the source gave one (listened_plays of them);
    # the other plays count the track's length, when known.
    listened_seconds: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")
    listened_plays: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    __table_args__ = (Index("ix_track_play_totals_plays", "plays"),)


class ArtistPlayTotal(db.Model):
    """All-time plays of one artist's tracks (a track's artist never changes, so this stays exact)."""

    __tablename__ = "artist_play_totals"
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    plays: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (Index("ix_artist_play_totals_plays", "plays"),)


# Levels of TrackPeriodPlay: a UTC calendar month (months since 1970-01), a UTC calendar year (years since
# 1970). Any period is read as a few of these, added or subtracted, with at most about half a month of listens
# at each edge (aime.services.period_cover). No day level: at ~180 plays a day a day row holds ~1.6 plays, so
# it would cost a write per play for little gain over reading the listens.
LEVEL_MONTH, LEVEL_YEAR = 2, 3
# All time (unit 0): the per-track row repeats track_play_totals' sums so that every per-group row below is the
# sum of per-track rows of one table (a database trigger moves them when a track changes group or goes away).
LEVEL_ALL = 4


class TrackPeriodPlay(db.Model):
    """Plays of one track in one UTC month or year, with their own listened seconds (as TrackPlayTotal)."""

    __tablename__ = "track_period_plays"
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    unit: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True,
                                          autoincrement=False)
    plays: Mapped[int] = mapped_column(Integer, nullable=False)
    listened_seconds: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")
    listened_plays: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    __table_args__ = (Index("ix_track_period_plays_track", "track_id"),)


class MonthQuarterPlay(db.Model):
    """Plays of one UTC month that started in one 15-minute slot of the UTC day (quarter = bucket % 96).

    Where a zone keeps one offset for a whole month, the month's local hours of day are these 96 counts shifted:
    a period's peak hour reads ~100 rows a month instead of every bucket (aime.services.localtime).
    """

    __tablename__ = "month_quarter_plays"
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # months since 1970-01
    quarter: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    plays: Mapped[int] = mapped_column(Integer, nullable=False)


# Kinds of GroupPeriodPlay: the whole period (key 0), one artist (key artist_id), one album (key album_id),
# one song (key artist_id and title_key: every album it is on, as the song rankings count).
KIND_TOTAL, KIND_ARTIST, KIND_ALBUM, KIND_SONG = 0, 1, 2, 3


class GroupPeriodPlay(db.Model):
    """Plays of one artist, album or song (or of everything) in one UTC month, year or all time: the sum of the
    track_period_plays rows of the tracks now in that group (aime.services.rollups keeps it, and triggers of
    migration 0021 when a track is deleted or changes artist, album, title or length). Rankings read the top rows
    by plays instead of every track of the period."""

    __tablename__ = "group_period_plays"
    kind: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    unit: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title_key: Mapped[str] = mapped_column(String(500), primary_key=True, autoincrement=False)  # '' unless a song
    plays: Mapped[int] = mapped_column(Integer, nullable=False)
    # Listening time of those plays: their own lengths where known, else their track's current length (a trigger
    # recounts it when a track's length changes), and the plays with neither.
    seconds: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0, server_default="0")
    unmeasured: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    __table_args__ = (Index("ix_group_period_plays_rank", "kind", "level", "unit", "plays"),)
