"""search index: FTS5 trigram tables kept by triggers (SQLite), pg_trgm GIN indexes (PostgreSQL)

Revision ID: 0012
Revises: 0008
"""
import logging

from alembic import op

from aime.services.search_index import install_sqlite, uninstall_sqlite

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
TRGM_INDEXES = (("ix_artists_name_key_trgm", "artists", "name_key"),
                ("ix_albums_title_key_trgm", "albums", "title_key"),
                ("ix_tracks_title_key_trgm", "tracks", "title_key"))


def upgrade():
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        install_sqlite(connection)  # logs and leaves search on LIKE when this SQLite has no FTS5 trigram
        return
    # pg_trgm is a trusted extension (PostgreSQL >= 13): the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in TRGM_INDEXES:
        op.create_index(name, table, [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


def downgrade():
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        uninstall_sqlite(connection)
        return
    for name, table, _column in TRGM_INDEXES:
        op.drop_index(name, table_name=table)
