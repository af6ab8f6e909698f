"""The pages in a real browser (Debian's Chromium via Playwright): no console error, no failed request, the flows."""
from __future__ import annotations

import re

from .conftest import DESKTOP, PHONE, screenshot, sign_in

PAGES = ["/", "/collection", "/collection/1", "/journal", "/journal?page=2", "/timeline", "/stats",
         "/playlists", "/imports", "/services", "/status", "/login", "/collection/new"]


def _name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.strip("/").lower()).strip("-") or "dashboard"


def test_every_page_loads_cleanly_at_desktop_and_phone_sizes(page, live_server):
    """Each page answers 200, logs no console error, fails no request; screenshots at both sizes."""
    sign_in(page, live_server)
    for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        for path in PAGES:
            response = page.goto(live_server.url(path))
            assert response.status == 200, path
            assert page.locator("h1").count() >= 1, path
            screenshot(page, f"{_name(path)}-{size_name}")
    page.emulate_media(color_scheme="dark")
    for path in ("/", "/collection/1"):
        page.goto(live_server.url(path))
        screenshot(page, f"{_name(path)}-phone-dark")


def test_pages_are_keyboard_navigable(page, live_server):
    """The first Tab reaches the skip link, which moves focus to the main content."""
    page.goto(live_server.url("/journal"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_add_an_album(page, live_server):
    """Fill the form, land on the album page with its tracks, find it in the collection."""
    sign_in(page, live_server)
    page.goto(live_server.url("/collection/new"))
    page.fill("#title", "Blue Train")
    page.fill("#artists", "John Coltrane")
    page.fill("#year", "1957")
    page.fill("#support", "Vinyle")
    page.fill("#genre", "Jazz")
    page.fill("#labels", "Blue Note")
    page.fill("#tracks", "Blue Train | 10:43\nMoment's Notice | 9:10\nLocomotion | 7:14")
    page.click("text=Add to the collection")
    page.wait_for_selector("h1:text('Blue Train')")
    assert page.locator(".tracks li").count() == 3
    assert page.locator(".tracks li").nth(1).inner_text().startswith("Moment's Notice")
    page.goto(live_server.url("/collection?search=coltrane"))
    assert page.locator(".covers li").count() == 1


def test_play_a_record(page, live_server):
    """"I played this record" adds one play per track to the album's count."""
    sign_in(page, live_server)
    page.goto(live_server.url("/collection/2"))
    before = int(page.locator("[data-play-count]").inner_text())
    tracks = page.locator(".tracks li").count()
    page.click("text=I played this record")
    page.wait_for_selector(f"text=Recorded {tracks} plays of this record.")
    assert int(page.locator("[data-play-count]").inner_text()) == before + tracks


def test_love_a_play_from_the_journal(page, live_server):
    """The heart toggles in place (script) and the change is stored (reload shows it)."""
    sign_in(page, live_server)
    page.goto(live_server.url("/journal"))
    heart = page.locator("form[data-love] button").first
    action = page.locator("form[data-love]").first.get_attribute("action")
    was = heart.get_attribute("aria-pressed")
    want = "false" if was == "true" else "true"
    heart.click()
    page.wait_for_selector(f'form[action="{action}"] button[aria-pressed="{want}"]')
    page.reload()
    assert page.locator(f'form[action="{action}"] button').first.get_attribute("aria-pressed") == want


def test_timeline_moves_by_day(page, live_server):
    """Previous day then next day come back to the same date."""
    page.goto(live_server.url("/timeline?date=2024-03-10"))
    page.click("text=‹ Previous day")
    assert page.url.endswith("date=2024-03-09")
    page.click("text=Next day ›")
    assert page.url.endswith("date=2024-03-10")
    assert page.locator("h1").inner_text() == "Sunday 10 March 2024"


def test_first_visit_is_redrawn_in_the_viewers_time_zone(browser, live_server):
    """The server draws in AIME_TIMEZONE (UTC); the script sends the browser's zone and reloads once."""
    ctx = browser.new_context(timezone_id="America/New_York")
    try:
        page = ctx.new_page()
        page.goto(live_server.url("/timeline?date=2024-03-10"))
        page.wait_for_selector("text=times in America/New_York")
        assert {c["name"]: c["value"] for c in ctx.cookies()}["aime_tz"] == "America%2FNew_York"
    finally:
        ctx.close()
