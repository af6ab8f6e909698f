"""Who holds a lease: one identity per process and per start, computed in the process that asks."""
from __future__ import annotations

import os
import secrets
import socket
import threading

from flask import Flask, current_app

KEY = "aime.owner"
_lock = threading.Lock()


def owner_id(app: Flask | None = None) -> str:
    """host:pid:random of this app in this process; every exclusive job takes its lease under it.

    Computed lazily and again after a fork (the pid changes): a value made in gunicorn's master and
    inherited by its workers would give every worker the same identity, and each would take the
    other's job for its own. The random part tells a restarted process (same pid) from its predecessor.
    """
    app = app if app is not None else current_app._get_current_object()
    pid = os.getpid()
    with _lock:
        cached = app.extensions.get(KEY)
        if cached is None or cached[0] != pid:
            cached = app.extensions[KEY] = (pid, f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}")
        return cached[1]
