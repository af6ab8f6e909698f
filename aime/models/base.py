"""Mixins shared by models. Models never commit; services do."""
import time

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column


def now_epoch() -> int:
    """Current UTC instant as epoch seconds (how AIME stores instants)."""
    return int(time.time())


class TimestampMixin:
    """created_at/updated_at as UTC epoch seconds."""

    created_at: Mapped[int] = mapped_column(BigInteger, default=now_epoch, nullable=False)
    updated_at: Mapped[int] = mapped_column(BigInteger, default=now_epoch, onupdate=now_epoch, nullable=False)


class IdMixin:
    """Integer surrogate primary key."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
