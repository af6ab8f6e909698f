"""insights: rollup tables for fast statistics (15-minute play buckets, per-track and per-artist totals), back-filled

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    # listen_buckets: plays per 15-minute UTC bucket. Hour-of-day, weekday, heatmap, streaks and daily
    # averages fold these into any IANA zone (all UTC offsets are multiples of 15 minutes).
    op.create_table(
        "listen_buckets",
        sa.Column("bucket", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name="pk_listen_buckets"),
    )
    # track_play_totals: all-time charts and first plays (discovery) without scanning every listen.
    op.create_table(
        "track_play_totals",
        sa.Column("track_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("first_played_at", sa.BigInteger(), nullable=False),
        sa.Column("last_played_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["track_id"], ["tracks.id"], name="fk_track_play_totals_track", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("track_id", name="pk_track_play_totals"),
    )
    op.create_index("ix_track_play_totals_plays", "track_play_totals", ["plays"])
    # artist_play_totals: the all-time artist chart reads ten index entries instead of joining every track.
    op.create_table(
        "artist_play_totals",
        sa.Column("artist_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["artist_id"], ["artists.id"], name="fk_artist_play_totals_artist",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("artist_id", name="pk_artist_play_totals"),
    )
    op.create_index("ix_artist_play_totals_plays", "artist_play_totals", ["plays"])
    # Listens written before this revision are counted once here.
    op.execute("INSERT INTO listen_buckets (bucket, plays) "
               "SELECT played_at / 900, COUNT(*) FROM listens GROUP BY played_at / 900")
    op.execute("INSERT INTO track_play_totals (track_id, plays, first_played_at, last_played_at) "
               "SELECT track_id, COUNT(*), MIN(played_at), MAX(played_at) FROM listens GROUP BY track_id")
    op.execute("INSERT INTO artist_play_totals (artist_id, plays) "
               "SELECT tracks.artist_id, SUM(track_play_totals.plays) FROM track_play_totals "
               "JOIN tracks ON tracks.id = track_play_totals.track_id GROUP BY tracks.artist_id")


def downgrade():
    op.drop_index("ix_artist_play_totals_plays", table_name="artist_play_totals")
    op.drop_table("artist_play_totals")
    op.drop_index("ix_track_play_totals_plays", table_name="track_play_totals")
    op.drop_table("track_play_totals")
    op.drop_table("listen_buckets")
