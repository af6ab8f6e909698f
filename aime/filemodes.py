"""Files AIME writes are its own: directories 0700, files 0600 (database, -wal, backups, uploads, secrets)."""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)
PRIVATE_UMASK = 0o077


def restrict_new_files() -> None:
    """Set the process umask so that every file and directory created from now on is private.

    Done once at start (create_app, hence gunicorn's master before it forks, every worker and every
    CLI command): SQLite, the import uploads, backups and exports get 0600/0700 without each writer
    having to remember it.
    """
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) 0700; an existing directory we own that others can read is tightened."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        info = path.stat()
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(path, 0o700)
            log.warning("data directory %s was readable by other users; now 0700", path)
    except OSError as error:  # not ours to change (a mounted volume): say so, carry on
        log.warning("cannot make %s private: %s", path, error.strerror)
    return path
