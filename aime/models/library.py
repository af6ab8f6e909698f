"""Named collections of albums (by hand or by a query) and the magazine's stored editions."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import IdMixin, TimestampMixin, now_epoch


class AlbumCollection(IdMixin, TimestampMixin, db.Model):
    """A named set of albums: `manual` (albums added by hand) or `query` (albums matching `query`, live)."""

    __tablename__ = "album_collections"
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="manual")
    query: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    # The free-text wish an AI turned into `query` (kept so the page can say what was asked).
    wish: Mapped[str | None] = mapped_column(Text)


class AlbumCollectionItem(db.Model):
    """An album put by hand into a manual collection, with why."""

    __tablename__ = "album_collection_items"
    collection_id: Mapped[int] = mapped_column(ForeignKey("album_collections.id", ondelete="CASCADE"),
                                               primary_key=True)
    album_id: Mapped[int] = mapped_column(ForeignKey("albums.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[int] = mapped_column(BigInteger, default=now_epoch, nullable=False)
    __table_args__ = (Index("ix_album_collection_items_album", "album_id"),)


class MagazineEdition(IdMixin, db.Model):
    """One generated edition of the magazine: numbered, dated, its content frozen as JSON."""

    __tablename__ = "magazine_editions"
    number: Mapped[int] = mapped_column(Integer, nullable=False, unique=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    writer: Mapped[str] = mapped_column(String(20), nullable=False, default="data")
    content: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    task_run_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_epoch, nullable=False)
