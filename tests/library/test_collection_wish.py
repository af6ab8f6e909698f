"""A free-text wish turned by the AI (a local fake endpoint) into a validated query over the library."""
from __future__ import annotations

import json

import pytest

from aime import create_app
from tests.ai.conftest import completion, with_ai
from tests.factories import create_album

CHAT = "/v1/chat/completions"


@pytest.fixture
def ai_client(app, httpserver):
    application = create_app(with_ai(app.extensions["aime.config"], httpserver))
    application.config["TESTING"] = True
    yield application.test_client()
    from aime.extensions import db

    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def _albums(client, auth):
    create_album(client, auth, "Kind of Blue", ("Miles Davis",), year=1959, genre="Jazz", support="Vinyl")
    create_album(client, auth, "Blue Train", ("John Coltrane",), year=1957, genre="Jazz", support="CD")
    create_album(client, auth, "OK Computer", ("Radiohead",), year=1997, genre="Rock", support="Vinyl")


def test_a_wish_becomes_a_query_over_the_library_only(ai_client, auth, httpserver):
    _albums(ai_client, auth)
    # The model also invents a record; only the query's known keys are used, so it cannot enter the collection.
    answer = 'Here you go:\n```json\n{"genre": "jazz", "support": "Vinyl", "albums": ["Imaginary Record"]}\n```'
    httpserver.expect_request(CHAT).respond_with_json(completion(answer))
    made = ai_client.post("/api/v1/collections", json={"name": "Late", "wish": "some jazz on vinyl"}, headers=auth)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert (body["kind"], body["wish"], [a["title"] for a in body["albums"]]) == (
        "query", "some jazz on vinyl", ["Kind of Blue"])
    assert body["query"] == {"genre": "jazz", "support": "Vinyl", "owned": True, "limit": 50}
    prompt = json.loads(httpserver.log[0][0].get_data())["messages"][-1]["content"]
    assert "Wish: some jazz on vinyl" in prompt and '"Jazz"' in prompt and '"Vinyl"' in prompt


@pytest.mark.parametrize("answer", ["I would suggest Kind of Blue.", '{"fact": "sunny_afternoons"}', "{}",
                                    '{"year_from": "the sixties"}'])
def test_an_unusable_answer_is_a_503_and_stores_nothing(ai_client, auth, httpserver, answer):
    _albums(ai_client, auth)
    httpserver.expect_request(CHAT).respond_with_json(completion(answer))
    response = ai_client.post("/api/v1/collections", json={"name": "x", "wish": "something"}, headers=auth)
    assert (response.status_code, response.mimetype) == (503, "application/problem+json")
    assert response.get_json()["title"] == "AI endpoint unavailable"
    assert ai_client.get("/api/v1/collections").get_json()["items"] == []
