"""Artists, collections and the magazine in a real browser (Debian's Chromium): flows, phone reading, no errors."""
from __future__ import annotations

import re

from tests.support.polling import poll

from .conftest import DESKTOP, PHONE, screenshot, sign_in


def _new_edition(page, server) -> str:
    """Press "Write a new edition" and wait (reloading) for the edition to be listed; returns its path."""
    page.goto(server.url("/magazine"))
    before = page.locator(".editions a").count()
    page.click("text=Write a new edition")
    page.wait_for_selector("text=A new edition is being written")

    def _listed():
        page.reload()
        return page.locator(".editions a").count() > before

    poll(_listed, what="the new edition listed")
    return page.locator(".editions a").first.get_attribute("href")


def _new_collection(page, server, name: str, **fields) -> str:
    page.goto(server.url("/collections"))
    page.fill("#name", name)
    for field, value in fields.items():
        page.locator(f'[name="{field}"]').fill(value) if field != "fact" else page.select_option(
            'select[name="fact"]', value)
    page.click("text=Make the collection")
    page.wait_for_selector(f"text=Made the collection “{name}”")
    return page.url.replace(server.base_url, "")


def test_artist_links_lead_to_the_artist_page(page, live_server):
    """An artist name in the journal is a link; its page shows their plays and records."""
    page.goto(live_server.url("/journal"))
    link = page.locator("table.plays a.artist").first
    name = link.inner_text()
    link.click()
    page.wait_for_url(re.compile(r"/artists/\d+$"))
    assert page.locator("h1").inner_text() == name
    api = page.request.get(page.url.replace("/artists/", "/api/v1/collection/artists/")).json()
    assert page.locator("[data-artist-plays]").inner_text() == str(api["play_count"])


def test_collections_by_query_and_by_hand(page, live_server):
    """A query collection shows covers with reasons; a hand-made one takes an album found by its title."""
    sign_in(page, live_server)
    path = _new_collection(page, live_server, "Most played", fact="most_played")
    assert page.locator(".covers li .reason").count() >= 1
    assert re.fullmatch(r"\d+ plays", page.locator(".covers li .reason").first.inner_text())
    hand = _new_collection(page, live_server, "Desert island")
    page.goto(live_server.url("/collection"))
    title = page.locator(".covers .title").first.inner_text()
    page.goto(live_server.url(hand))
    page.fill('input[name="search"]', title)
    page.fill('input[name="reason"]', "always")
    page.click("text=Add")
    page.wait_for_selector("text=Added.")
    assert page.locator(".covers li .reason").inner_text() == "always"
    assert path != hand


def test_new_pages_load_cleanly_at_desktop_and_phone_sizes(page, live_server):
    """Each new page answers 200 with an h1, no console error or failed request; screenshots at both sizes."""
    sign_in(page, live_server)
    edition = _new_edition(page, live_server)
    collection = _new_collection(page, live_server, "Jazz", genre="jazz")
    for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        for path in ("/artists/1", "/collections", collection, "/magazine", edition):
            response = page.goto(live_server.url(path))
            assert response.status == 200, path
            assert page.locator("h1").count() == 1, path
            screenshot(page, re.sub(r"[^a-z0-9]+", "-", path.strip("/")) + f"-{size_name}")


def test_an_edition_reads_on_a_phone_and_its_numbers_are_the_apis(browser, live_server):
    """At 390 px nothing scrolls sideways, the text is readable, and the numbers shown equal the API's."""
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=3)
    try:
        page = ctx.new_page()
        sign_in(page, live_server)
        edition = _new_edition(page, live_server)
        page.goto(live_server.url(edition))
        screenshot(page, "magazine-edition-phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.magazine section p')).fontSize)")
        assert size >= 16
        api = page.request.get(live_server.url("/api/v1" + edition.replace("/magazine/", "/magazines/"))).json()
        artist = page.request.get(live_server.url(
            f"/api/v1/collection/artists/{api['featured_artist']['artist_id']}")).json()
        album = page.request.get(live_server.url(f"/api/v1/collection/albums/{api['album']['album_id']}")).json()
        assert page.locator('[data-fact="artist-plays"]').inner_text() == str(artist["play_count"])
        assert page.locator('[data-fact="album-plays"]').inner_text() == str(album["play_count"])
        assert page.locator('[data-section="haikus"] .haiku').count() == len(api["haikus"]) >= 1
    finally:
        ctx.close()
