"""The OpenAPI document is written when it is first read, not by create_app, and is then complete."""
from __future__ import annotations

from flask_smorest import Blueprint

# The flask-smorest blueprints aime.api.register_api mounts under /api/v1, in its order.
API_BLUEPRINTS = ["collection", "artists", "collections", "history", "exports", "search", "analytics", "playlists",
                  "services", "enrichment", "scheduler", "ai", "imports", "magazines"]


def test_views_are_documented_once_when_the_document_is_first_read(make_app, monkeypatch):
    documented = []
    register_views_in_doc = Blueprint.register_views_in_doc

    def spy(self, api, app, spec, *, name, parameters):
        documented.append(name)
        return register_views_in_doc(self, api, app, spec, name=name, parameters=parameters)

    monkeypatch.setattr(Blueprint, "register_views_in_doc", spy)
    app = make_app()
    assert documented == []  # create_app documented nothing

    client = app.test_client()
    first = client.get("/api/v1/openapi.json")
    assert first.status_code == 200
    assert documented == API_BLUEPRINTS
    document = first.get_json()
    assert [tag["name"] for tag in document["tags"]] == API_BLUEPRINTS
    assert "/api/v1/collection/albums" in document["paths"] and "/api/v1/magazines" in document["paths"]

    again = client.get("/api/v1/openapi.json")
    assert documented == API_BLUEPRINTS  # not a second time
    assert again.get_data() == first.get_data()


def test_every_api_route_is_in_the_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    routes = {rule.rule for rule in client.application.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/") and rule.endpoint.split(".", 1)[0] in API_BLUEPRINTS}
    documented = {path.replace("{", "<").replace("}", ">") for path in document["paths"]}
    assert routes and {_plain(route) for route in routes} == documented


def _plain(rule: str) -> str:
    """A werkzeug rule with its converters dropped (<int:album_id> -> <album_id>), as the document names it."""
    import re

    return re.sub(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([a-z_]+)>", r"<\1>", rule)
