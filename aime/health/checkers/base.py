"""What a health checker is, and what it returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask

STATUSES = ("pass", "warn", "fail")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: status, a human message, an observed value and its unit."""

    status: str
    output: str = ""
    observed_value: Any = None
    observed_unit: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")


def passed(output: str = "ok", value: Any = None, unit: str | None = None, **details: Any) -> CheckResult:
    """A passing result."""
    return CheckResult("pass", output, value, unit, details)


def warned(output: str, value: Any = None, unit: str | None = None, **details: Any) -> CheckResult:
    """A warning: something is off, the service still works (degraded)."""
    return CheckResult("warn", output, value, unit, details)


def failed(output: str, value: Any = None, unit: str | None = None, **details: Any) -> CheckResult:
    """A failure: unhealthy when the checker is critical, degraded otherwise."""
    return CheckResult("fail", output, value, unit, details)


class Checker:
    """Base class for checkers. Subclasses set name/critical/component_type and implement check().

    check() runs in a worker thread inside an app context (current_app works), under a deadline.
    Third-party checkers need not inherit from this: any object with these attributes will do.
    """

    name = "unnamed"
    critical = False
    component_type = "component"
    measurement = "status"

    def enabled(self, app: Flask) -> bool:
        """Whether this checker applies to the app (default: always)."""
        return True

    def check(self) -> CheckResult:  # pragma: no cover - abstract
        """Run the check once."""
        raise NotImplementedError
