"""Fixtures: app (migrated database, SQLite or PostgreSQL), db, client, runner, auth headers."""
from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from aime import create_app
from aime.config import Config

TEST_TOKEN = "test-token-0123456789abcdef"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
POSTGRES_URL = os.environ.get("AIME_TEST_POSTGRES_URL", "")
# A health-check deadline only a hang reaches, for tests that read the checks' answers rather than test the
# deadline. The deadline is wall time: at load 9-14 on 2 cores a ready thread of the test process waited up to 4 s
# for the CPU, and a check that needed a millisecond was "timed out", the database too (503, unhealthy).
HANG_ONLY_CHECK_DEADLINE = 30.0


def _backends():
    backends = ["sqlite"]
    if POSTGRES_URL:
        backends.append("postgresql")
    return backends


def pytest_addoption(parser):
    parser.addoption("--backend", action="append", default=None,
                     help="database backend(s) to run DB tests on: sqlite, postgresql (default: all available)")


# @pytest.mark.backend_independent: a test whose request is refused or answered above the database (a schema, the
# JSON parser, the body limit, the error mapping) runs on SQLite only. Counted with an engine event in its call
# phase, such a test runs no statement but the per-request data-version and write-throttle reads (which hundreds of
# other tests run on both backends) and its own reads of empty tables; what it asserts (status, problem body, field
# errors) is made before any query, so a PostgreSQL run of it adds CPU, not coverage.
def pytest_configure(config):
    # Registered here, not in setup.cfg: a change there makes scripts/run-tests.sh reinstall the dependencies.
    config.addinivalue_line("markers", "backend_independent: answered above the database (tests/conftest.py "
                                       "says which): runs on the first backend only")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("backend") or _backends()
        if metafunc.definition.get_closest_marker("backend_independent"):
            chosen = chosen[:1]  # SQLite, unless --backend chose otherwise
        metafunc.parametrize("backend", chosen, scope="session")


@pytest.fixture(scope="session")
def postgres_admin_url():
    """The PostgreSQL server URL, or skip with a clear reason when it is absent."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured (AIME_TEST_POSTGRES_URL unset)")
    return POSTGRES_URL


def make_postgres_database(admin_url: str) -> str:
    """Create a fresh, uniquely named database and return its URL."""
    name = f"aime_test_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, url: str) -> None:
    """Drop a database made by make_postgres_database."""
    name = sa.engine.make_url(url).database
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


def make_config(tmp_path, database_url: str | None = None, **overrides) -> Config:
    """A Config for tests: its own data dir, a known token, quiet retries."""
    env = {"AIME_DATA_DIR": str(tmp_path / "data"), "AIME_API_TOKEN": TEST_TOKEN, "AIME_LOG_LEVEL": "warning"}
    if database_url:
        env["DATABASE_URL"] = database_url
    return Config.from_env(env).replace(write_retry_seconds=2.0, **overrides)


def upgrade(app) -> None:
    """Build the schema the way production does: Alembic migrations to head."""
    from flask_migrate import upgrade as alembic_upgrade

    with app.app_context():
        alembic_upgrade()


@pytest.fixture(scope="session")
def _postgres_template(request):
    """One migrated PostgreSQL database per session; tests empty its tables between runs."""
    if not POSTGRES_URL:
        return None
    url = make_postgres_database(POSTGRES_URL)
    request.addfinalizer(lambda: drop_postgres_database(POSTGRES_URL, url))
    return {"url": url, "migrated": False}


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    """One SQLite file migrated to head per session. Running the migrations costs most of a test's setup;
    a byte copy of their result is the same database (schema, FTS5 tables, triggers, data_version row)."""
    config = make_config(tmp_path_factory.mktemp("sqlite-template"))
    config.data_dir.mkdir(parents=True, exist_ok=True)
    application = create_app(config)
    upgrade(application)
    _dispose(application)
    return Path(sa.engine.make_url(config.database_url).database)


def migrate_sqlite(application, template: Path) -> None:
    """Bring a new SQLite app to head: copy the session's migrated file when its database file does not exist
    yet (with an epoch of its own, as a migration would give it), then check it is at head as Alembic's upgrade
    does (_at_head); a database that is not (an existing file, an in-memory one) gets the real upgrade."""
    from aime.services.data_version import renew_epoch

    database = sa.engine.make_url(application.extensions["aime.config"].database_url).database
    target = Path(database or ":memory:")
    if database not in (None, "", ":memory:") and not database.startswith("file:") and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal"):  # after dispose() SQLite has folded the WAL into the file; copy it if not
            if Path(f"{template}{suffix}").exists():
                shutil.copyfile(f"{template}{suffix}", f"{target}{suffix}")
        renew_epoch(target)
    if not _at_head(application):
        upgrade(application)


_HEADS: list[tuple[str, ...]] = []  # the migration scripts' head revision(s), read once per process


def _at_head(application) -> bool:
    """What `flask db upgrade` does to a database already at head, without its cost (~45 ms of CPU a test: it
    loads env.py and every migration script again): migrations/env.py's logging setup (the same fileConfig
    call) and alembic's version check (a MigrationContext on the app's engine reads alembic_version, logging
    what it logs at an upgrade). True when the database is at the scripts' head, which the upgrade would then
    leave untouched."""
    from logging.config import fileConfig

    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from aime.extensions import db as database

    with application.app_context():
        config = application.extensions["migrate"].migrate.get_config()
        fileConfig(config.config_file_name, disable_existing_loggers=False)
        if not _HEADS:
            _HEADS.append(tuple(sorted(ScriptDirectory.from_config(config).get_heads())))
        with database.engine.connect() as connection:
            current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    return current == _HEADS[0]


@pytest.fixture
def app(request, tmp_path, backend, _postgres_template):
    """A migrated app on the backend under test (SQLite file in tmp_path, or the shared PostgreSQL db)."""
    if backend == "postgresql":
        if _postgres_template is None:
            pytest.skip("PostgreSQL not configured (AIME_TEST_POSTGRES_URL unset)")
        config = make_config(tmp_path, _postgres_template["url"])
    else:
        config = make_config(tmp_path)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    application = create_app(config)
    application.config["TESTING"] = True
    if backend == "sqlite":
        migrate_sqlite(application, request.getfixturevalue("_sqlite_template"))
    elif _postgres_template["migrated"]:
        _empty_tables(application)
    else:
        upgrade(application)
        _postgres_template["migrated"] = True
    yield application
    _dispose(application)


# Threads an app starts on its own that may still hold a pooled connection when a test ends: a health check
# refreshing behind a cached answer, a job or an import finishing its last write.
_BACKGROUND_PREFIXES = ("health-", "aime-job-", "aime-import-")


def settle_background_threads(timeout: float = 15.0) -> None:
    """Wait (bounded) for the app's background threads, before an engine is disposed.

    engine.dispose() leaves a checked-out connection alone; its thread later hands it back to the discarded
    pool, and the garbage collector finds it open in whichever test runs then: psycopg's ResourceWarning,
    an error under filterwarnings=error, blamed on an innocent test (CI, test_models_match_the_migrations)."""
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.name.startswith(_BACKGROUND_PREFIXES):
            thread.join(max(0.0, deadline - time.monotonic()))


def _dispose(application) -> None:
    from aime.extensions import db as database

    settle_background_threads()
    with application.app_context():
        database.session.remove()
        database.engine.dispose()


# Sequences owned by (serial or identity columns of) the named tables, each set back to its start value.
_RESTART_SEQUENCES = sa.text("""
    SELECT setval(s.oid, ps.start_value, false)
    FROM pg_class s
    JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')
    JOIN pg_class t ON t.oid = d.refobjid
    JOIN pg_namespace n ON n.oid = s.relnamespace AND n.nspname = current_schema()
    JOIN pg_sequences ps ON ps.schemaname = n.nspname AND ps.sequencename = s.relname
    WHERE s.relkind = 'S' AND t.relname = ANY(:tables)""")


def _empty_tables(application) -> None:
    """Empty every model table and restart its ids: the state a fresh migration leaves. DELETE, children
    first, rather than TRUNCATE: a test leaves a handful of rows, and TRUNCATE's new files for every table
    and index cost far more than deleting them (the statement triggers of the data version fire for both)."""
    from aime.extensions import db as database

    with application.app_context():
        tables = [table.name for table in reversed(database.metadata.sorted_tables)]
        for name in tables:
            database.session.execute(sa.text(f'DELETE FROM "{name}"'))
        database.session.execute(_RESTART_SEQUENCES, {"tables": tables})
        database.session.commit()


@pytest.fixture
def db(app):
    """The database extension inside an app context."""
    from aime.extensions import db as database

    with app.app_context():
        yield database


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def auth():
    """Headers carrying the test API token."""
    return {"Authorization": f"Bearer {TEST_TOKEN}"}


@pytest.fixture
def app_factory():
    """Build extra apps (e.g. another 'process' on the same database); after the test their background
    services are stopped and their engines disposed."""
    from aime.extensions import db as database
    from aime.jobs import runtime

    made = []

    def build(config):
        application = create_app(config)
        made.append(application)
        return application

    yield build
    for application in made:
        runtime.stop_runtime(application)
        settle_background_threads()
        with application.app_context():
            database.session.remove()
            database.engine.dispose()


@pytest.fixture
def make_app(request, tmp_path, app_factory):
    """Build a SQLite app (or one on database_url) in tmp_path with Config overrides; migrated by default."""
    count = iter(range(1_000))

    def factory(migrate: bool = True, database_url: str | None = None, **overrides):
        config = make_config(tmp_path / f"app{next(count)}", database_url, **overrides)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        application = app_factory(config)
        application.config["TESTING"] = True
        if migrate and config.is_sqlite:
            migrate_sqlite(application, request.getfixturevalue("_sqlite_template"))
        elif migrate:
            upgrade(application)
        return application

    return factory


@pytest.fixture
def two_processes(app, app_factory):
    """Two more apps on the migrated app's database, as two gunicorn workers would be, with a short lease."""
    config = app.extensions["aime.config"].replace(service_lease_seconds=0.6)
    return [app_factory(config), app_factory(config)]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright, one for the whole session (Playwright's sync API allows one per
    process: a second session fixture in another package made every later browser test error); skipped (with
    the reason) when either is missing."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: install it with `apt-get install -y chromium`")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip extra [test])")
    playwright = sync_api.sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def database_url(backend, tmp_path):
    """A fresh database of the backend under test (SQLite file or a new PostgreSQL database)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'aime.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured (AIME_TEST_POSTGRES_URL unset)")
    url = make_postgres_database(POSTGRES_URL)
    yield url
    drop_postgres_database(POSTGRES_URL, url)


# ---------------------------------------------------------------- pytest-xdist: how the suite is shared out
# scripts/run-tests.sh runs the whole suite with `-n 2 --dist loadgroup` (AIME_TEST_WORKERS). The controller hands
# out work units (pytest_xdist_make_scheduler below): a unit goes whole to one worker, in the order the workers
# collected them, which pytest_collection_modifyitems sets in every worker: the long units first, then the rest in
# their usual order, so the short ones fill in at the end whichever worker is free. A unit is one test module (its
# module-scoped servers start once, its tests keep their order), except for the tests named in _UNITS below and
# those of the _PER_TEST modules, each a unit of its own. Every test still runs once, in some worker.
#
# _CPU_HEAVY units all share one group, so they run one after the other in one worker: two of them at once on 2
# cores (each also starting gunicorn workers and load generators) is what made earlier parallel runs time out.
# The other long units mostly wait (a scheduled minute, a paced soak, a restart) and run beside them.
# Keys: "module", "module::test name prefix" or "module::test name prefix[parameters]"; values: seconds (from a
# --durations run under load, roughly halved: only their order matters).
_CPU_HEAVY: dict[str, float] = {
    "tests/bench/test_bench_smoke.py": 110,
    "tests/insights/test_stats_exact.py::test_every_statistic[postgresql]": 100,
    "tests/insights/test_stats_exact.py::test_every_statistic[sqlite]": 75,
    "tests/resilience/test_schemathesis.py::test_every_operation[0]": 30,
    "tests/resilience/test_schemathesis.py::test_every_operation[1]": 30,
    "tests/resilience/test_schemathesis.py::test_every_operation[2]": 30,
}
_UNITS: dict[str, float] = {
    "tests/resilience/test_gunicorn_load.py": 220,
    "tests/bench/test_scale_smoke.py": 110,
    "tests/ops/test_deployment_checklist.py": 60,
    "tests/ops/test_restore.py::test_backup_under_write_load": 60,
    "tests/resilience/test_busy_import.py::test_a_300k_import": 55,
    "tests/ops/test_start_services.py::test_a_busy_server_is_never_restarted": 55,
    "tests/ops/test_start_services.py::test_kill_9_of_the_whole_server_mid_import": 35,  # 50,000 plays (was 60)
    # Tests of 15-65 s in the serial run of main 3c90e28 (--durations, load 4-10), so that none is left for last.
    "tests/ops/test_start_services.py::test_restarts_after_the_master_is_killed": 32,
    "tests/ops/test_start_services.py::test_restarts_an_unhealthy_service": 26,
    "tests/bench/test_statsbench_smoke.py": 26,
    "tests/ops/test_start_services.py::test_once_ignores_stale_pid_files": 24,
    "tests/health/test_gunicorn.py": 40,
    "tests/integrations/test_services_gunicorn.py": 31,
    "tests/api/test_scrobblers_gunicorn.py": 32,
    "tests/bench/test_searchbench_smoke.py": 19,
    "tests/ops/test_start_services.py::test_foreground_execs_gunicorn": 18,
    "tests/importers/test_one_owner.py": 17,
    "tests/resilience/test_slow_clients.py": 20,
    "tests/ops/test_start_services.py::test_supervised_start_refuses": 13,
    "tests/ops/test_start_services.py::test_installs_when_the_venv_is_new": 11,
    "tests/observability/test_gunicorn_access.py": 18,
    "tests/ops/test_health_script.py": 11,
    "tests/health/test_validation.py": 11,
    "tests/security/test_gunicorn_security.py": 10,
    "tests/ops/test_lint.py": 10,
}
# Modules of long tests without module-scoped fixtures: each test is a unit of its own.
_PER_TEST = ("tests/ops/test_start_services.py", "tests/ops/test_graceful.py", "tests/ops/test_restore.py",
             "tests/resilience/test_busy_import.py", "tests/ops/test_deadlines_gunicorn.py")


def _matches(key: str, nodeid: str) -> bool:
    module, _, test = key.partition("::")
    if nodeid.split("::", 1)[0] != module:
        return False
    name, _, parameters = test.partition("[")
    last = nodeid.rsplit("::", 1)[-1]
    return last.split("[", 1)[0].startswith(name) and (not parameters or last.endswith("[" + parameters))


def _unit_of(nodeid: str) -> tuple[str, str | None]:
    """(work unit, the key of _CPU_HEAVY or _UNITS it matched, if any) of a test's node id."""
    for key in _CPU_HEAVY:
        if _matches(key, nodeid):
            return "cpu-heavy", key
    for key in _UNITS:
        if _matches(key, nodeid):
            return key, key
    module = nodeid.split("::", 1)[0]
    return (nodeid if module in _PER_TEST else module), None


def pytest_unconfigure(config):
    """The PostgreSQL template tests/support/servers.migrate made in this process, dropped (an xdist worker ends
    with os._exit, so atexit alone would leave it on the server)."""
    from tests.support.servers import drop_postgres_template

    drop_postgres_template()


def pytest_xdist_make_scheduler(config, log):
    """--dist loadgroup, with the work units of _unit_of. (xdist 3.8's own loadgroup renames items through
    item._nodeid, which pytest 9 no longer reads: its xdist_group marks silently did nothing.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    # xdist re-sorts the scopes by their number of tests unless told not to (--no-loadscope-reorder): the
    # order pytest_collection_modifyitems gives (long units first) was lost, and the bench smoke, the stats
    # recount and the schemathesis shards (few tests each) came last, one after the other, in one worker.
    config.option.loadscopereorder = False

    class UnitScheduling(LoadScopeScheduling):
        """xdist's scope scheduling (a unit goes whole to one worker, units in collection order, each worker
        asking for the next when it has two tests left) with our units as the scopes."""

        def _split_scope(self, nodeid: str) -> str:
            return _unit_of(nodeid)[0]

    return UnitScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    # In each worker of a --dist loadgroup run: the order in which the controller hands out the units.
    if not os.environ.get("PYTEST_XDIST_WORKER") or not config.getvalue("loadgroup"):
        return
    units: dict[str, list] = {}
    keys: dict[str, set[str]] = {}
    for item in items:
        unit, key = _unit_of(item.nodeid)
        units.setdefault(unit, []).append(item)
        if key is not None:
            keys.setdefault(unit, set()).add(key)
    known = {**_CPU_HEAVY, **_UNITS}
    cost = {unit: sum(known[key] for key in matched) for unit, matched in keys.items()}
    # Known long units, longest first; the rest after them, in collection order (sorted() is stable).
    ordered = sorted(units, key=lambda unit: -cost.get(unit, 0.0))
    items[:] = [item for unit in ordered for item in units[unit]]
