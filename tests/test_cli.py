"""CLI: token and demo data."""
import os
import stat

from aime.extensions import db
from aime.models import Album, Listen
from tests.conftest import TEST_TOKEN


def test_token_prints_the_configured_token(runner):
    result = runner.invoke(args=["token"])
    assert result.exit_code == 0 and result.output.strip() == TEST_TOKEN


def test_generated_token_is_stored_0600_and_stable(app, app_factory, tmp_path):
    generated = app_factory(app.extensions["aime.config"].replace(api_token=None, data_dir=tmp_path / "fresh"))
    first = generated.test_cli_runner().invoke(args=["token"]).output.strip()
    second = generated.test_cli_runner().invoke(args=["token"]).output.strip()
    path = tmp_path / "fresh" / "api_token"
    assert first == second and len(first) >= 32
    assert path.read_text().strip() == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    client = generated.test_client()
    assert client.post("/api/v1/collection/albums", json={"title": "X", "artists": ["Y"]},
                       headers={"Authorization": f"Bearer {first}"}).status_code == 201


def test_demo_data_loads_once(runner, app):
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0 and "6 albums" in result.output
    with app.app_context():
        albums = db.session.query(Album).filter(Album.in_collection.is_(True)).count()
        listens = db.session.query(Listen).count()
    assert albums == 6 and listens > 0
    again = runner.invoke(args=["demo-data"])
    assert "0 albums" in again.output
    with app.app_context():
        assert db.session.query(Album).filter(Album.in_collection.is_(True)).count() == 6
