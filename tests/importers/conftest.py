"""Fixtures for the importers: the shared sample files and a synchronous `import_file` helper."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
if not SAMPLES.is_dir():  # the checkout may live elsewhere; the samples sit next to it
    SAMPLES = Path("/work/shared/samples")


@pytest.fixture
def samples() -> Path:
    """The directory of sample exports (treated as given)."""
    return SAMPLES


@pytest.fixture
def import_file(app):
    """Run an import job for a local file to the end, in this thread; returns the job report."""
    from aime.jobs import imports

    def run(path: Path, fmt: str | None = None) -> dict:
        with app.app_context():
            job_id = imports.create_file_job(Path(path), fmt)
            return imports.run_job(job_id)

    return run


@pytest.fixture
def count_listens(app):
    """How many listens are stored."""
    from aime.extensions import db
    from aime.models import Listen

    def count() -> int:
        with app.app_context():
            return db.session.scalar(select(func.count(Listen.id)))

    return count


def join_import_threads(timeout: float = 60.0) -> None:
    """Wait for background import threads of this process to finish."""
    for thread in threading.enumerate():
        if thread.name.startswith("aime-import-"):
            thread.join(timeout)
            assert not thread.is_alive(), f"{thread.name} still running after {timeout}s"
