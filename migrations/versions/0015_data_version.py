"""data version: a counter every writer bumps through triggers, read by conditional GETs (ETag / 304)

Revision ID: 0015
Revises: 0014

See aime/services/data_version.py for why SQLite and PostgreSQL count differently.
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

CATALOGUE = ("artists", "albums", "album_artists", "tracks")
BUMP = "UPDATE data_version SET version = version + 1 WHERE id = 1"


def upgrade():
    op.create_table(
        "data_version",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        # A random value per database: two databases (or a database re-created) never share a version.
        sa.Column("epoch", sa.String(32), nullable=False),
    )
    op.execute(sa.text("INSERT INTO data_version (id, version, epoch) VALUES (1, 0, :epoch)").bindparams(
        epoch=uuid.uuid4().hex[:12]))
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers()
    else:
        _postgres_triggers()


def _sqlite_triggers():
    for table in CATALOGUE:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER trg_dv_{table}_{event.lower()} AFTER {event} ON {table} BEGIN {BUMP}; END")
    # Inserted listens are counted by max(listens.id) (see aime/services/data_version.py).
    for event in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER trg_dv_listens_{event.lower()} AFTER {event} ON listens BEGIN {BUMP}; END")


def _postgres_triggers():
    op.create_table("data_version_marks", sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True))
    # Once per transaction (a transaction-local setting remembers it), even for a row-by-row executemany.
    op.execute("""
        CREATE FUNCTION aime_mark_data_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('aime.data_changed', true) IS DISTINCT FROM 'yes' THEN
                PERFORM set_config('aime.data_changed', 'yes', true);
                INSERT INTO data_version_marks DEFAULT VALUES;
            END IF;
            RETURN NULL;
        END $$""")
    op.execute(f"""
        CREATE FUNCTION aime_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {BUMP};
            DELETE FROM data_version_marks WHERE id = NEW.id;
            RETURN NULL;
        END $$""")
    # Deferred: runs at commit, after every other lock the transaction takes.
    op.execute("CREATE CONSTRAINT TRIGGER trg_dv_bump AFTER INSERT ON data_version_marks "
               "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION aime_bump_data_version()")
    for table in (*CATALOGUE, "listens"):
        op.execute(f"CREATE TRIGGER trg_dv_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION aime_mark_data_change()")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for table in CATALOGUE:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS trg_dv_{table}_{event}")
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_dv_listens_{event}")
    else:
        for table in (*CATALOGUE, "listens"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_dv_{table} ON {table}")
        op.drop_table("data_version_marks")  # drops its constraint trigger
        op.execute("DROP FUNCTION IF EXISTS aime_bump_data_version()")
        op.execute("DROP FUNCTION IF EXISTS aime_mark_data_change()")
    op.drop_table("data_version")
