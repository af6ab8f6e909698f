"""track_period_plays: per-track plays of each UTC month and year, backfilled from the listens

Revision ID: 0014
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op


revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def _utc_year_month(seconds: str) -> tuple[str, str]:
    """SQL for the UTC calendar year and month (1-12) of an epoch-seconds expression."""
    if op.get_bind().dialect.name == "sqlite":
        return (f"CAST(strftime('%Y', {seconds}, 'unixepoch') AS INTEGER)",
                f"CAST(strftime('%m', {seconds}, 'unixepoch') AS INTEGER)")
    moment = f"(to_timestamp({seconds}) AT TIME ZONE 'UTC')"
    return f"CAST(EXTRACT(YEAR FROM {moment}) AS INTEGER)", f"CAST(EXTRACT(MONTH FROM {moment}) AS INTEGER)"


def _fill() -> None:
    """Month rows (level 2, unit = months since 1970-01) from the listens, year rows (level 3) from the months.

    The SQL is this migration's own, not aime.services.rollups': a later change there must not change what an old
    migration does."""
    year, month = _utc_year_month("played_at")
    unit = f"({year} - 1970) * 12 + {month} - 1"
    columns = "INSERT INTO track_period_plays (level, unit, track_id, plays, listened_seconds, listened_plays) "
    op.execute(columns + f"SELECT 2, {unit}, track_id, COUNT(*), COALESCE(SUM(listened_seconds), 0), "
               f"COUNT(listened_seconds) FROM listens GROUP BY {unit}, track_id")
    op.execute(columns + "SELECT 3, unit / 12, track_id, SUM(plays), SUM(listened_seconds), SUM(listened_plays) "
               "FROM track_period_plays WHERE level = 2 GROUP BY unit / 12, track_id")


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
    _fill()


def downgrade():
    op.drop_index("ix_track_period_plays_track", table_name="track_period_plays")
    op.drop_table("track_period_plays")
