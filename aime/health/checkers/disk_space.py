"""disk_space: warn when the data directory's disk has less than AIME_DISK_MIN_FREE_MB free."""
from __future__ import annotations

import shutil


from ...config import current_config
from .base import Checker, CheckResult, passed, warned


class DiskSpaceChecker(Checker):
    """Free space where the data lives."""

    name = "disk_space"
    critical = False
    component_type = "system"
    measurement = "free"

    def check(self) -> CheckResult:
        """Compare free MiB with the configured minimum."""
        config = current_config()
        path = config.data_dir if config.data_dir.exists() else config.data_dir.parent
        free_mb = round(shutil.disk_usage(path).free / (1024 * 1024), 1)
        if free_mb < config.disk_min_free_mb:
            return warned(f"only {free_mb} MiB free, below {config.disk_min_free_mb} MiB", free_mb, "MiB",
                          path=str(path))
        return passed(f"{free_mb} MiB free", free_mb, "MiB", path=str(path))
