"""PostgreSQL: track_play_totals and track_period_plays without foreign keys; a trigger on tracks deletes their rows

Both tables are derived from the listens, whose own foreign key already checks the track of every play (and, on
PostgreSQL, locks it against a delete until the writer commits). On PostgreSQL each check of a rollup row is a query
of its own at the end of the statement: dropping them cut an import's server CPU by about a tenth (docs/benchmarks.md,
r18-fk). Their ON DELETE CASCADE becomes an AFTER DELETE trigger on tracks, which runs after 0021's BEFORE DELETE
trigger has taken the track's rows out of its groups, as the cascade did. SQLite keeps its keys: there a check is one
rowid look-up (about 1.5 % of an import) and dropping them would rebuild both tables.

Revision ID: 0022_rollup_foreign_keys
Revises: 0021_group_period_plays
"""
from alembic import op


revision = "0022_rollup_foreign_keys"
down_revision = "0021_group_period_plays"
branch_labels = None
depends_on = None

_KEYS = (("track_play_totals", "fk_track_play_totals_track"), ("track_period_plays", "fk_track_period_plays_track"))
_DELETES = "; ".join(f"DELETE FROM {table} WHERE track_id = OLD.id" for table, _name in _KEYS)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name in _KEYS:
        op.drop_constraint(name, table, type_="foreignkey")
    op.execute(f"CREATE FUNCTION aime_rollups_track_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
               f"BEGIN {_DELETES}; RETURN OLD; END $$")
    op.execute("CREATE TRIGGER trg_rollups_track_delete AFTER DELETE ON tracks "
               "FOR EACH ROW EXECUTE FUNCTION aime_rollups_track_delete()")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER trg_rollups_track_delete ON tracks")
    op.execute("DROP FUNCTION aime_rollups_track_delete()")
    for table, name in _KEYS:
        op.execute(f"DELETE FROM {table} WHERE track_id NOT IN (SELECT id FROM tracks)")  # none but by hand
        op.create_foreign_key(name, table, "tracks", ["track_id"], ["id"], ondelete="CASCADE")
