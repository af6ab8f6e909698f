"""One paging shape for every list: a Page of items with its total, built by paginate() or page_of()."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from ..extensions import db


@dataclass
class Page:
    """One page of results: {items, total, page, page_size, pages}."""

    items: list
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """How many pages there are in all."""
        return math.ceil(self.total / self.page_size) if self.total else 0

    def as_dict(self) -> dict:
        """The page as the plain mapping that results carrying more than a page (sessions) merge in."""
        return {"items": self.items, "total": self.total, "page": self.page, "page_size": self.page_size,
                "pages": self.pages}


def offset(page: int, page_size: int) -> int:
    """How many rows come before page `page` (pages count from 1)."""
    return (page - 1) * page_size


def _same(row: Any) -> Any:
    return row


def paginate(query: Select, page: int, page_size: int, to_item: Callable[[Any], Any] = _same,
             total: int | None = None) -> Page:
    """One page of an ordered query, each row (or entity, for a one-entity query) made an item by to_item.

    The total is counted around the query unless the caller passes one it counts more cheaply.
    """
    if total is None:
        total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    result = db.session.execute(query.limit(page_size).offset(offset(page, page_size)))
    rows = result.scalars().all() if len(query.column_descriptions) == 1 else result.all()
    return Page(items=[to_item(row) for row in rows], total=total or 0, page=page, page_size=page_size)


def page_of(items: Sequence, page: int, page_size: int, to_item: Callable[[Any], Any] = _same) -> Page:
    """One page of a list already in memory."""
    start = offset(page, page_size)
    return Page(items=[to_item(item) for item in items[start:start + page_size]], total=len(items), page=page,
                page_size=page_size)
