"""Start the real thing for integration tests: gunicorn with the shipped config, on a free port."""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator

import requests

ROOT = Path(__file__).resolve().parents[2]


# Under pytest-xdist each worker (PYTEST_XDIST_WORKER=gw0, gw1, ..., inherited by the servers and benchmarks a
# test starts) takes its ports from its own block below Linux's ephemeral range (32768-60999): a port one worker
# was just given and has not bound yet cannot be handed to another worker, nor taken by an outgoing connection.
_PORT_BLOCK, _PORT_BASE = 2_000, 12_000
_handed: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (from this xdist worker's own block)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        low = _PORT_BASE + (int(worker[2:]) % 10) * _PORT_BLOCK
        candidates = [low + (os.getpid() * 7 + i) % _PORT_BLOCK for i in range(_PORT_BLOCK)]
        for port in candidates:
            if port in _handed:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _handed.add(port)
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30.0, status: int | None = 200, proc: subprocess.Popen | None = None) -> None:
    """Poll url until it answers (with `status`, if given); fail with the server's output otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            response = requests.get(url, timeout=2)
            if status is None or response.status_code == status:
                return
            last = response.status_code
        except requests.RequestException as error:
            last = error
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {status} within {timeout}s (last: {last})")


class Gunicorn:
    """A running gunicorn master started from the repository's gunicorn.conf.py."""

    def __init__(self, env: dict[str, str], log_path: Path, app_spec: str = "wsgi:app"):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.app_spec = app_spec  # the WSGI app served, e.g. tests.support.slow_app:app
        self.env = {**os.environ, **env, "AIME_BIND": f"127.0.0.1:{self.port}"}
        self.proc: subprocess.Popen | None = None

    def start(self, wait_path: str = "/live", timeout: float = 60.0) -> Gunicorn:
        """Start the master and wait until wait_path answers 200 (no wait when wait_path is empty)."""
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), self.app_spec],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait_path:
            wait_for(self.base_url + wait_path, timeout=timeout, proc=self.proc)
        return self

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return self.base_url + path

    def signal(self, sig: int) -> None:
        """Send a signal to the master."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM the master and wait for it; returns its exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def log_text(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text(errors="replace")


def _flask_db_upgrade(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "aime", "db", "upgrade"], cwd=ROOT,
                   env={**os.environ, **env}, check=True, capture_output=True)


_migrated: list[Path] = []  # this process's SQLite file migrated to head by the command, once made


def _new_sqlite_file(env: dict[str, str]) -> Path | None:
    """The SQLite file DATABASE_URL names when it does not exist yet (else None: PostgreSQL, an existing file).
    Without DATABASE_URL the app's database is AIME_DATA_DIR/musique.db (aime/config.py), when that is absolute."""
    from sqlalchemy.engine import make_url

    merged = {**os.environ, **env}
    raw, data_dir = merged.get("DATABASE_URL"), merged.get("AIME_DATA_DIR", "")
    if not raw and Path(data_dir).is_absolute():
        raw = f"sqlite:///{Path(data_dir) / 'musique.db'}"
    url = make_url(raw or "sqlite://")
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return None if Path(database).exists() else Path(database)


def migrate(env: dict[str, str]) -> None:
    """Run `flask --app aime db upgrade` with env, as the operator would. A new SQLite database is a copy of
    the file the command made at the first such call of this process (with an epoch of its own, as the
    command gives it; the directories made as the app makes them): the same schema and rows without the
    command's ~2 s of CPU (its interpreter and app import) at every server start. An empty PostgreSQL database
    of the suite's server is re-created from a database the command migrated (_clone_migrated_postgres)."""
    if _clone_migrated_postgres(env):
        return
    target = _new_sqlite_file(env)
    if target is None:
        _flask_db_upgrade(env)
        return
    if not _migrated:
        folder = Path(tempfile.mkdtemp(prefix="aime-migrated-"))
        atexit.register(shutil.rmtree, folder, True)
        _flask_db_upgrade({**env, "DATABASE_URL": f"sqlite:///{folder / 'aime.db'}", "AIME_DATA_DIR": str(folder)})
        _migrated.append(folder / "aime.db")
    from aime.services.data_version import renew_epoch

    for folder in ({**os.environ, **env}.get("AIME_DATA_DIR"), target.parent):
        if folder:
            Path(folder).mkdir(mode=0o700, parents=True, exist_ok=True)
    for suffix in ("", "-wal"):  # the command's last connection folded the WAL into the file; copy it if not
        if Path(f"{_migrated[0]}{suffix}").exists():
            shutil.copy(f"{_migrated[0]}{suffix}", f"{target}{suffix}")  # with its mode (0600)
    renew_epoch(target)


_pg_template: list[str] = []  # this process's PostgreSQL database migrated to head by the command, once made
_pg_template_admin: list = []  # the URL it was made through


def drop_postgres_template() -> None:
    """Drop this process's PostgreSQL template database, if one was made (called at the end of the session)."""
    while _pg_template:
        _drop_database(_pg_template_admin[0], _pg_template.pop())


def _clone_migrated_postgres(env: dict[str, str]) -> bool:
    """PostgreSQL's counterpart of the SQLite copy: when DATABASE_URL names an empty database (no table, as
    tests.conftest.make_postgres_database leaves it) on the suite's server (AIME_TEST_POSTGRES_URL's host and
    port) and nobody else is connected to it, re-create it from a template database the command migrated at the
    first such call of this process, then give it an epoch of its own. False (nothing changed: the caller runs
    the command) for any other database, a proxied one, an unreachable one, or one in use."""
    import uuid

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    merged = {**os.environ, **env}
    admin_raw, raw = merged.get("AIME_TEST_POSTGRES_URL", ""), merged.get("DATABASE_URL", "")
    if not admin_raw or not raw.startswith("postgresql"):
        return False
    admin, target = make_url(admin_raw), make_url(raw)
    if (target.host, target.port or 5432) != (admin.host, admin.port or 5432) or not target.database:
        return False
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        probe = sa.create_engine(target, poolclass=NullPool)
        try:
            with probe.connect() as conn:
                tables = conn.execute(sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"))
                if tables.scalar_one():
                    return False
        finally:
            probe.dispose()
        with engine.connect() as conn:
            if not _pg_template:
                name = f"aime_migrated_{uuid.uuid4().hex[:10]}"
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
                _pg_template_admin.append(admin)
                atexit.register(drop_postgres_template)  # and tests/conftest.py's pytest_unconfigure (xdist workers
                # leave through os._exit: no atexit)
                _flask_db_upgrade({**env, "DATABASE_URL": target.set(database=name).render_as_string(
                    hide_password=False)})
                _pg_template.append(name)
            # Without FORCE: a database someone is connected to is not dropped (PostgreSQL waits up to 5 s for
            # them, then refuses: OperationalError, and the command migrates it in place instead).
            conn.exec_driver_sql(f'DROP DATABASE "{target.database}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{target.database}" TEMPLATE "{_pg_template[0]}"')
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()
    renewed = sa.create_engine(target, poolclass=NullPool)
    try:
        with renewed.begin() as conn:
            conn.execute(sa.text("UPDATE data_version SET epoch = :epoch"), {"epoch": uuid.uuid4().hex[:12]})
    finally:
        renewed.dispose()
    data_dir = merged.get("AIME_DATA_DIR")
    if data_dir:
        Path(data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    return True


def _drop_database(admin, name: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except sa.exc.SQLAlchemyError:
        pass  # the server is gone at exit: nothing to clean
    finally:
        engine.dispose()


@contextmanager
def gunicorn(env: dict[str, str], log_path: Path, wait_path: str = "/live") -> Iterator[Gunicorn]:
    """A migrated database and a running gunicorn for the duration of the block."""
    migrate(env)
    server = Gunicorn(env, log_path).start(wait_path=wait_path)
    try:
        yield server
    finally:
        server.stop()
