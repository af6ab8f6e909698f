"""Response bodies shaped like the real services' (fields trimmed to those AIME reads, plus a few it ignores)."""
from __future__ import annotations

RG_ID = "8b42e5b0-5b0c-3c3b-9f3a-6c8b7f0e7a10"
RELEASE_ID = "2a3c3c5c-1b5c-4c7e-9d3f-0e0c5b4c1a22"


def mb_release_group(rg_id=RG_ID, title="Homogenic", artist="Björk", date="1997-09-20", primary="Album",
                     release_id=RELEASE_ID) -> dict:
    """One entry of GET /ws/2/release-group?query=...&fmt=json."""
    return {"id": rg_id, "type-id": "f529b476-6e62-324f-b0aa-1f3e33d313fc", "score": 100,
            "primary-type-id": "f529b476-6e62-324f-b0aa-1f3e33d313fc", "count": 23, "title": title,
            "first-release-date": date, "primary-type": primary,
            "artist-credit": [{"name": artist, "artist": {"id": "87c5dedd-371d-4a53-9f7f-80522fb7f3cb",
                                                          "name": artist, "sort-name": artist}}],
            "releases": [{"id": release_id, "status-id": "4e304316-386d-3409-af2e-78857eec5cfe",
                          "title": title, "status": "Official"}],
            "tags": [{"count": 3, "name": "electronic"}]}


def mb_search(*groups) -> dict:
    """The search envelope."""
    return {"created": "2026-11-30T03:00:00.000Z", "count": len(groups), "offset": 0, "release-groups": list(groups)}


def caa_listing(image_url: str, release_id=RELEASE_ID) -> dict:
    """GET /release-group/<id> of the Cover Art Archive (front image first, thumbnails by size)."""
    return {"images": [
        {"approved": True, "back": False, "comment": "", "edit": 1, "front": True, "id": 1, "image": image_url,
         "thumbnails": {"250": image_url + "?250", "500": image_url + "?500", "1200": image_url,
                        "large": image_url + "?500", "small": image_url + "?250"}, "types": ["Front"]},
        {"approved": True, "back": True, "front": False, "id": 2, "image": image_url + "?back", "thumbnails": {},
         "types": ["Back"]}],
        "release": f"https://musicbrainz.org/release/{release_id}"}


def spotify_token(token="tok-1", expires_in=3600) -> dict:
    """POST /api/token (client credentials)."""
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}


def spotify_album(name="Homogenic", artist="Björk", date="1997-09-22", tracks=10, image_url=None,
                  album_id="3icIEOIT2NnVvRSsMjpVFb") -> dict:
    """One item of GET /v1/search?type=album."""
    images = [{"url": image_url, "height": 640, "width": 640}] if image_url else []
    return {"album_type": "album", "total_tracks": tracks, "id": album_id, "name": name, "release_date": date,
            "release_date_precision": "day", "type": "album", "uri": f"spotify:album:{album_id}",
            "external_urls": {"spotify": f"https://open.spotify.com/album/{album_id}"},
            "artists": [{"id": "7w87IxuO7BDcJ3YUqCyMTT", "name": artist, "type": "artist"}], "images": images}


def spotify_search(*albums) -> dict:
    """The search envelope."""
    return {"albums": {"href": "https://api.spotify.com/v1/search", "limit": 10, "offset": 0, "total": len(albums),
                       "next": None, "previous": None, "items": list(albums)}}


def lastfm_album(name="Homogenic", artist="Björk", mbid=RELEASE_ID, image_url=None, tracks=10) -> dict:
    """album.getInfo, format=json."""
    sizes = ("small", "medium", "large", "extralarge", "mega", "")
    return {"album": {"artist": artist, "mbid": mbid, "name": name, "url": "https://www.last.fm/music/x/y",
                      "listeners": "500000", "playcount": "9000000",
                      "image": [{"size": s, "#text": (image_url or "") if s in ("extralarge", "mega") else ""}
                                for s in sizes],
                      "tracks": {"track": [{"name": f"Track {n}", "duration": 240, "@attr": {"rank": n}}
                                           for n in range(1, tracks + 1)]}}}


def discogs_search(*results) -> dict:
    """GET /database/search?type=release."""
    return {"pagination": {"page": 1, "pages": 1, "per_page": 10, "items": len(results), "urls": {}},
            "results": list(results)}


def discogs_result(release_id=4567, title="Björk - Homogenic", year="1997", master_id=1234, cover_image=None) -> dict:
    """One search result."""
    return {"id": release_id, "type": "release", "master_id": master_id, "title": title, "year": year,
            "format": ["Vinyl", "LP", "Album"], "country": "UK", "uri": f"/release/{release_id}",
            "cover_image": cover_image or "https://st.discogs.com/images/spacer.gif",
            "thumb": "", "resource_url": f"https://api.discogs.com/releases/{release_id}"}
