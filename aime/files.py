"""Files written whole or not at all."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(target: Path, data: bytes, prefix: str = ".aime-") -> None:
    """Write `data` to `target` through a synced temporary file in the same folder and os.replace.

    A reader (or a crash) sees the old file or the new one, never half of one; the temporary file is removed
    when anything fails.
    """
    fd, temp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
