"""The metrics directory shared by gunicorn's workers: prepared by the master, read by aime/observability/metrics.py.

Nothing here imports prometheus_client: it must first be imported after prepare_metrics_dir() has set
PROMETHEUS_MULTIPROC_DIR, or it silently stays single-process (gunicorn.conf.py's on_starting imports this).
"""
from __future__ import annotations

import glob
import os
import shutil
import tempfile
import time

METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
STARTED_AT_ENV = "AIME_STARTED_AT"
# In the directory: a generation number that a process bumps once its counter file exists (metrics.py), so that
# readers list the directory again only when it moved. Not *.db: prometheus_client reads every *.db file there.
ROSTER_NAME = "aime-counter-files.roster"
ROSTER_BYTES = 8


def prepare_metrics_dir() -> tuple[str, bool]:
    """Point PROMETHEUS_MULTIPROC_DIR at an empty directory (before any worker exists); (path, created_here)."""
    path = os.environ.get(METRICS_DIR_ENV, "").strip()
    created = not path
    if created:
        path = tempfile.mkdtemp(prefix="aime-metrics-")
    os.makedirs(path, exist_ok=True)
    # Counters count "since the service started": files of a previous run must not be added in.
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)
    with open(os.path.join(path, ROSTER_NAME), "wb") as roster:  # generation 0, before any worker counts
        roster.write(bytes(ROSTER_BYTES))
    os.environ[METRICS_DIR_ENV] = path
    os.environ[STARTED_AT_ENV] = repr(time.time())
    return path, created


def remove_metrics_dir(path: str | None) -> None:
    """Remove a metrics directory this process created."""
    if path:
        shutil.rmtree(path, ignore_errors=True)
