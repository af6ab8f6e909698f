"""A gunicorn worker pays its one-time costs before its first request (aime/server/hooks.py: post_worker_init)."""
from __future__ import annotations

import pytest
import requests

pytestmark = [pytest.mark.integration]


def test_each_worker_configures_mappers_freezes_objects_and_fingerprints_its_code_before_serving(slow_server):
    server = slow_server(AIME_WORKERS="2", AIME_THREADS="2")
    seen = {}
    for _ in range(40):  # both workers answer within a few requests (connections are spread over them)
        body = requests.get(server.url("/settled"), timeout=30).json()
        seen[body.pop("pid")] = body
        if len(seen) == 2:
            break
    # Not settled, the first ORM query of a worker would configure every mapper (~50-100 ms of CPU inside a request,
    # under load), each full collection would walk the app's ~140,000 objects with the GIL held, and the first
    # conditional GET would hash AIME's sources for the ETags' fingerprint.
    assert list(seen.values()) == [{"mappers": True, "frozen": True, "fingerprint": True}] * 2
