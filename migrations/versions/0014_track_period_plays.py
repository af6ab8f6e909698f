"""track_period_plays: per-track plays of each UTC month and year, backfilled from the listens

Revision ID: 0014
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

from aime.services.rollups import fill_period_plays

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "track_period_plays",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("unit", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("track_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("listened_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("listened_plays", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], name="fk_track_period_plays_track", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("level", "unit", "track_id", name="pk_track_period_plays"),
    )
    op.create_index("ix_track_period_plays_track", "track_period_plays", ["track_id"])
    fill_period_plays(op.get_bind())


def downgrade():
    op.drop_index("ix_track_period_plays_track", table_name="track_period_plays")
    op.drop_table("track_period_plays")
