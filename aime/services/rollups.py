"""Pre-aggregated listening counts kept in step with every write of listens.

Every code path that inserts or deletes listens calls listens_added/listens_removed inside the same
transaction, with (track_id, played_at) pairs of the rows it really wrote.
(Interface only for now: the statistics work fills it in.)
"""
from __future__ import annotations

from typing import Iterable


def listens_added(session, pairs: Iterable[tuple[int, int]]) -> None:
    """Account for newly inserted listens (track_id, played_at epoch seconds)."""


def listens_removed(session, pairs: Iterable[tuple[int, int]]) -> None:
    """Account for deleted listens (track_id, played_at epoch seconds)."""
