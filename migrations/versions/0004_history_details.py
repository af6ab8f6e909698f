"""history details: track length/ids on tracks, albums and artists, listened time on listens, import conflicts

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no table rewrite on either backend); existing rows read as "unknown". Not batch mode:
    # a SQLite table copy would drop the expression index uq_tracks_identity.
    op.add_column("artists", sa.Column("artist_mbid", sa.String(36), nullable=True))
    op.add_column("albums", sa.Column("release_mbid", sa.String(36), nullable=True))
    op.add_column("tracks", sa.Column("recording_mbid", sa.String(36), nullable=True))
    op.add_column("tracks", sa.Column("spotify_uri", sa.String(100), nullable=True))
    op.add_column("listens", sa.Column("listened_seconds", sa.Integer(), nullable=True))
    op.add_column("imports", sa.Column("enriched", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("imports", sa.Column("conflicts", sa.JSON(), nullable=True))
    # No listen has a listened time yet, so 0 is the exact back-fill.
    op.add_column("track_play_totals", sa.Column("listened_seconds", sa.BigInteger(), nullable=False,
                                                 server_default="0"))
    op.add_column("track_play_totals", sa.Column("listened_plays", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    # SQLite >= 3.35 drops a column in place (ALTER TABLE ... DROP COLUMN).
    for table, column in (("track_play_totals", "listened_plays"), ("track_play_totals", "listened_seconds"),
                          ("imports", "conflicts"), ("imports", "enriched"), ("listens", "listened_seconds"),
                          ("tracks", "spotify_uri"), ("tracks", "recording_mbid"), ("albums", "release_mbid"),
                          ("artists", "artist_mbid")):
        op.drop_column(table, column)
