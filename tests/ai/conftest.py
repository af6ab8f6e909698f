"""An app whose AI endpoint is a local pytest-httpserver speaking OpenAI chat completions."""
import pytest

from aime import create_app
from tests.conftest import make_config

CHAT = "/v1/chat/completions"


def completion(text: str) -> dict:
    """An OpenAI chat-completions response carrying `text`."""
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "test-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def with_ai(config, httpserver):
    """config with AI pointed at the local server (short timeout, 2 attempts, breaker after 2 failed calls)."""
    return config.replace(
        ai_base_url=httpserver.url_for("/v1").rstrip("/"), ai_api_key="sk-test", ai_model="test-model",
        ai_timeout=0.3, ai_attempts=2, ai_circuit_failures=2, ai_circuit_reset_seconds=60.0)


@pytest.fixture
def bare_ai_app(tmp_path, httpserver):
    """An AI-enabled app that never touches its (unmigrated) database: for client-only tests, one backend."""
    return create_app(with_ai(make_config(tmp_path), httpserver))


@pytest.fixture
def bare_app(tmp_path):
    """An app without AI that never touches its database."""
    return create_app(make_config(tmp_path))


@pytest.fixture
def ai_app(app, httpserver):
    """The migrated app's database, with AI pointed at the local server."""
    application = create_app(with_ai(app.extensions["aime.config"], httpserver))
    application.config["TESTING"] = True
    yield application
    from aime.extensions import db

    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ai_client(ai_app):
    """A test client of the AI-enabled app."""
    return ai_app.test_client()


def add_album(client, auth, title, artists, **extra):
    """Create an owned album through the API; returns its id."""
    response = client.post("/api/v1/collection/albums", json={"title": title, "artists": artists, **extra},
                           headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]
