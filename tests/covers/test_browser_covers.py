"""In a real browser (Debian's Chromium via Playwright): the collection grid and the album page show a stored cover
served by AIME (thumbnail and full size), and an album without one shows its lettered placeholder."""
from __future__ import annotations

from tests.covers.conftest import image_bytes, store_cover

SIZE_OF = "el => [el.complete, el.naturalWidth, el.naturalHeight, el.currentSrc]"


def _first_two_albums(live_app):
    from aime.extensions import db
    from aime.models import Album
    from sqlalchemy import select

    with live_app.app_context():
        rows = db.session.execute(select(Album.id, Album.title).where(Album.in_collection.is_(True))
                                  .order_by(Album.title_key).limit(2)).all()
        db.session.remove()
    return rows


def test_a_stored_cover_shows_in_the_grid_and_on_the_album_page(page, live_server, live_app):
    (with_cover, title), (without_cover, other_title) = _first_two_albums(live_app)
    store_cover(live_app, with_cover, image_bytes("PNG", (640, 640), (220, 40, 40)))
    seen = []
    page.on("response", lambda res: "/covers/albums/" in res.url and seen.append(
        (res.url.split("/covers/albums/")[1], res.status, res.headers.get("content-type"))))

    page.goto(live_server.url("/collection?sort=title"))
    cover = page.locator(f'img.sleeve[src="/covers/albums/{with_cover}?size=thumb"]')
    cover.scroll_into_view_if_needed()
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=cover.element_handle())
    complete, width, height, src = cover.evaluate(SIZE_OF)
    assert (complete, width, height) == (True, 300, 300)  # the stored thumbnail, not the 640 px original
    assert src == live_server.url(f"/covers/albums/{with_cover}?size=thumb")
    assert cover.get_attribute("alt") == title
    placeholder = page.locator(f'img.sleeve[src="/covers/albums/{without_cover}?size=thumb"]')
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=placeholder.element_handle())
    assert placeholder.evaluate(SIZE_OF)[1:3] == [300, 300] and placeholder.get_attribute("alt") == other_title
    assert (f"{with_cover}?size=thumb", 200, "image/jpeg") in seen
    assert (f"{without_cover}?size=thumb", 200, "image/svg+xml; charset=utf-8") in seen

    page.goto(live_server.url(f"/collection/{with_cover}"))
    full = page.locator("article.album img.sleeve")
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=full.element_handle())
    assert full.evaluate(SIZE_OF)[:3] == [True, 640, 640]
    assert (f"{with_cover}?size=full", 200, "image/png") in seen
