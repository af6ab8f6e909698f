"""Built-in health checkers, one module each, listed in one place."""
from __future__ import annotations

from .background_services import BackgroundServicesChecker
from .base import Checker, CheckResult, failed, passed, warned
from .data_dir import DataDirChecker
from .database import DatabaseChecker
from .disk_space import DiskSpaceChecker
from .enrichment_sources import enrichment_checkers
from .error_rate import ErrorRateChecker
from .integrations import integration_checkers
from .migrations import MigrationsChecker


def builtin_checkers() -> list:
    """A fresh instance of every built-in checker, in display order."""
    return [DatabaseChecker(), MigrationsChecker(), DataDirChecker(), DiskSpaceChecker(), ErrorRateChecker(),
            BackgroundServicesChecker(), *integration_checkers(), *enrichment_checkers()]


__all__ = ["Checker", "CheckResult", "builtin_checkers", "failed", "passed", "warned"]
