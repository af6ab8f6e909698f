"""bench/searchbench.py on a small catalogue, so the search benchmark cannot rot (no timing is asserted)."""
from __future__ import annotations

import pytest

from bench import searchbench


@pytest.mark.slow
@pytest.mark.integration
def test_search_benchmark_reports_both_modes_with_the_same_answers(tmp_path):
    report = searchbench.main(["--skip-postgres", "--tracks", "600", "--rounds", "2", "--queries", "12",
                               "--duration", "0.5", "--loadgen", "python", "--out", str(tmp_path / "search.json")])
    sqlite = report["sqlite"]
    # 2,000 artists and 5,000 albums always; the tracks are cut to the first 600.
    assert sqlite["rows"] == {"artists": 2_000, "albums": 5_000, "tracks": 600}
    assert sqlite["in_process"]["same_answers"] is True  # the index changes the speed, never the answer
    for mode in ("scan", "index"):
        assert sqlite["in_process"][mode]["calls"] == 2 * len(searchbench.QUERIES)
        for point in sqlite["http"][mode].values():
            assert point["requests"] > 0 and point["non_2xx"] == 0 and point["errors"] == 0, point
    first = sqlite["first_asked"]  # every query different, each asked once through the app
    assert first["requests"] == 12 and first["errors"] == 0 and first["p50_ms"] > 0
    assert sum(point["requests"] for point in first["by_length"].values()) == 12
    assert (tmp_path / "search.json").is_file()
