"""Deterministic, realistic listening history for the benchmarks.

Writes, into --out (default bench/data):
  recenttracks-bench-<rows>.csv   Last.fm export in the lastfm.ghan.nl format (newest first)
  listenbrainz-bench-<rows>.jsonl ListenBrainz listens, one JSON object per line
  listenbrainz-bench-<rows>.zip   the same listens as a ListenBrainz export (listens/YYYY/M.jsonl)
  collection-bench.csv            a Discogs collection export of 1,000 of the albums
  dataset-<rows>.json             what was generated (counts the importers must reproduce)

The same --seed and --rows always give byte-identical files. Shape of the history:
2,000 artists and 5,000 albums (8-14 tracks each) with Zipf-like popularity (a few artists get
most plays, a long tail gets a handful), spread over 15 years with a slow ramp-up, weekday/weekend
and evening peaks, and sessions in which a record is often played through in order. Plays are laid
out on one strictly increasing timeline, each spaced by the previous track's duration, so no play
can be a duplicate of another (every generated row must be imported).

    python bench/make_dataset.py --rows 1000000
"""
from __future__ import annotations

import argparse
import bisect
import hashlib
import itertools
import json
import random
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

ARTISTS = 2_000
ALBUMS = 5_000
YEARS = 15
END = 1_767_225_600  # 2026-01-01T00:00:00Z: the history ends here, so files never depend on "now"
START = END - YEARS * 365 * 86_400
DEFAULT_OUT = Path(__file__).resolve().parent / "data"
FILE_KINDS = ("csv", "jsonl", "zip", "collection", "meta")

_ADJ = ["Silent", "Velvet", "Electric", "Golden", "Broken", "Hollow", "Crimson", "Distant", "Midnight", "Paper",
        "Neon", "Wild", "Lonely", "Frozen", "Burning", "Quiet", "Northern", "Southern", "Little", "Great", "Blue",
        "Black", "White", "Red", "Green", "Secret", "Lost", "Sunday", "Morning", "Ancient", "Modern", "Lazy",
        "Heavy", "Gentle", "Bright", "Dark", "Strange", "Sweet", "Bitter", "Young"]
_NOUN = ["Owls", "Rivers", "Machines", "Gardens", "Lights", "Harbours", "Wolves", "Engines", "Mirrors", "Horses",
         "Ghosts", "Satellites", "Dreams", "Animals", "Sailors", "Strangers", "Forests", "Echoes", "Bridges",
         "Windows", "Pilots", "Dancers", "Monks", "Giants", "Comets", "Tigers", "Ravens", "Saints", "Orchards",
         "Islands", "Lanterns", "Shadows", "Kings", "Queens", "Waves", "Clouds", "Roads", "Stones", "Flowers",
         "Bells", "Doors", "Cities", "Mountains", "Foxes", "Whales", "Arrows", "Crowns", "Canyons", "Rockets",
         "Poets", "Thieves", "Hearts", "Storms", "Valleys", "Shores", "Towers", "Planets", "Signals"]
_WORD = ["love", "night", "light", "day", "heart", "time", "rain", "fire", "home", "road", "sky", "dream", "blue",
         "gold", "summer", "winter", "river", "song", "dance", "city", "star", "sun", "moon", "water", "ocean",
         "memory", "shadow", "glass", "paper", "silver", "morning", "evening", "stranger", "tomorrow", "yesterday",
         "echo", "wire", "signal", "garden", "window", "mirror", "harbour", "island", "lantern", "thunder",
         "velvet"]
_ACCENTS = str.maketrans({"o": "ö", "e": "é", "a": "á", "u": "ü"})
_FORMATS = ("LP, Album", "CD, Album", "Cassette, Album", "2xLP, Album, RE")


@dataclass
class Catalogue:
    """Artists, albums (with tracks) and the popularity weights used to draw plays."""

    artists: list[tuple[str, str]]          # (name, mbid or "")
    albums: list[tuple[int, str, str]]      # (artist index, title, mbid or "")
    tracks: list[tuple[int, str, int, bool]]  # (album index, title, duration s, played without album)
    album_tracks: list[range]               # track indexes of each album, in order


def _mbid(*parts: object) -> str:
    return str(uuid.UUID(bytes=hashlib.md5("|".join(map(str, parts)).encode()).digest()[:16], version=4))


def _zipf(n: int, s: float) -> list[float]:
    return [1.0 / (rank ** s) for rank in range(1, n + 1)]


def _title(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORD) for _ in range(words)).title()


def build_catalogue(rng: random.Random) -> Catalogue:
    """The artists, albums and tracks, with names unique after AIME's normalisation."""
    combos = [f"The {a} {n}" for a, n in itertools.product(_ADJ, _NOUN)]
    rng.shuffle(combos)
    artists = []
    for i, name in enumerate(combos[:ARTISTS]):
        if i % 9 == 4:
            name = name.translate(_ACCENTS)  # still unique after accent folding: the base combo is used once
        elif i % 13 == 6:
            name = name.replace("The ", "") + ", Jr. & Band"  # commas must survive CSV quoting
        artists.append((name, _mbid("artist", i) if i % 10 < 7 else ""))
    # Every artist has at least one album; the rest go to popular artists more often.
    owners = list(range(ARTISTS)) + rng.choices(range(ARTISTS), weights=_zipf(ARTISTS, 0.8), k=ALBUMS - ARTISTS)
    albums, tracks, album_tracks, seen = [], [], [], set()
    for index, artist in enumerate(owners):
        title = _title(rng, rng.randint(1, 3))
        while (artist, title.casefold()) in seen:
            title = f"{title} Vol {len(seen) % 7 + 2}"
        seen.add((artist, title.casefold()))
        albums.append((artist, title, _mbid("album", index) if index % 2 else ""))
        first, names = len(tracks), set()
        for _ in range(rng.randint(8, 14)):
            name = _title(rng, rng.randint(1, 4))
            while name.casefold() in names:
                name = f"{name} Part {len(names) % 5 + 2}"
            names.add(name.casefold())
            # Some tracks are scrobbled without an album (singles, radio): a separate identity in AIME.
            tracks.append((index, name, rng.randint(120, 360), rng.random() < 0.03))
        album_tracks.append(range(first, len(tracks)))
    return Catalogue(artists, albums, tracks, album_tracks)


def _day_counts(rng: random.Random, rows: int) -> list[int]:
    days = YEARS * 365
    weights = []
    for day in range(days):
        ramp = 0.35 + 0.65 * min(1.0, day / (days * 0.4))  # listening grows, then plateaus
        weekend = 1.35 if (day + 3) % 7 in (5, 6) else 1.0  # day 0 (2011-01-04) is a Tuesday
        weights.append(ramp * weekend * rng.uniform(0.3, 1.7))
    total = sum(weights)
    counts = [int(rows * w / total) for w in weights]
    for day in rng.sample(range(days), rows - sum(counts)):
        counts[day] += 1
    return counts


_HOUR_WEIGHTS = (2, 1, 0.5, 0.2, 0.1, 0.2, 1, 3, 5, 4, 3, 3, 4, 4, 3, 3, 4, 6, 8, 9, 10, 9, 7, 4)


def generate(rows: int, seed: int = 42):
    """Yield (played_at, track index) for `rows` plays, oldest first, strictly increasing in time."""
    rng = random.Random(seed)
    cat = build_catalogue(rng)
    artist_cum = list(itertools.accumulate(_zipf(ARTISTS, 1.07)))
    albums_of = [[] for _ in range(ARTISTS)]
    for index, (artist, _, _) in enumerate(cat.albums):
        albums_of[artist].append(index)
    hour_cum = list(itertools.accumulate(_HOUR_WEIGHTS))
    track_weights = {n: list(itertools.accumulate(_zipf(n, 0.9))) for n in range(8, 15)}
    moment = START
    for day, count in enumerate(_day_counts(rng, rows)):
        day_start = START + day * 86_400
        while count > 0:
            size = min(count, max(1, int(rng.expovariate(1 / 9))))
            count -= size
            hour = bisect.bisect(hour_cum, rng.random() * hour_cum[-1])
            start = day_start + hour * 3600 + rng.randrange(3600)
            moment = max(moment, start)
            artist = bisect.bisect(artist_cum, rng.random() * artist_cum[-1])
            own = albums_of[artist]
            album = own[min(int(rng.paretovariate(1.5)) - 1, len(own) - 1)]
            through = rng.random() < 0.4  # a record played in order, else favourites of the artist
            span = cat.album_tracks[album]
            position = 0
            for _ in range(size):
                if through:
                    track = span[position % len(span)]
                    position += 1
                else:
                    if rng.random() < 0.3:  # drift to another record of the same artist
                        album = own[rng.randrange(len(own))]
                        span = cat.album_tracks[album]
                    weights = track_weights[len(span)]
                    track = span[bisect.bisect(weights, rng.random() * weights[-1])]
                yield moment, track
                moment += cat.tracks[track][2] + rng.randint(1, 10)
    if moment > END + 40 * 86_400:  # spill-over past END stays small; keeps files stable and sane
        raise RuntimeError("generated history overflowed its 15 years; lower --rows")


def _meta(cat: Catalogue, plays: list[tuple[int, int]]) -> dict:
    tracks_played = {t for _, t in plays}
    # AIME's track identity: (artist, album or none, normalised title); loose plays of one title merge.
    identities = {(cat.albums[cat.tracks[t][0]][0], None if cat.tracks[t][3] else cat.tracks[t][0],
                   cat.tracks[t][1].casefold()) for t in tracks_played}
    albums_played = {cat.tracks[t][0] for t in tracks_played if not cat.tracks[t][3]}
    return {"listens": len(plays), "artists": len({a for a, _, _ in identities}), "albums": len(albums_played),
            "tracks": len(identities), "first_played_at": plays[0][0], "last_played_at": plays[-1][0]}


def write(rows: int, out: Path, seed: int = 42) -> dict:
    """Generate the history and write the CSV, the JSONL and the metadata file; returns the metadata."""
    out.mkdir(parents=True, exist_ok=True)
    cat = build_catalogue(random.Random(seed))
    plays = list(generate(rows, seed))
    paths = {"csv": out / f"recenttracks-bench-{rows}.csv", "jsonl": out / f"listenbrainz-bench-{rows}.jsonl",
             "zip": out / f"listenbrainz-bench-{rows}.zip", "collection": out / "collection-bench.csv",
             "meta": out / f"dataset-{rows}.json"}
    import csv

    with open(paths["csv"], "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["uts", "utc_time", "artist", "artist_mbid", "album", "album_mbid", "track", "track_mbid"])
        for played_at, index in reversed(plays):  # the export tool writes newest first
            album_index, title, _, loose = cat.tracks[index]
            artist_index, album, album_mbid = cat.albums[album_index]
            artist, artist_mbid = cat.artists[artist_index]
            writer.writerow([played_at, time.strftime("%d %b %Y, %H:%M", time.gmtime(played_at)), artist,
                             artist_mbid, "" if loose else album, "" if loose else album_mbid, title, ""])
    with open(paths["jsonl"], "w", encoding="utf-8") as handle:
        for played_at, index in plays:
            album_index, title, duration, loose = cat.tracks[index]
            artist_index, album, _ = cat.albums[album_index]
            metadata = {"artist_name": cat.artists[artist_index][0], "track_name": title,
                        "additional_info": {"submission_client": "aime-bench", "duration_ms": duration * 1000}}
            if not loose:
                metadata["release_name"] = album
            handle.write(json.dumps({"listened_at": played_at, "track_metadata": metadata}, ensure_ascii=False))
            handle.write("\n")
    _write_listenbrainz_zip(paths["jsonl"], paths["zip"])
    _write_collection(paths["collection"], seed)
    meta = {"rows": rows, "seed": seed, **_meta(cat, plays), "files": {k: v.name for k, v in paths.items()}}
    paths["meta"].write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _write_listenbrainz_zip(jsonl: Path, target: Path) -> None:
    """The JSONL split into the export's listens/YYYY/M.jsonl members (fixed dates: byte-identical zips)."""
    months: dict[tuple[int, int], list[str]] = {}
    with open(jsonl, encoding="utf-8") as handle:
        for line in handle:
            moment = time.gmtime(int(line[15:line.index(",")]))  # '{"listened_at": N, ...'
            months.setdefault((moment.tm_year, moment.tm_mon), []).append(line)
    stamp = (2026, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(zipfile.ZipInfo("user.json", stamp), json.dumps({"user_name": "bench"}))
        for (year, month), lines in sorted(months.items()):
            archive.writestr(zipfile.ZipInfo(f"listens/{year}/{month}.jsonl", stamp), "".join(lines),
                             compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
        archive.writestr(zipfile.ZipInfo("feedback.jsonl", stamp), "")


def _write_collection(target: Path, seed: int) -> None:
    """A Discogs collection export (same columns as the real one) of the owned records."""
    import csv

    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["Catalog#", "Artist", "Title", "Label", "Format", "Rating", "Released", "release_id",
                         "CollectionFolder", "Date Added", "Collection Media Condition",
                         "Collection Sleeve Condition", "Collection Notes"])
        for index, (artist, title, year, fmt) in enumerate(collection_albums(seed)):
            writer.writerow([f"BENCH {index:04d}", artist, title, "Bench Records", fmt, "", year,
                             9_000_000 + index, "Uncategorized", "2024-01-01 12:00:00", "", "", ""])


def collection_albums(seed: int = 42, count: int = 1_000) -> list[tuple[str, str, int, str]]:
    """(artist, album title, year, format) of the records the benchmark owner has in the collection."""
    cat = build_catalogue(random.Random(seed))
    rng = random.Random(seed + 1)
    picks = rng.sample(range(len(cat.albums)), min(count, len(cat.albums)))
    return [(cat.artists[cat.albums[i][0]][0], cat.albums[i][1], rng.randint(1960, 2025), rng.choice(_FORMATS))
            for i in sorted(picks)]


def main(argv: list[str] | None = None) -> None:
    """Command line: write the dataset files and print their metadata."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="number of listens (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    started = time.perf_counter()
    meta = write(args.rows, args.out, args.seed)
    print(json.dumps({**meta, "seconds": round(time.perf_counter() - started, 1)}, indent=2))


if __name__ == "__main__":
    main()
