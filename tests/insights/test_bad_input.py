"""Bad statistics requests answer 422/404 problem+json naming what is wrong."""
from __future__ import annotations

PROBLEM = "application/problem+json"
ENDPOINTS = ["/api/v1/history/top/artists", "/api/v1/history/sessions", "/api/v1/history/patterns",
             "/api/v1/analytics/listening-heatmap", "/api/v1/analytics/streaks", "/api/v1/analytics/discovery",
             "/api/v1/history/stats"]


def test_bad_zone_and_reversed_dates(client):
    for url in ENDPOINTS:
        _check_period_errors(client, url)


def _check_period_errors(client, url):
    bad_tz = client.get(url, query_string={"tz": "Europe/Atlantis"})
    assert bad_tz.status_code == 422 and bad_tz.content_type == PROBLEM
    assert "Europe/Atlantis" in str(bad_tz.get_json()["errors"]["tz"])
    reversed_dates = client.get(url, query_string={"start_date": "2024-02-01", "end_date": "2024-01-31"})
    assert reversed_dates.status_code == 422 and "end_date" in reversed_dates.get_json()["errors"]
    not_a_date = client.get(url, query_string={"start_date": "yesterday"})
    assert not_a_date.status_code == 422 and "start_date" in not_a_date.get_json()["errors"]


BAD_PARAMETERS = [
    ("/api/v1/history/top/artists", {"by": "loudness"}, "by"),
    ("/api/v1/history/top/artists", {"limit": 0}, "limit"),
    ("/api/v1/history/sessions", {"min_gap": 10}, "min_gap"),
    ("/api/v1/history/sessions", {"page_size": 501}, "page_size"),
    ("/api/v1/analytics/compare", {"start_date": "2024-01-01", "end_date": "2024-01-31"}, "compare_start_date"),
]


def test_bad_parameters(client):
    for url, params, field in BAD_PARAMETERS:
        response = client.get(url, query_string=params)
        assert response.status_code == 422 and response.content_type == PROBLEM, url
        assert field in response.get_json()["errors"], (url, params)


def test_compare_with_a_reversed_baseline(client):
    response = client.get("/api/v1/analytics/compare", query_string={
        "start_date": "2024-01-01", "end_date": "2024-01-31",
        "compare_start_date": "2023-12-31", "compare_end_date": "2023-12-01"})
    assert response.status_code == 422 and response.content_type == PROBLEM


def test_unknown_top_list(client):
    response = client.get("/api/v1/history/top/genres")
    assert response.status_code == 404 and response.content_type == PROBLEM
