"""Plays (listens) and what is playing now."""
from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import IdMixin, now_epoch
from .music import Track


class Listen(IdMixin, db.Model):
    """One play of a track at an instant (UTC epoch seconds)."""

    __tablename__ = "listens"
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), nullable=False)
    played_at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    source: Mapped[str] = mapped_column(String(50), nullable=False, default="manual")
    client: Mapped[str | None] = mapped_column(String(200))
    listened_seconds: Mapped[int | None] = mapped_column(Integer)  # this play's length, when the source says
    import_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_epoch, nullable=False)

    track: Mapped[Track] = relationship(lazy="joined")

    __table_args__ = (
        # Exact duplicates are impossible; also serves "plays of a track" (album detail, dedup window).
        UniqueConstraint("track_id", "played_at", name="uq_listens_track_time"),
        # Journal newest-first and every period query: range on played_at, covering track_id.
        Index("ix_listens_played_at_track", "played_at", "track_id"),
    )
