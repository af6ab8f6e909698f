"""Which backends a test runs on (tests/conftest.py: pytest_generate_tests)."""
import pytest

from tests.conftest import _backends


@pytest.mark.backend_independent
def test_a_backend_independent_test_runs_on_the_first_backend_only(request, backend):
    chosen = request.config.getoption("backend") or _backends()
    assert backend == chosen[0]
    siblings = [item.name for item in request.session.items if item.originalname == request.node.originalname]
    assert siblings == [f"{request.node.originalname}[{chosen[0]}]"]


def test_any_other_database_test_runs_on_every_backend(request, backend):
    chosen = request.config.getoption("backend") or _backends()
    siblings = [item.name for item in request.session.items if item.originalname == request.node.originalname]
    assert siblings == [f"{request.node.originalname}[{name}]" for name in chosen]
