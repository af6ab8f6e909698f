"""data_dir (critical): the data directory exists and a file can be written in it."""
from __future__ import annotations

import os
import tempfile


from ...config import current_config
from .base import Checker, CheckResult, failed, passed


class DataDirChecker(Checker):
    """Writes and removes a small file in AIME_DATA_DIR."""

    name = "data_dir"
    critical = True
    component_type = "system"

    def check(self) -> CheckResult:
        """Exists, is a directory, accepts a new file."""
        path = current_config().data_dir
        if not path.is_dir():
            return failed("data directory does not exist", path=str(path))
        try:
            fd, name = tempfile.mkstemp(prefix=".health-", dir=path)
            os.close(fd)
            os.unlink(name)
        except OSError as error:
            return failed(f"data directory is not writable ({error.strerror})", path=str(path))
        return passed("data directory writable", path=str(path))
