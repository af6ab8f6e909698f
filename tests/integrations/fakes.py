"""Fake Last.fm and Discogs servers (pytest-httpserver handlers) speaking the real APIs' JSON."""
from __future__ import annotations

import json
import threading
import time

from werkzeug import Request, Response


class FakeLastfm:
    """user.getRecentTracks over a list of scrobbles, honouring from/to/page, newest first, like Last.fm."""

    def __init__(self, server, user="alice", api_key="lfm-secret-key", page_size=200, now_playing=None):
        self.server, self.user, self.api_key, self.page_size = server, user, api_key, page_size
        self.scrobbles: list[dict] = []  # {"artist", "title", "album", "uts"}
        self.now_playing = now_playing
        self.requests: list[dict] = []
        self.times: list[float] = []  # monotonic arrival time of each request
        self.break_once: set[str] = set()  # page numbers answered once with a body Last.fm would never send
        self.lock = threading.Lock()
        server.expect_request("/2.0/").respond_with_handler(self.handle)

    @property
    def base_url(self) -> str:
        """What AIME_LASTFM_BASE_URL should be."""
        return self.server.url_for("/2.0")

    def add(self, artist, title, album, uts):
        """A scrobble that happened at uts."""
        with self.lock:
            self.scrobbles.append({"artist": artist, "title": title, "album": album, "uts": uts})

    def handle(self, request: Request) -> Response:
        """Answer one getRecentTracks call."""
        args = request.args
        with self.lock:
            if args.get("method") == "user.getrecenttracks":  # not a health probe of the base URL
                self.requests.append(dict(args))
                self.times.append(time.monotonic())
            if args.get("api_key") != self.api_key:
                return _json({"error": 10, "message": "Invalid API key - You must be granted a valid key by last.fm"},
                             403)
            lo, hi = int(args.get("from", 0)), int(args.get("to", 2**40))
            chosen = sorted((s for s in self.scrobbles if lo <= s["uts"] <= hi), key=lambda s: -s["uts"])
            page, size = int(args.get("page", 1)), min(int(args.get("limit", 50)), self.page_size)
            if str(page) in self.break_once:
                self.break_once.discard(str(page))
                return _json({"recenttracks": {"track": [{"name": "cut short"}]}})
            pages = max(1, -(-len(chosen) // size))
            items = [_track(s) for s in chosen[(page - 1) * size: page * size]]
            if page == 1 and self.now_playing:
                items.insert(0, {**_track({**self.now_playing, "uts": 0}), "@attr": {"nowplaying": "true"}})
                del items[0]["date"]
        body = {"recenttracks": {"track": items, "@attr": {
            "user": self.user, "page": str(page), "perPage": str(size), "totalPages": str(pages),
            "total": str(len(chosen))}}}
        return _json(body)


def _track(s: dict) -> dict:
    return {"artist": {"mbid": "", "#text": s["artist"]}, "streamable": "0", "image": [],
            "mbid": "", "album": {"mbid": "", "#text": s["album"] or ""}, "name": s["title"],
            "url": "https://www.last.fm/music/x", "date": {"uts": str(s["uts"]), "#text": "14 Nov 2023, 12:05"}}


def _json(body, status=200, headers=None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")


def discogs_release(release_id, title, artists, year=2001, labels=(("Label", "CAT 1"),), fmt="Vinyl",
                    genres=("Electronic",)):
    """One item of a Discogs collection releases page."""
    return {"id": release_id, "instance_id": release_id * 10, "date_added": "2023-11-14T12:00:00-08:00",
            "rating": 0, "folder_id": 1,
            "basic_information": {
                "id": release_id, "master_id": 0, "title": title, "year": year, "thumb": "", "resource_url": "",
                "cover_image": f"https://i.discogs.com/{release_id}.jpg",
                "formats": [{"name": fmt, "qty": "1", "descriptions": ["LP", "Album"]}],
                "labels": [{"name": name, "catno": catno, "entity_type": "1", "id": 1} for name, catno in labels],
                "artists": [{"name": name, "anv": "", "join": "", "role": "", "id": 1} for name in artists],
                "genres": list(genres), "styles": []}}


class FakeDiscogs:
    """/users/<u>/collection/folders/0/releases over a list of releases, paginated like Discogs."""

    def __init__(self, server, user="alice", token="dg-secret-token", per_page=2):
        self.server, self.user, self.token, self.per_page = server, user, token, per_page
        self.releases: list[dict] = []
        self.requests: list[dict] = []
        server.expect_request(f"/users/{user}/collection/folders/0/releases").respond_with_handler(self.handle)

    @property
    def base_url(self) -> str:
        """What AIME_DISCOGS_BASE_URL should be."""
        return self.server.url_for("").rstrip("/")

    def handle(self, request: Request) -> Response:
        """Answer one collection page."""
        self.requests.append({"args": dict(request.args), "auth": request.headers.get("Authorization")})
        if request.headers.get("Authorization") != f"Discogs token={self.token}":
            return _json({"message": "You must authenticate to access this resource."}, 401)
        page = int(request.args.get("page", 1))
        pages = max(1, -(-len(self.releases) // self.per_page))
        items = self.releases[(page - 1) * self.per_page: page * self.per_page]
        body = {"pagination": {"page": page, "pages": pages, "per_page": self.per_page,
                               "items": len(self.releases), "urls": {}}, "releases": items}
        return _json(body, headers={"X-Discogs-Ratelimit": "60", "X-Discogs-Ratelimit-Used": "1",
                                    "X-Discogs-Ratelimit-Remaining": "59"})
