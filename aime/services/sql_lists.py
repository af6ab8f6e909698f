"""`column IN (values)` as SQL whose text does not change with the number of values: one bound value.

SQLAlchemy's `column.in_(list)` and `IN (?, ?, ...)` render one statement text per count of values; each
connection keeps its last 128 prepared statements (sqlite3) or 100 (psycopg), so a worker's memory grew with
every new count (+39 % in the soak test of tests/resilience/test_gunicorn_load.py). Here the values travel as one
JSON array (`json_each(?)`, SQLite) or one array (`= ANY(?)`, PostgreSQL). `.in_(select(...))` and constant
tuples are fine as they are: their text does not vary.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import ARRAY, String, TypeDecorator, any_, bindparam, func, literal_column, select, text
from sqlalchemy.sql.elements import TextClause

from ..extensions import db


def _sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def among(column: str, values: Iterable, name: str = "ids") -> tuple[str, dict]:
    """SQL text for "`column` is one of `values`" (bound as `:name`) and its one parameter, for `text()` queries."""
    values = list(values)
    if _sqlite():
        return f"{column} IN (SELECT value FROM json_each(:{name}))", {name: json.dumps(values)}
    return f"{column} = ANY(:{name})", {name: values}


def one_of(column, values: Iterable):
    """`column.in_(values)` as a clause whose SQL text does not change with the number of values."""
    values = sorted(values)
    if _sqlite():
        return column.in_(select(literal_column("value")).select_from(func.json_each(json.dumps(values))))
    return column == any_(bindparam(None, values, type_=ARRAY(column.type)))


class _JsonArray(TypeDecorator):
    """A list bound as one JSON array text (read back by SQLite's json_each)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(list(value))


def ids_text(sql: str, name: str = "ids") -> TextClause:
    """`text(sql)` whose `IN :name` takes a list of any length as one bound value (see among)."""
    if _sqlite():
        return text(sql.replace(f" IN :{name}", f" IN (SELECT value FROM json_each(:{name}))")).bindparams(
            bindparam(name, type_=_JsonArray()))
    return text(sql.replace(f" IN :{name}", f" = ANY(:{name})"))
