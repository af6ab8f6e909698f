"""One paging shape: Page, paginate() over a query, page_of() over a list, and the services that use them."""
from __future__ import annotations

from sqlalchemy import select

from aime.models import Album
from aime.services import collection
from aime.services.paging import Page, offset, page_of, paginate
from tests.factories import create_album


def test_a_page_knows_its_page_count_and_its_mapping():
    assert [Page([], total, 1, 3).pages for total in (0, 1, 3, 4, 7)] == [0, 1, 1, 2, 3]
    assert Page(["x"], 7, 3, 3).as_dict() == {"items": ["x"], "total": 7, "page": 3, "page_size": 3, "pages": 3}
    assert (offset(1, 30), offset(3, 25)) == (0, 50)


def test_page_of_a_list():
    assert page_of(list("abcdefg"), 3, 3, str.upper) == Page(["G"], 7, 3, 3)
    assert page_of(list("abc"), 2, 3) == Page([], 3, 2, 3)


def test_paginate_counts_around_the_query_and_maps_entities_or_rows(app, client, auth):
    ids = [create_album(client, auth, title=title)["id"] for title in ("Debut", "Post", "Homogenic")]
    with app.app_context():
        by_title = select(Album).order_by(Album.title_key)
        assert paginate(by_title, 2, 2, lambda album: album.title) == Page(["Post"], 3, 2, 2)
        rows = paginate(select(Album.id, Album.title).order_by(Album.id), 1, 2, tuple)
        assert rows == Page([(ids[0], "Debut"), (ids[1], "Post")], 3, 1, 2)
        assert paginate(by_title, 1, 1, total=99).total == 99  # a total the caller counted itself


def test_list_albums_gives_dicts_like_the_other_lists(app, client, auth):
    made = create_album(client, auth, title="Vespertine", year=2001)
    with app.app_context():
        page = collection.list_albums()
        assert (page.total, page.pages) == (1, 1)
        item = page.items[0]
        assert type(item) is dict and (item["id"], item["title"], item["year"]) == (made["id"], "Vespertine", 2001)
        assert [artist.name for artist in item["artists"]] == ["Björk"]
        assert type(collection.list_artists().items[0]) is dict
