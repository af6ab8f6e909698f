"""What SQL texts a piece of code sends: each text is a prepared statement a connection may keep."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from aime.extensions import db


@contextmanager
def statement_texts(app) -> Iterator[set[str]]:
    """The set of SQL statement texts sent to the app's database inside the block."""
    sent: set[str] = set()

    def note(_conn, _cursor, statement, *_args):
        sent.add(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)
