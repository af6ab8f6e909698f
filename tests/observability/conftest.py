"""Observability fixtures: reuse the health fixtures (log capture, token headers); make_app is in tests/conftest.py."""
from tests.health.conftest import aime_logs, token_headers  # noqa: F401 - fixtures
