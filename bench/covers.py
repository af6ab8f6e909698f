"""Covers benchmark: enrichment of a collection against local stand-ins for every source (MusicBrainz paced to its
real 1 request/s), and the cost of serving a cover compared with a static file under the real gunicorn.

    .venv/bin/python bench/covers.py                     # 1,000 albums (~17 min: MusicBrainz' pace), then serving
    .venv/bin/python bench/covers.py --albums 20 --duration 3

Prints JSON (and writes bench/results/covers-<date>.json). Load only ever targets 127.0.0.1.
"""
from __future__ import annotations

import argparse
import io
import itertools
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from werkzeug import Request, Response  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from bench import httpbench, loadgen  # noqa: E402
from tests.covers import fakes  # noqa: E402


def _cover(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 1200), (seed % 256, (seed * 7) % 256, 90)).save(out, "JPEG", quality=90)
    return out.getvalue()


class Sources:
    """One werkzeug server answering as MusicBrainz, the Cover Art Archive, Spotify, Discogs, Last.fm, image hosts."""

    def __init__(self):
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.log: list[tuple[float, str]] = []
        self.images = [_cover(i) for i in range(8)]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @Request.application
    def app(self, request: Request) -> Response:
        path = request.path
        self.log.append((time.monotonic(), path.split("/")[1]))
        if path.startswith("/img/"):
            return Response(self.images[int(path.rsplit("/", 1)[1].split(".")[0]) % 8], content_type="image/jpeg")
        if path == "/accounts/api/token":
            return _json(fakes.spotify_token())
        title = request.args.get("album") or request.args.get("release_title") or _quoted(request.args.get("q") or
                                                                                           request.args.get("query"))
        if path == "/ws/2/release-group":
            group = fakes.mb_release_group(rg_id=f"rg-{title.split()[-1]}", title=title, artist="Bench Artist")
            return _json(fakes.mb_search(group))
        if path.startswith("/caa/release-group/"):
            number = path.rsplit("-", 1)[1]
            return _json(fakes.caa_listing(f"{self.base}/img/{number}.jpg"))
        if path == "/spotify/v1/search":
            return _json(fakes.spotify_search(fakes.spotify_album(name=title, artist="Bench Artist")))
        if path == "/discogs/database/search":
            return _json(fakes.discogs_search(fakes.discogs_result(title=f"Bench Artist - {title}")))
        if path == "/lastfm/2.0/":
            return _json(fakes.lastfm_album(name=title, artist="Bench Artist"))
        return Response("unexpected", status=404)

    def stop(self):
        self.server.shutdown()


def _quoted(query: str | None) -> str:
    return (query or "").split('"')[1] if query and '"' in query else ""


def _json(body) -> Response:
    return Response(json.dumps(body), content_type="application/json")


def enrich(albums: int, workdir: Path) -> dict:
    """Enrich `albums` albums through enrich_all against the local sources; time, requests, pacing."""
    from aime import create_app
    from aime.jobs import enrichment_jobs
    from aime.services import collection
    from tests.conftest import make_config, upgrade

    sources = Sources()
    base = sources.base
    config = make_config(workdir).replace(
        musicbrainz_contact="bench@example.org", musicbrainz_base_url=f"{base}/ws/2", coverart_base_url=f"{base}/caa",
        discogs_token="t", discogs_base_url=f"{base}/discogs", spotify_client_id="i", spotify_client_secret="s",
        spotify_base_url=f"{base}/spotify/v1", spotify_accounts_url=f"{base}/accounts", lastfm_api_key="k" * 32,
        lastfm_base_url=f"{base}/lastfm/2.0")
    config.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(config)
    upgrade(app)
    with app.app_context():
        for number in range(albums):
            collection.create_album({"title": f"Album {number}", "artists": ["Bench Artist"]})
        started = time.perf_counter()
        result = enrichment_jobs.enrich_all(config)
        seconds = time.perf_counter() - started
        extra = collection.create_album({"title": "Zeta", "artists": ["Nobody"]})["id"]  # no cover: the placeholder
    sources.stop()
    mb = [t for t, kind in sources.log if kind == "ws"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(mb)]
    return {"albums": albums, "seconds": round(seconds, 1), "albums_per_minute": round(albums / seconds * 60, 1),
            "processed": result["processed"], "covers": result["covers"], "matched": result["matched"],
            "requests": dict(Counter(kind for _, kind in sources.log)),
            "musicbrainz_min_gap_s": round(min(gaps), 3) if gaps else None,
            "musicbrainz_span_s": round(mb[-1] - mb[0], 1) if len(mb) > 1 else 0.0,
            "cover_files": len(list((config.data_dir / "covers").glob("*"))), "data_dir": str(config.data_dir),
            "database_url": config.database_url, "placeholder_album": extra}


def serve(enriched: dict, workdir: Path, duration: float, connections: int) -> dict:
    """req/s of a stored cover (thumb, full, 304), a placeholder and a static file, under the real gunicorn."""
    env = httpbench.server_env(enriched["database_url"], Path(enriched["data_dir"]))
    results = {}
    with httpbench.running(env, workdir / "gunicorn.log") as server:
        for name, path in (("live", "/live"), ("static file (aime.css)", "/static/web/aime.css"),
                           ("cover thumb", "/covers/albums/1?size=thumb"),
                           ("cover full (1200 px)", "/covers/albums/1?size=full"),
                           ("placeholder (no cover)", f"/covers/albums/{enriched['placeholder_album']}")):
            results[name] = loadgen.measure(server.url(path), connections, duration, tool="python")
        import requests

        etag = requests.get(server.url("/covers/albums/1?size=thumb"), timeout=10).headers["ETag"]
        with_etag = loadgen.python_load(server.url("/covers/albums/1?size=thumb"), connections, duration,
                                        headers={"If-None-Match": etag})
        results["cover thumb, If-None-Match (304)"] = with_etag
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--albums", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aime-covers-bench-") as folder:
        workdir = Path(folder)
        enriched = enrich(args.albums, workdir)
        served = serve(enriched, workdir, args.duration, args.connections)
    report = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "enrichment": enriched,
              "serving": served}
    for key in ("data_dir", "database_url", "placeholder_album"):
        enriched.pop(key)
    out = ROOT / "bench" / "results" / f"covers-{datetime.now(UTC):%Y-%m-%d}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
