"""listen count (PostgreSQL): the number of listens kept in data_version at each commit, for the journal's total

Revision ID: 0019
Revises: 0016

On PostgreSQL count(*) of listens reads the whole table (19-50 ms of server CPU at 200,000 plays). Statement
triggers with transition tables add each statement's inserted rows and subtract its deleted rows into a
transaction-local setting (reverted with a rolled-back savepoint, like the rows), and the deferred trigger of
migration 0015, which already bumps the data version once at commit, applies that delta under the same row
lock: the stored count is exact for every committed state, whatever wrote the rows. TRUNCATE makes it
unknown (NULL: readers count the table). SQLite needs none of this (aime/services/listen_totals.py).
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0016"
branch_labels = None
depends_on = None

_DELTA = "coalesce(nullif(current_setting('aime.listen_delta', true), ''), '0')::bigint"
BUMP_WITH_COUNT = f"""
        CREATE OR REPLACE FUNCTION aime_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE data_version SET version = version + 1,
                listen_count = CASE WHEN current_setting('aime.listens_truncated', true) = 'yes' THEN NULL
                                    ELSE listen_count + {_DELTA} END
            WHERE id = 1;
            DELETE FROM data_version_marks WHERE id = NEW.id;
            RETURN NULL;
        END $$"""
BUMP_ONLY = """
        CREATE OR REPLACE FUNCTION aime_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE data_version SET version = version + 1 WHERE id = 1;
            DELETE FROM data_version_marks WHERE id = NEW.id;
            RETURN NULL;
        END $$"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.add_column("data_version", sa.Column("listen_count", sa.BigInteger(), nullable=True))
    for name, table, sign in (("added", "NEW", ""), ("removed", "OLD", "-")):
        op.execute(f"""
            CREATE FUNCTION aime_count_listens_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM set_config('aime.listen_delta', ({_DELTA} {sign or '+'} (SELECT count(*) FROM {name}))::text,
                                   true);
                RETURN NULL;
            END $$""")
        event = "INSERT" if table == "NEW" else "DELETE"
        op.execute(f"CREATE TRIGGER trg_listen_count_{name} AFTER {event} ON listens REFERENCING {table} TABLE "
                   f"AS {name} FOR EACH STATEMENT EXECUTE FUNCTION aime_count_listens_{name}()")
    op.execute("""
        CREATE FUNCTION aime_listens_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM set_config('aime.listens_truncated', 'yes', true);
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER trg_listen_count_truncated AFTER TRUNCATE ON listens "
               "FOR EACH STATEMENT EXECUTE FUNCTION aime_listens_truncated()")
    op.execute(BUMP_WITH_COUNT)
    # Writers wait while the count is taken, so the stored value matches the table when the lock is released.
    op.execute("LOCK TABLE listens IN SHARE MODE")
    op.execute("UPDATE data_version SET listen_count = (SELECT count(*) FROM listens) WHERE id = 1")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(BUMP_ONLY)
    for name in ("added", "removed", "truncated"):
        op.execute(f"DROP TRIGGER IF EXISTS trg_listen_count_{name} ON listens")
    for function in ("aime_count_listens_added", "aime_count_listens_removed", "aime_listens_truncated"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_column("data_version", "listen_count")
