"""group_period_plays: plays and listening time per UTC month, year and all time of everything, each artist, album
and song; all-time rows in track_period_plays; triggers that move a track's rows when it is deleted or changes group
or length

Revision ID: 0021_group_period_plays
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op


revision = "0021_group_period_plays"
down_revision = "0020"
branch_labels = None
depends_on = None

# The (kind, key_id, title_key) of a track's groups, for OLD or NEW.
_GROUPS = ((0, "0", "''"), (1, "{row}.artist_id", "''"), (2, "{row}.album_id", "''"),
           (3, "{row}.artist_id", "{row}.title_key"))
# A track_period_plays row p of track `row`, as group columns.
_VALUES = {"plays": "p.plays",
           "seconds": "p.listened_seconds + (p.plays - p.listened_plays) * COALESCE({row}.duration_seconds, 0)",
           "unmeasured": "CASE WHEN {row}.duration_seconds IS NULL THEN p.plays - p.listened_plays ELSE 0 END"}


def _take_out(row: str, groups) -> list[str]:
    """Statements subtracting the track_period_plays rows of track `row` (OLD) from its groups, then dropping
    the emptied group rows."""
    statements = []
    for kind, key_id, title_key in groups:
        key_id, title_key = key_id.format(row=row), title_key.format(row=row)
        where = (f"kind = {kind} AND key_id = {key_id} AND title_key = {title_key} AND (level, unit) IN "
                 f"(SELECT level, unit FROM track_period_plays WHERE track_id = {row}.id)")
        sets = ", ".join(
            f"{column} = {column} - (SELECT {value.format(row=row)} FROM track_period_plays p "
            f"WHERE p.track_id = {row}.id AND p.level = group_period_plays.level AND p.unit = group_period_plays.unit)"
            for column, value in _VALUES.items())
        statements.append(f"UPDATE group_period_plays SET {sets} WHERE {where}")
        statements.append(f"DELETE FROM group_period_plays WHERE plays <= 0 AND {where}")
    return statements


def _put_in(row: str, groups) -> list[str]:
    """Statements adding the track_period_plays rows of track `row` (NEW) to its groups."""
    values = ", ".join(value.format(row=row) for value in _VALUES.values())
    adds = ", ".join(f"{column} = group_period_plays.{column} + excluded.{column}" for column in _VALUES)
    return [f"INSERT INTO group_period_plays (kind, level, unit, key_id, title_key, plays, seconds, unmeasured) "
            f"SELECT {kind}, p.level, p.unit, {key_id.format(row=row)}, {title_key.format(row=row)}, {values} "
            f"FROM track_period_plays p WHERE p.track_id = {row}.id AND {key_id.format(row=row)} IS NOT NULL "
            f"ON CONFLICT (kind, level, unit, key_id, title_key) DO UPDATE SET {adds}"
            for kind, key_id, title_key in groups]


def _fill() -> None:
    """All-time rows (level 4, unit 0) of track_period_plays from its year rows, then every group row from the
    track rows and the tracks (kind 0 everything, 1 artist, 2 album, 3 song = artist + title key).

    The SQL is this migration's own, not aime.services.rollups': a later change there must not change what an old
    migration does."""
    op.execute("INSERT INTO track_period_plays (level, unit, track_id, plays, listened_seconds, listened_plays) "
               "SELECT 4, 0, track_id, SUM(plays), SUM(listened_seconds), SUM(listened_plays) "
               "FROM track_period_plays WHERE level = 3 GROUP BY track_id")
    sums = ("SUM(p.plays), SUM(p.listened_seconds + (p.plays - p.listened_plays) * COALESCE(t.duration_seconds, 0)), "
            "SUM(CASE WHEN t.duration_seconds IS NULL THEN p.plays - p.listened_plays ELSE 0 END)")
    for kind, key_id, title_key in _GROUPS:
        key_id, title_key = key_id.format(row="t"), title_key.format(row="t")
        where = " WHERE t.album_id IS NOT NULL" if kind == 2 else ""
        by = "".join(f", {column}" for column in (key_id, title_key) if column.startswith("t."))  # not constants
        op.execute(f"INSERT INTO group_period_plays (kind, level, unit, key_id, title_key, plays, seconds, unmeasured) "
                   f"SELECT {kind}, p.level, p.unit, {key_id}, {title_key}, {sums} FROM track_period_plays p "
                   f"JOIN tracks t ON t.id = p.track_id{where} GROUP BY p.level, p.unit{by}")


def upgrade():
    op.create_table(
        "group_period_plays",
        sa.Column("kind", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("unit", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title_key", sa.String(length=500), autoincrement=False, nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unmeasured", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("kind", "level", "unit", "key_id", "title_key", name="pk_group_period_plays"),
    )
    op.create_index("ix_group_period_plays_rank", "group_period_plays", ["kind", "level", "unit", "plays"])
    bind = op.get_bind()
    bind.execute(sa.text("DELETE FROM track_period_plays WHERE level = 4"))
    _fill()
    regrouped = ("OLD.artist_id <> NEW.artist_id OR OLD.title_key <> NEW.title_key "
                 "OR OLD.album_id {differs} NEW.album_id OR OLD.duration_seconds {differs} NEW.duration_seconds")
    delete = _take_out("OLD", _GROUPS)
    update = _take_out("OLD", _GROUPS) + _put_in("NEW", _GROUPS)
    if bind.dialect.name == "sqlite":
        body = "; ".join(delete)
        op.execute(f"CREATE TRIGGER trg_groups_track_delete BEFORE DELETE ON tracks BEGIN {body}; END")
        body = "; ".join(update)
        op.execute("CREATE TRIGGER trg_groups_track_update AFTER UPDATE OF artist_id, album_id, title_key, "
                   f"duration_seconds ON tracks "
                   f"WHEN {regrouped.format(differs='IS NOT')} BEGIN {body}; END")
    else:
        op.execute(f"""
            CREATE FUNCTION aime_groups_track_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    {'; '.join(delete)};
                    RETURN OLD;
                END IF;
                IF {regrouped.format(differs='IS DISTINCT FROM')} THEN
                    {'; '.join(update)};
                END IF;
                RETURN NEW;
            END $$""")
        op.execute("CREATE TRIGGER trg_groups_track_delete BEFORE DELETE ON tracks "
                   "FOR EACH ROW EXECUTE FUNCTION aime_groups_track_change()")
        op.execute("CREATE TRIGGER trg_groups_track_update AFTER UPDATE OF artist_id, album_id, title_key, "
                   "duration_seconds ON tracks "
                   "FOR EACH ROW EXECUTE FUNCTION aime_groups_track_change()")


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS trg_groups_track_delete" + ("" if op.get_bind().dialect.name == "sqlite"
                                                                    else " ON tracks"))
    op.execute("DROP TRIGGER IF EXISTS trg_groups_track_update" + ("" if op.get_bind().dialect.name == "sqlite"
                                                                    else " ON tracks"))
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS aime_groups_track_change()")
    op.drop_index("ix_group_period_plays_rank", table_name="group_period_plays")
    op.drop_table("group_period_plays")
    op.execute("DELETE FROM track_period_plays WHERE level = 4")
