"""Search, and the collection exports (JSON and Markdown attachments)."""
import json
import re

from tests.factories import add_listen, create_album


def _seed(client, auth):
    homogenic = create_album(client, auth, "Homogenic", ["Björk"], year=1997, support="Vinyle",
                             labels=["One Little Indian"], spotify_url="https://open.spotify.com/album/h",
                             image_url="https://img.example/h.jpg", ai_description="Strings and beats.",
                             tracks=[{"title": "Jóga", "duration_seconds": 305}])
    ok = create_album(client, auth, "OK Computer", ["Radiohead"], year=1997, support="CD")
    live = create_album(client, auth, "Live_at 100%", ["Radiohead"], support="CD")
    return homogenic, ok, live


def test_search_by_kind_accent_and_case_insensitive(client, auth):
    _seed(client, auth)
    add_listen(client, auth, "Portishead", "Roads", "2024-01-01T00:00:00Z")
    result = client.get("/api/v1/search?q=JOGA").get_json()
    assert [t["title"] for t in result["tracks"]] == ["Jóga"] and result["albums"] == []
    result = client.get("/api/v1/search?q=head&type=artist").get_json()
    assert [a["name"] for a in result["artists"]] == ["Portishead", "Radiohead"]
    assert result["albums"] == [] and result["tracks"] == []
    albums = client.get("/api/v1/search?q=100%25&type=album").get_json()["albums"]
    assert [a["title"] for a in albums] == ["Live_at 100%"]
    assert client.get("/api/v1/search?q=_&type=album").get_json()["albums"][0]["title"] == "Live_at 100%"
    assert client.get("/api/v1/search?q=%27%3B DROP TABLE albums;--").get_json()["albums"] == []
    assert client.get("/api/v1/search?q=o&limit=1&type=album").get_json()["albums"][0]["title"] == "Homogenic"


def test_search_needs_a_query(client):
    assert client.get("/api/v1/search").status_code == 422
    assert client.get("/api/v1/search?q=a&type=planet").status_code == 422
    assert client.get("/api/v1/search?q=a&limit=0").status_code == 422


def test_json_export_is_an_attachment_with_everything(client, auth):
    _seed(client, auth)
    response = client.get("/api/v1/collection/export/json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert re.match(r'attachment; filename="collection-\d{8}-\d{6}\.json"', response.headers["Content-Disposition"])
    document = json.loads(response.get_data(as_text=True))
    assert document["total_albums"] == 3 and document["export_date"].endswith("Z")
    homogenic = next(a for a in document["albums"] if a["title"] == "Homogenic")
    assert homogenic["artists"] == ["Björk"] and homogenic["labels"] == ["One Little Indian"]
    assert homogenic["links"]["spotify"] == "https://open.spotify.com/album/h"
    assert homogenic["tracks"] == [{"track_number": 1, "title": "Jóga", "duration_seconds": 305}]
    cds = client.get("/api/v1/collection/export/json/support/cd").get_json()
    assert sorted(a["title"] for a in cds["albums"]) == ["Live_at 100%", "OK Computer"]


def test_markdown_export_has_toc_with_working_anchors(client, auth):
    homogenic, ok, _ = _seed(client, auth)
    response = client.get("/api/v1/collection/export/markdown")
    assert response.status_code == 200 and response.mimetype == "text/markdown"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="collection-')
    text = response.get_data(as_text=True)
    links = re.findall(r"\]\(#([^)]+)\)", text)
    anchors = re.findall(r'<a id="([^"]+)"></a>', text)
    assert links == anchors == ["björk", "radiohead"]
    assert "### Homogenic (1997)" in text and "- **Labels:** One Little Indian" in text
    assert "![Cover of Homogenic](https://img.example/h.jpg)" in text
    assert "[Spotify](https://open.spotify.com/album/h)" in text and "> Strings and beats." in text
    assert "| 1 | Jóga | 5:05 |" in text
    assert "### Live\\_at 100%" in text  # Markdown metacharacters escaped

    artist_id = ok["artists"][0]["id"]
    by_artist = client.get(f"/api/v1/collection/export/markdown/{artist_id}").get_data(as_text=True)
    assert "OK Computer" in by_artist and "Homogenic" not in by_artist
    vinyl = client.get("/api/v1/collection/export/markdown/support/Vinyle").get_data(as_text=True)
    assert "Homogenic" in vinyl and "OK Computer" not in vinyl
    assert client.get("/api/v1/collection/export/markdown/999").status_code == 404
