"""API fixtures: `server`, the app over real HTTP for clients that need a URL (liblistenbrainz, pylast).

Imported here rather than in the test modules so that a test's `server` parameter does not shadow an imported name;
test_audioscrobbler.py defines its own `server`, which takes precedence there.
"""
from tests.support.http_app import server  # noqa: F401 (re-exported)
