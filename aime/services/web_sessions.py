"""Signed-in browser sessions kept server-side: a cookie is only good while its row exists."""
from __future__ import annotations

import hashlib
import time

from sqlalchemy import delete, select

from ..database import run_write
from ..extensions import db
from ..models import WebSession

MAX_AGE_SECONDS = 31 * 86400  # Flask's PERMANENT_SESSION_LIFETIME: rows older than a cookie can live are dropped


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(session_id: str, token_id: str) -> None:
    """Remember a new signed-in session; sessions of an older token and expired ones are deleted."""
    def write():
        now = int(time.time())
        db.session.execute(delete(WebSession).where(
            (WebSession.token_id != token_id) | (WebSession.created_at < now - MAX_AGE_SECONDS)))
        db.session.add(WebSession(id_hash=_hash(session_id), token_id=token_id, created_at=now))

    run_write(write)


def is_open(session_id: str, token_id: str) -> bool:
    """True while the session exists, was opened with this token and is younger than a cookie may live."""
    created = db.session.execute(select(WebSession.created_at).where(
        WebSession.id_hash == _hash(session_id), WebSession.token_id == token_id)).scalar()
    return created is not None and created >= time.time() - MAX_AGE_SECONDS


def close_session(session_id: str) -> None:
    """Forget a session (logout): its cookie, even if copied before, proves nothing any more."""
    run_write(lambda: db.session.execute(delete(WebSession).where(WebSession.id_hash == _hash(session_id))))


def close_all() -> int:
    """Forget every session (e.g. after the API token leaked); returns how many there were."""
    return run_write(lambda: db.session.execute(delete(WebSession)).rowcount)
