"""month_quarter_plays: plays per UTC month and 15-minute slot of the day, backfilled from listen_buckets

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _fill() -> None:
    """Each UTC month's plays per 15-minute slot of the day, from listen_buckets (bucket = epoch seconds / 900).

    The SQL is this migration's own, not aime.services.rollups': a later change there must not change what an old
    migration does."""
    if op.get_bind().dialect.name == "sqlite":
        year = "CAST(strftime('%Y', bucket * 900, 'unixepoch') AS INTEGER)"
        month = "CAST(strftime('%m', bucket * 900, 'unixepoch') AS INTEGER)"
    else:
        moment = "(to_timestamp(bucket * 900) AT TIME ZONE 'UTC')"
        year = f"CAST(EXTRACT(YEAR FROM {moment}) AS INTEGER)"
        month = f"CAST(EXTRACT(MONTH FROM {moment}) AS INTEGER)"
    unit = f"({year} - 1970) * 12 + {month} - 1"
    op.execute(f"INSERT INTO month_quarter_plays (month, quarter, plays) SELECT {unit}, bucket % 96, SUM(plays) "
               f"FROM listen_buckets GROUP BY {unit}, bucket % 96")


def upgrade():
    op.create_table(
        "month_quarter_plays",
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("quarter", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "quarter", name="pk_month_quarter_plays"),
    )
    _fill()


def downgrade():
    op.drop_table("month_quarter_plays")
