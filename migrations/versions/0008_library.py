"""library: named album collections (by hand or by query) and stored magazine editions

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "album_collections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("wish", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_album_collections"),
    )
    op.create_table(
        "album_collection_items",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("album_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("added_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["album_collections.id"],
                                name="fk_album_collection_items_collection_id_album_collections", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["album_id"], ["albums.id"], name="fk_album_collection_items_album_id_albums",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("collection_id", "album_id", name="pk_album_collection_items"),
    )
    op.create_index("ix_album_collection_items_album", "album_collection_items", ["album_id"])
    op.create_table(
        "magazine_editions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("writer", sa.String(length=20), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("task_run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_magazine_editions"),
        sa.UniqueConstraint("number", name="uq_magazine_editions_number"),
    )


def downgrade():
    op.drop_table("magazine_editions")
    op.drop_index("ix_album_collection_items_album", table_name="album_collection_items")
    op.drop_table("album_collection_items")
    op.drop_table("album_collections")
