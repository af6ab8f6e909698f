"""month_quarter_plays: plays per UTC month and 15-minute slot of the day, backfilled from listen_buckets

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

from aime.services.rollups import fill_quarter_plays

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "month_quarter_plays",
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("quarter", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "quarter", name="pk_month_quarter_plays"),
    )
    fill_quarter_plays(op.get_bind())


def downgrade():
    op.drop_table("month_quarter_plays")
