"""Search benchmark: substring queries over 50,000 tracks, 5,000 albums and 2,000 artists, scan against index.

    .venv/bin/python bench/searchbench.py                          # SQLite and PostgreSQL (~3 min)
    .venv/bin/python bench/searchbench.py --skip-postgres --duration 3

Setup (not measured): the catalogue of bench/make_dataset.py (its first --tracks tracks) inserted into a migrated
database. Then, per database, twice: "scan" is the LIKE scan of before (FTS5 tables dropped on SQLite, pg_trgm GIN
indexes not used on PostgreSQL), "index" with them. (1) `search()` in-process, one connection, every query of
QUERIES --rounds times in each mode, the modes interleaved call by call (p50/p99 per query and over all; on SQLite
"scan" is the fallback path itself; on PostgreSQL each mode is its own run, GIN indexes dropped, then built);
(2) "first asked": --queries different queries (substrings of 1-12 characters cut from random artist, album and track
names, one in ten made of rare letters), each asked once with GET /api/v1/search through the app (test client, index
built): every request misses the response cache, as the first time a query is asked does; wall and CPU time per
request, p50/p99 over all and by query length; (3) GET /api/v1/search?q=velvet (the query of bench/run.py) under the
real gunicorn (2 workers x 4 threads) at 1 and 8 connections, first with the index dropped, then rebuilt. Prints
JSON; --out writes it.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import httpbench, loadgen, make_dataset  # noqa: E402
from bench.loadgen import percentile  # noqa: E402
from tests.support.servers import migrate  # noqa: E402

# Common words, a rare word, short (1-2 characters: always the scan), an accent, a phrase across words, no match.
QUERIES = ("velvet", "ghost", "mor", "the", "river song", "ights sec", "ö", "o", "zzqx", "stranger")
HTTP_QUERY = "/api/v1/search?q=velvet"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TRGM = (("ix_artists_name_key_trgm", "artists", "name_key"), ("ix_albums_title_key_trgm", "albums", "title_key"),
        ("ix_tracks_title_key_trgm", "tracks", "title_key"))


def load_catalogue(database_url: str, tracks: int, seed: int) -> dict:
    """Insert the generated artists, albums and first `tracks` tracks (keys normalised as AIME does)."""
    from sqlalchemy import create_engine, text

    from aime.text import normalise

    cat = make_dataset.build_catalogue(random.Random(seed))
    artists = [{"id": i + 1, "n": name, "k": normalise(name)} for i, (name, _mbid) in enumerate(cat.artists)]
    albums = [{"id": i + 1, "t": title, "k": normalise(title), "a": artist + 1, "o": i % 5 == 0}
              for i, (artist, title, _mbid) in enumerate(cat.albums)]
    rows = [{"id": i + 1, "t": title, "k": normalise(title), "a": cat.albums[album][0] + 1, "al": album + 1,
             "n": i - cat.album_tracks[album].start + 1}
            for i, (album, title, _d, _loose) in enumerate(cat.tracks[:tracks])]
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO artists (id, name, name_key, created_at) VALUES (:id, :n, :k, 0)"), artists)
            conn.execute(text(
                "INSERT INTO albums (id, title, title_key, primary_artist_id, labels, source, in_collection, "
                "created_at, updated_at) VALUES (:id, :t, :k, :a, '[]', 'bench', :o, 0, 0)"), albums)
            conn.execute(text("INSERT INTO album_artists (album_id, artist_id, position) VALUES (:id, :a, 0)"), albums)
            conn.execute(text("INSERT INTO tracks (id, title, title_key, artist_id, album_id, track_number, loved, "
                              "created_at) VALUES (:id, :t, :k, :a, :al, :n, false, 0)"), rows)
            if conn.dialect.name == "postgresql":
                for table in ("artists", "albums", "tracks"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                      f"(SELECT max(id) FROM {table}))"))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if conn.dialect.name == "postgresql":
                # As autovacuum leaves a server that has run a while: without the visibility map, every index-only
                # scan (the probe's bound) reads the table too (track probe 6.7 ms mean, 3.8 ms after VACUUM).
                conn.execute(text("VACUUM ANALYZE"))
            tables = ("artists", "albums", "tracks")
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}
    finally:
        engine.dispose()


def set_index(database_url: str, on: bool) -> None:
    """Build (on) or drop (off) the search index: FTS5 tables and triggers on SQLite, GIN indexes on PostgreSQL."""
    from sqlalchemy import create_engine, text

    from aime.services.search_index import install_sqlite, uninstall_sqlite

    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                install_sqlite(conn) if on else uninstall_sqlite(conn)
            else:
                for name, table, column in TRGM:
                    conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
                    if on:
                        conn.execute(text(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)"))
                conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def _use_index(on: bool) -> None:
    """Switch the running app (SQLite) between the FTS5 index and the scan of before: the fallback path itself."""
    from flask import current_app

    current_app.extensions.setdefault("aime.search_index", {})["sqlite_fts"] = on


def in_process(database_url: str, work: Path, rounds: int, modes: tuple[str, ...] = ("scan", "index")) -> dict:
    """search() latency per query and mode, one connection; two modes (SQLite) are interleaved call by call.

    Interleaving makes the comparison fair on a loaded machine: both modes meet the same background load.
    On PostgreSQL each mode is its own run (GIN indexes dropped or built): a planner setting switched per call
    would not reach the plans psycopg has already prepared.
    """
    from aime import create_app
    from aime.config import Config
    from aime.services.search import search

    config = Config.from_env({"DATABASE_URL": database_url, "AIME_DATA_DIR": str(work), "AIME_LOG_LEVEL": "warning"})
    app = create_app(config)
    timings = {mode: {q: [] for q in QUERIES} for mode in modes}
    hits = {}
    with app.app_context():
        for mode in modes:  # warm-up, and the answers of each mode
            if len(modes) > 1:
                _use_index(mode == "index")
            hits[mode] = {q: search(q, limit=20) for q in QUERIES}
        for _ in range(rounds):
            for q in QUERIES:
                for mode in modes:
                    if len(modes) > 1:
                        _use_index(mode == "index")
                    started = time.perf_counter()
                    search(q, limit=20)
                    timings[mode][q].append((time.perf_counter() - started) * 1000)
    result = {"answers": _ids(hits)}
    for mode, per_mode in timings.items():
        every = sorted(t for values in per_mode.values() for t in values)
        result[mode] = {"calls": len(every), "p50_ms": round(percentile(every, 0.5), 2),
                        "p99_ms": round(percentile(every, 0.99), 2),
                        "queries": {q: {"p50_ms": round(percentile(sorted(v), 0.5), 2),
                                        "p99_ms": round(percentile(sorted(v), 0.99), 2),
                                        "hits": {k: len(r) for k, r in hits[mode][q].items() if k != "query"}}
                                    for q, v in per_mode.items()}}
    return result


def _ids(hits: dict) -> dict:
    return {mode: {q: {k: [getattr(x, "id", None) or x["id"] for x in r] for k, r in a.items() if k != "query"}
                   for q, a in answers.items()} for mode, answers in hits.items()}


def varied_queries(database_url: str, count: int, seed: int) -> list[str]:
    """`count` different queries: substrings of 1-12 characters of random names, one in ten of rare letters."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            names = [row[0] for row in conn.execute(text(
                "SELECT title FROM tracks UNION ALL SELECT title FROM albums UNION ALL SELECT name FROM artists"))]
    finally:
        engine.dispose()
    rng, found = random.Random(seed), {}
    while len(found) < count:
        if rng.random() < 0.1:
            query = "".join(rng.choice("qxzjkvw") for _ in range(rng.randint(3, 6)))
        else:
            name, size = rng.choice(names), rng.choice((1, 2, 3, 4, 5, 6, 8, 12))
            start = rng.randint(0, max(0, len(name) - size))
            query = name[start:start + size].strip()
        if query:
            found.setdefault(query, None)
    return list(found)


def first_asked(database_url: str, work: Path, count: int, seed: int) -> dict:
    """GET /api/v1/search for `count` different queries, each once (response cache always missed): ms per request."""
    from aime import create_app
    from aime.config import Config

    queries = varied_queries(database_url, count, seed)
    config = Config.from_env({"DATABASE_URL": database_url, "AIME_DATA_DIR": str(work), "AIME_LOG_LEVEL": "warning"})
    client = create_app(config).test_client()
    for warm in ("warm", "up", "velvet"):  # the connection, the statement caches, the FTS check
        client.get("/api/v1/search", query_string={"q": warm})
    server_before = httpbench.database_cpu_seconds(database_url)
    wall, cpu, by_length, errors = [], [], {"1-2": [], "3+": []}, 0
    for query in queries:
        started, started_cpu = time.perf_counter(), time.process_time()
        status = client.get("/api/v1/search", query_string={"q": query}).status_code
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        by_length["1-2" if len(query) < 3 else "3+"].append(wall[-1])
        errors += status != 200
    server = httpbench.database_cpu_seconds(database_url)
    wall_sorted, slowest = sorted(wall), sorted(zip(wall, queries, strict=True), reverse=True)[:5]
    return {"requests": len(queries), "errors": errors, "p50_ms": round(percentile(wall_sorted, 0.5), 2),
            "p99_ms": round(percentile(wall_sorted, 0.99), 2), "max_ms": round(wall_sorted[-1], 2),
            "cpu_p50_ms": round(percentile(sorted(cpu), 0.5), 2), "cpu_p99_ms": round(percentile(sorted(cpu), 0.99), 2),
            "by_length": {k: {"requests": len(v), "p50_ms": round(percentile(sorted(v), 0.5), 2),
                              "p99_ms": round(percentile(sorted(v), 0.99), 2)} for k, v in by_length.items() if v},
            "slowest": [[round(ms, 2), query] for ms, query in slowest],
            # PostgreSQL: its backends' CPU over the phase per request (clock ticks: a mean, not a percentile)
            "server_cpu_mean_ms": None if server is None or server_before is None
            else round((server - server_before) * 1000 / len(queries), 2)}


def over_http(database_url: str, work: Path, duration: float, tool: str, label: str) -> dict:
    """GET /api/v1/search?q=velvet under gunicorn at 1 and 8 connections."""
    env = httpbench.server_env(database_url, work)
    with httpbench.running(env, work / f"gunicorn-search-{label}.log") as server:
        loadgen.python_load(server.url(HTTP_QUERY), 1, 0.5)  # warm every worker's connection and caches
        return {f"c{c}": loadgen.measure(server.url(HTTP_QUERY), c, duration, tool) for c in (1, 8)}


def measure_database(database_url: str, work: Path, args) -> dict:
    """Load, build the index, measure in-process (both modes); then HTTP without the index, and with it."""
    result = {"rows": load_catalogue(database_url, args.tracks, args.seed)}
    if database_url.startswith("sqlite"):
        set_index(database_url, True)
        measured = in_process(database_url, work, args.rounds)
    else:
        set_index(database_url, False)
        measured = in_process(database_url, work, args.rounds, ("scan",))
        set_index(database_url, True)
        index = in_process(database_url, work, args.rounds, ("index",))
        measured["index"], measured["answers"]["index"] = index["index"], index["answers"]["index"]
    answers = measured.pop("answers")
    measured["same_answers"] = answers["scan"] == answers["index"]  # the index changes the speed, never the answer
    result["in_process"] = measured
    result["first_asked"] = first_asked(database_url, work, args.queries, args.seed)  # the index is built here
    result["http"] = {}
    for mode, on in (("scan", False), ("index", True)):
        set_index(database_url, on)
        result["http"][mode] = over_http(database_url, work, args.duration, args.loadgen, mode)
    return result


def postgres_url(admin: str, scratch: str) -> str:
    """A fresh, migrated scratch database on the PostgreSQL server at `admin`."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{scratch}"'))
    finally:
        engine.dispose()
    return make_url(admin).set(database=scratch).render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and print (and optionally write) its JSON report."""
    parser = argparse.ArgumentParser(description="AIME search benchmark")
    parser.add_argument("--tracks", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=50, help="in-process calls per query and mode")
    parser.add_argument("--queries", type=int, default=300, help="different queries of the first-asked phase")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of HTTP load per point")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--postgres-db", default="aime_bench_search")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    report: dict = {"queries": list(QUERIES), "http_query": HTTP_QUERY}
    with tempfile.TemporaryDirectory(prefix="aime-searchbench-") as tmp:
        work = Path(tmp)
        sqlite_url = f"sqlite:///{work / 'search.db'}"
        migrate({"DATABASE_URL": sqlite_url, "AIME_DATA_DIR": str(work)})
        report["sqlite"] = measure_database(sqlite_url, work, args)
        if not args.skip_postgres:
            url = postgres_url(args.postgres_url, args.postgres_db)
            migrate({"DATABASE_URL": url, "AIME_DATA_DIR": str(work)})
            report["postgresql"] = measure_database(url, work, args)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return report


if __name__ == "__main__":
    main()
