"""Search stays exact through imports and the track merges they do."""
from __future__ import annotations

from tests.api.test_search_index import _found, index_is_exact


def test_after_an_import_and_a_track_merge(app, samples, import_file):
    """A loose track merged into its album's track (enrichment) leaves one hit, on the album."""
    client = app.test_client()
    import_file(samples / "StreamingHistory_music_0.json")
    first = client.get("/api/v1/search?q=NDROI&type=track").get_json()["tracks"]
    assert [(t["title"], t["album"]) for t in first] == [("Paranoid Android", None)]
    import_file(samples / "Streaming_History_Audio_2023.json")
    after = client.get("/api/v1/search?q=NDROI&type=track").get_json()["tracks"]
    assert [(t["title"], t["album"], t["artist"]) for t in after] == [("Paranoid Android", "OK Computer", "Radiohead")]
    assert after[0]["id"] != first[0]["id"]  # the loose track is gone, from the index too
    assert _found(client, "igur r", "artist") == ["Sigur Rós"]
    assert index_is_exact(app)
