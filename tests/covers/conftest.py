"""Cover fixtures: images made with Pillow, covers stored through the service, an app pointed at local sources."""
from __future__ import annotations

import io

import pytest
from PIL import Image

# The browser fixtures are shared with the web tests (browser: tests/conftest.py); importing them here, not in the
# test module, keeps the test's parameters from shadowing imported names.
from tests.web.conftest import context, fake_lastfm, live_app, live_server, page  # noqa: F401 (re-exported)


def image_bytes(kind: str = "PNG", size: tuple[int, int] = (600, 600), colour=(200, 30, 30)) -> bytes:
    """A real image of `kind` (PNG, JPEG, GIF, WEBP)."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, kind)
    return out.getvalue()


def store_cover(app, album_id: int, data: bytes, source: str = "test") -> str:
    """Keep `data` as the album's cover through the service functions; returns its SHA-256."""
    from aime.database import run_write
    from aime.extensions import db
    from aime.models import AlbumEnrichment
    from aime.services import covers

    with app.app_context():
        stored = covers.store_image(app.extensions["aime.config"], data)

        def _save():
            row = db.session.get(AlbumEnrichment, album_id) or AlbumEnrichment(album_id=album_id, user_fields=[])
            row.cover_sha256, row.cover_ext, row.cover_mime = stored.sha256, stored.ext, stored.mime
            row.cover_width, row.cover_height, row.cover_source = stored.width, stored.height, source
            db.session.add(row)

        run_write(_save)
        db.session.remove()
    return stored.sha256


@pytest.fixture
def sources_app(app, httpserver):
    """The migrated app with every enrichment source pointed at the local HTTP server (credentials set)."""
    base = httpserver.url_for("").rstrip("/")
    config = app.extensions["aime.config"].replace(
        musicbrainz_contact="tests@example.org", musicbrainz_base_url=f"{base}/ws/2",
        coverart_base_url=f"{base}/caa", discogs_token="discogs-token", discogs_base_url=f"{base}/discogs",
        spotify_client_id="id", spotify_client_secret="secret", spotify_base_url=f"{base}/spotify/v1",
        spotify_accounts_url=f"{base}/accounts", lastfm_api_key="k" * 32, lastfm_base_url=f"{base}/lastfm/2.0",
        http_timeout_seconds=2.0)
    # Frozen Config: the app gets a copy with the local URLs (as if started with those variables).
    app.extensions["aime.config"] = config
    return app
