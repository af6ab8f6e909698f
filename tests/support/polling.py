"""Wait for a condition by polling it (tests never sleep for something they can ask about)."""
from __future__ import annotations

import time


def poll(predicate, timeout: float = 30.0, what: str = "condition"):
    """Call predicate until it returns something truthy and return that; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"{what} not reached within {timeout}s")
