"""Unbound extension instances; create_app binds them to an app (and makes Flask-Migrate's, which imports Alembic,
only when the app needs it: aime/__init__.py)."""
from flask_cors import CORS
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


db = SQLAlchemy(model_class=Base)
cors = CORS()
