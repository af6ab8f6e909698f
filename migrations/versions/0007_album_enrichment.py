"""album_enrichment: stored covers, the MusicBrainz release-group id, user-set fields and the last enrichment

The MusicBrainz release id is not kept here: its one home is albums.release_mbid (0004), which imports fill too.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "album_enrichment",
        sa.Column("album_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cover_sha256", sa.String(length=64), nullable=True),
        sa.Column("cover_ext", sa.String(length=8), nullable=True),
        sa.Column("cover_mime", sa.String(length=50), nullable=True),
        sa.Column("cover_width", sa.Integer(), nullable=True),
        sa.Column("cover_height", sa.Integer(), nullable=True),
        sa.Column("cover_source", sa.String(length=50), nullable=True),
        sa.Column("cover_source_url", sa.String(length=1000), nullable=True),
        sa.Column("cover_fetched_at", sa.BigInteger(), nullable=True),
        sa.Column("musicbrainz_release_group_id", sa.String(length=36), nullable=True),
        sa.Column("user_fields", sa.JSON(), nullable=False),
        sa.Column("enriched_at", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["album_id"], ["albums.id"], name="fk_album_enrichment_album", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("album_id", name="pk_album_enrichment"),
    )


def downgrade():
    op.drop_table("album_enrichment")
