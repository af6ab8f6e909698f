"""Observability fixtures: reuse the health fixtures (apps with overrides, log capture)."""
from tests.health.conftest import aime_logs, make_app, token_headers  # noqa: F401 - fixtures
