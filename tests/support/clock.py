"""A fixed `datetime.now` for the modules that read today's date (cache keys, default days, streaks)."""
from __future__ import annotations

from datetime import datetime


def freeze_now(monkeypatch, instant: str, *modules) -> None:
    """Make `datetime.now` in each module return `instant` (ISO 8601 with offset), in the zone asked for."""
    fixed = datetime.fromisoformat(instant)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return fixed.astimezone(tz)

    for module in modules:
        monkeypatch.setattr(module, "datetime", Frozen)
