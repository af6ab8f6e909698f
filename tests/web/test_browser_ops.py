"""Browser flows on the operations pages: import with live progress, services, schedules, status, playlists."""
from __future__ import annotations

import pytest

from .conftest import samples_dir, screenshot, sign_in


def test_upload_a_sample_import_and_read_its_report(page, live_server):
    """Spotify's extended history: 9 plays imported; the 5-second skip and the podcast reported as skipped."""
    samples = samples_dir()
    if samples is None:
        pytest.skip("the shared import samples are not present (set AIME_SAMPLES_DIR)")
    sign_in(page, live_server)
    page.goto(live_server.url("/imports"))
    page.set_input_files("#file", str(samples / "Streaming_History_Audio_2023.json"))
    page.click("text=Upload and import")
    page.wait_for_url("**/imports/*")
    # The page script polls the job until it ends, then reloads to show the report.
    page.wait_for_selector("h2:text('Report')", timeout=20_000)
    assert page.locator('[data-field="status"]').inner_text() == "done"
    assert page.locator('[data-field="imported"]').inner_text() == "9"
    assert page.locator('[data-field="skipped_count"]').inner_text() == "2"
    assert page.locator("table[data-skipped] tbody tr").count() == 2
    # Within the file, Daft Punk's track comes with a second Spotify URI: one disagreement, the first URI kept.
    assert page.locator("table[data-conflicts] tbody tr td").all_inner_texts() == [
        "202", "Daft Punk – One More Time", "spotify_uri", "spotify:track:0000000000000000000008",
        "spotify:track:0000000000000000000009"]
    screenshot(page, "import-report-desktop")
    page.goto(live_server.url("/journal?start_date=2023-11-10&end_date=2023-11-14&tz=UTC"))
    assert page.locator("table.plays tbody tr").count() == 9


def test_start_and_stop_the_tracker(page, live_server):
    """Start: the lease keeper makes it run; stop: it is stopped again."""
    sign_in(page, live_server)
    page.goto(live_server.url("/services"))
    row = page.locator('tr[data-service="tracker"]')
    assert row.locator("[data-state]").inner_text() == "stopped"
    row.locator("text=Start tracker").click()
    page.wait_for_selector("text=Tracker started.")
    for _ in range(100):  # the lease keeper takes it within a lease period (0.6 s here)
        if page.locator('tr[data-service="tracker"] [data-state]').inner_text() == "running":
            break
        page.wait_for_timeout(100)
        page.reload()
    assert page.locator('tr[data-service="tracker"] [data-state]').inner_text() == "running"
    page.locator('tr[data-service="tracker"]').locator("text=Stop tracker").click()
    page.wait_for_selector("text=Tracker stopped.")
    assert page.locator('tr[data-service="tracker"] [data-state]').inner_text() == "stopped"


def test_edit_a_schedule_and_run_a_task(page, live_server):
    """A bad crontab is refused with the field named; a good one is saved; Run now records a run."""
    sign_in(page, live_server)
    page.goto(live_server.url("/services"))
    cron = page.locator('input[name="cron-export_json"]')
    if cron.count() == 0:
        pytest.skip("the scheduler has no export_json task")
    cron.fill("not a cron")
    page.click("text=Save the schedule")
    page.wait_for_selector(".flash.error")
    assert "cron" in page.locator(".flash.error").inner_text()
    page.locator('input[name="cron-export_json"]').fill("15 4 * * *")
    page.click("text=Save the schedule")
    page.wait_for_selector("text=Schedule saved.")
    assert page.locator('input[name="cron-export_json"]').input_value() == "15 4 * * *"
    page.locator('tr:has(input[name="cron-export_json"])').locator("text=Run now").click()
    page.wait_for_selector("text=Started export_json")
    assert page.locator("td:text('export_json')").count() >= 1


def test_status_page_refreshes_by_itself(page, live_server):
    """The page script reloads the checks: the uptime it shows moves on without a reload."""
    page.goto(live_server.url("/status"))
    assert page.locator("tr[data-check]").count() >= 1
    first = page.locator('[data-field="timestamp"]').inner_text()
    page.wait_for_function(
        "first => document.querySelector('[data-field=\"timestamp\"]').textContent !== first", arg=first,
        timeout=15_000)
    assert page.locator("tr[data-check='database']").count() == 1


def test_generate_a_playlist_and_export_it(page, live_server):
    sign_in(page, live_server)
    page.goto(live_server.url("/playlists"))
    page.select_option("#algorithm", "complete_albums")
    page.fill("input[name=name]", "Whole records")
    page.click("button:text-is('Generate')")
    page.wait_for_selector("h1:text('Whole records')")
    assert page.locator(".tracks li").count() >= 5
    with page.expect_download() as download:
        page.click("a:text('m3u')")
    assert download.value.suggested_filename == "Whole-records.m3u"


def test_stats_periods(page, live_server):
    page.goto(live_server.url("/stats?period=all"))
    assert page.locator(".ranked").first.locator("li").count() >= 5
    page.select_option("select[name=by]", "duration")
    page.click("text=Show >> nth=0")
    assert "by=duration" in page.url
