"""bench/covers.py at three albums, so the script cannot rot: every source asked once per album, every cover stored."""
from __future__ import annotations

from bench import covers


def test_the_enrichment_bench_asks_each_source_once_per_album(tmp_path):
    result = covers.enrich(3, tmp_path)
    assert (result["processed"], result["matched"], result["covers"]) == (3, 3, 3)
    assert result["requests"] == {"ws": 3, "caa": 3, "discogs": 3, "accounts": 1, "spotify": 3, "lastfm": 3,
                                  "img": 3}
    assert result["cover_files"] == 6  # three distinct images, each with its thumbnail
