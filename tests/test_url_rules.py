"""URL rules compile their builders at their first use (aime.flask_app.LazyBuilderRule), and build exactly what
werkzeug's own Rule builds."""
from __future__ import annotations

from flask import url_for
from werkzeug.routing import Map, Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter, NumberConverter

from aime import create_app
from aime.flask_app import LazyBuilderRule
from tests.conftest import make_config


def _app(tmp_path):
    config = make_config(tmp_path)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    return create_app(config)


def test_create_app_compiles_no_url_builder(tmp_path):
    rules = list(_app(tmp_path).url_map.iter_rules())
    assert len(rules) > 100 and {type(rule) for rule in rules} == {LazyBuilderRule}  # the static rule too
    assert {rule._build.__name__ for rule in rules} == {rule._build_unknown.__name__ for rule in rules} == {
        "build_first"}


def _value(converter) -> object:
    """A value the converter turns into a URL part (a number for numbers, the last choice of an <any(...)>; one
    to quote, with a slash, for the rest)."""
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[-1]
    return 7 if isinstance(converter, (IntegerConverter, NumberConverter)) else "a b/é?&"


def test_every_rule_builds_what_werkzeugs_rule_builds_before_and_after_its_first_build(tmp_path):
    ours = _app(tmp_path).url_map
    theirs = Map([Rule(rule.rule, **rule.get_empty_kwargs()) for rule in ours.iter_rules()],
                 converters=ours.converters, strict_slashes=ours.strict_slashes, merge_slashes=ours.merge_slashes,
                 host_matching=ours.host_matching, sort_parameters=ours.sort_parameters, sort_key=ours.sort_key)
    pairs = list(zip(ours.iter_rules(), theirs.iter_rules(), strict=True))
    assert all(type(twin) is Rule and twin.rule == rule.rule for rule, twin in pairs)
    for rule, twin in pairs:
        values = {name: _value(converter) for name, converter in rule._converters.items()}
        asked = [values, {**values, "page": 2, "q": "x y"}, {**values, "extra": ["1", "2"]}]
        for append_unknown in (True, False):
            for given in asked:
                expected = twin.build(given, append_unknown)
                assert expected is not None and expected[1].startswith("/")
                # The first build compiles (through the stand-in), the second runs the compiled builder.
                assert rule.build(given, append_unknown) == expected, (rule.rule, given, append_unknown)
                assert rule.build(given, append_unknown) == expected, (rule.rule, given, append_unknown)
    # Every stand-in was replaced by werkzeug's compiled builder (its generated function is "<builder:'/path'>").
    assert all(rule._build.__name__ == rule._build_unknown.__name__ == f"<builder:{rule.rule!r}>" for rule, _ in pairs)


def test_url_for_builds_paths_and_query_strings(tmp_path):
    app = _app(tmp_path)
    with app.test_request_context():
        assert url_for("collection.AlbumItem", album_id=5) == "/api/v1/collection/albums/5"
        assert url_for("collection.AlbumItem", album_id=5, expand="tracks") == (
            "/api/v1/collection/albums/5?expand=tracks")
        assert url_for("collections.remove_album", collection_id=3, album_id=12, _external=True) == (
            "http://localhost/api/v1/collections/3/albums/12")
        assert url_for("static", filename="a b.css") == "/static/a%20b.css"
