"""schemathesis against the served OpenAPI document, in-process through the WSGI app, with the token."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance, negative_data_rejection, response_headers_conformance, response_schema_conformance,
    status_code_conformance)

from tests.resilience.conftest import AUTH

pytestmark = [pytest.mark.resilience]

# Examples per operation and generation mode (~50 operations x 2 modes).
EXAMPLES = 8


@schemathesis.check
def no_internal_error(ctx, response, case):
    """No 500 ever; the only 5xx allowed is a deliberate 503 problem (feature not configured, database busy)."""
    if response.status_code >= 500:
        body = response.json()
        assert response.status_code == 503, f"{response.status_code}: {response.text[:300]}"
        assert body["type"] != "https://aime.local/problems/internal-error"
        assert response.headers["content-type"][0].startswith("application/problem+json")
    return None


# Why not schemathesis' default set: 503 "not configured" is documented behaviour (not_a_server_error would
# flag it), and a 422 for data the schema cannot express (a cron expression, an unknown file format) is a
# correct answer, not a rejected valid request (positive_data_acceptance).
CHECKS = [no_internal_error, status_code_conformance, response_schema_conformance, response_headers_conformance]


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def _run(operation, mode, checks):
    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        case.call_and_validate(headers=AUTH, checks=checks)

    run()


# The operations are run in SHARDS parts (every operation in exactly one, by its place in the document), so
# pytest-xdist can spread the longest unit of the suite over its workers; together they run what one test did.
SHARDS = 3


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_answers_within_its_documented_schema_and_never_500(make_app, shard):
    app = make_app(log_level="ERROR")
    operations = sorted(_operations(app), key=lambda operation: operation.label)  # the same split every time
    assert len(operations) >= 45  # the whole /api/v1 surface is documented and exercised
    failures = {}
    for operation in operations[shard::SHARDS]:
        for mode, checks in ((GenerationMode.POSITIVE, CHECKS),
                             (GenerationMode.NEGATIVE, CHECKS + [negative_data_rejection])):
            try:
                _run(operation, mode, checks)
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE  # nothing to make invalid (no parameters, no body)
            except (AssertionError, BaseExceptionGroup) as error:  # collect all: one run shows every broken one
                failures[f"{operation.label} [{mode}]"] = str(error)[:1500]
    assert not failures, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())


def test_error_responses_document_their_problem_json_content_type(make_app):
    app = make_app(log_level="ERROR")
    operation = next(op for op in _operations(app) if op.label == "GET /api/v1/imports/{import_id}")
    _run(operation, GenerationMode.POSITIVE, [content_type_conformance])
