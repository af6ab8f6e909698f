"""Server-side security state: signed-in web sessions and failure counters shared by every worker."""
from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import now_epoch


class WebSession(db.Model):
    """A signed-in browser session; the cookie names it, logout deletes it (the cookie then proves nothing)."""

    __tablename__ = "web_sessions"
    # sha256 of the id in the cookie: a copy of the database does not hand out live sessions.
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[int] = mapped_column(BigInteger, default=now_epoch, nullable=False)
    __table_args__ = (Index("ix_web_sessions_created_at", "created_at"),)


class RateCounter(db.Model):
    """Events of one kind from one client in the current fixed window (failed sign-ins, paid AI calls)."""

    __tablename__ = "rate_counters"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    __table_args__ = (Index("ix_rate_counters_window_start", "window_start"),)
