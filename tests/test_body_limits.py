"""The one body-size rule (aime/body_limits.py) that the API, the pages and the app ceiling share."""
from __future__ import annotations

from aime.body_limits import UPLOAD_ENDPOINTS, body_limit, limit_for, upload_limit
from tests.conftest import make_config


def test_uploads_get_the_upload_limit_and_every_other_body_the_body_limit(tmp_path):
    config = make_config(tmp_path, max_body_mb=1, max_upload_mb=3)
    assert (body_limit(config), upload_limit(config)) == (1_048_576, 3_145_728)
    assert {"imports.ImportList", "web.upload_import"} == UPLOAD_ENDPOINTS  # the API's and the page's upload
    assert [limit_for(config, e) for e in ("imports.ImportList", "web.upload_import")] == [3_145_728] * 2
    assert [limit_for(config, e) for e in ("collection.Albums", "web.login", None)] == [1_048_576] * 3


def test_the_app_ceiling_and_the_form_memory_come_from_the_rule(make_app):
    app = make_app(migrate=False, max_body_mb=2, max_upload_mb=5)
    assert (app.config["MAX_CONTENT_LENGTH"], app.config["MAX_FORM_MEMORY_SIZE"]) == (5 * 1_048_576, 2 * 1_048_576)
