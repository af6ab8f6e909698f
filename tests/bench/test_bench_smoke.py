"""The benchmark suite at 5,000 rows, so bench/ cannot rot: real importer, real gunicorn, real numbers.

Nothing here asserts a timing (machines are noisy); it asserts that every row was imported, the
re-import added none, and the report holds every measured endpoint with numeric values.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench import loadgen, make_dataset, malojabench
from bench.report import evaluate, render
from tests.conftest import drop_postgres_database

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = ["live", "health", "ready", "album list", "album detail", "journal p1", "journal p500",
             "timeline day", "stats year", "top artists all-time", "search"]
# Small on purpose: what is checked is that every phase of bench/run.py runs and reports, not the numbers. At
# 5,000 rows (10,000 before) the importer still commits more than one batch on both databases (its first holds
# FIRST_BATCH = 2,000 rows), the re-import still meets only duplicates, the 1,000 owned records do not depend on
# the row count, and "journal p500" asks past the end (page 500 x 50) as it did at 10,000.
ROWS = 5_000

WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:8000/live
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  612.00us  21.30ms   91.20%
    Req/Sec     2.66k   150.11     2.90k    70.00%
  Latency Distribution
     50%    1.40ms
     75%    1.71ms
     90%    2.10ms
     99%    3.90ms
  15923 requests in 3.00s, 2.61MB read
  Non-2xx or 3xx responses: 12
Requests/sec:   5305.12
Transfer/sec:    891.11KB
"""


def test_wrk_output_is_parsed():
    assert loadgen.parse_wrk(WRK_OUTPUT) == {
        "tool": "wrk", "requests": 15923, "seconds": 3.0, "rps": 5305.12, "p50_ms": 1.4, "p99_ms": 3.9,
        "max_ms": 21.3, "non_2xx": 12, "errors": 0}


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert loadgen.percentile(values, 0.50) == 50.0
    assert loadgen.percentile(values, 0.99) == 99.0
    assert loadgen.percentile([], 0.99) == 0.0


def test_load_only_targets_this_machine():
    with pytest.raises(ValueError, match="127.0.0.1"):
        loadgen.check_local("http://example.org/live")


def test_dataset_is_deterministic_and_complete(tmp_path):
    first = make_dataset.write(2_000, tmp_path / "a", seed=7)
    make_dataset.write(2_000, tmp_path / "b", seed=7)
    other = make_dataset.write(2_000, tmp_path / "c", seed=8)
    for name in first["files"].values():
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    csv_text = (tmp_path / "a" / first["files"]["csv"]).read_text(encoding="utf-8")
    assert csv_text.splitlines()[0] == "uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid"
    assert len(csv_text.splitlines()) == 2_001
    assert csv_text != (tmp_path / "c" / other["files"]["csv"]).read_text(encoding="utf-8")
    lines = (tmp_path / "a" / first["files"]["jsonl"]).read_text(encoding="utf-8").splitlines()
    times = [json.loads(line)["listened_at"] for line in lines]
    assert len(times) == 2_000 and times == sorted(times) and len(set(times)) == 2_000
    assert times[0] >= make_dataset.START and first["listens"] == 2_000


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """One quick run of bench/run.py at ROWS rows (and PostgreSQL when the test server is configured)."""
    tmp = tmp_path_factory.mktemp("bench")
    command = [sys.executable, str(ROOT / "bench" / "run.py"), "--rows", str(ROWS), "--quick",
               "--duration", "0.25", "--rounds", "1", "--blocked-duration", "0.5", "--data-dir", str(tmp / "data"),
               "--results-dir", str(tmp / "results"), "--work-dir", str(tmp / "work")]
    postgres = os.environ.get("AIME_TEST_POSTGRES_URL")
    # A name of its own (runs in parallel, or two checkouts on one server, never share it), dropped afterwards:
    # bench/run.py re-creates its scratch database but leaves it for inspection.
    scratch = f"aime_bench_smoke_{uuid.uuid4().hex[:10]}"
    if postgres:
        command += ["--postgres-url", postgres, "--postgres-db", scratch]
    else:
        command.append("--skip-postgres")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AIME_DATA_DIR")}
    try:
        # The timeout only stops a hung run; the run takes ~1 minute alone, several on a loaded machine.
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    finally:
        if postgres:
            scratch_url = sa.engine.make_url(postgres).set(database=scratch).render_as_string(hide_password=False)
            drop_postgres_database(postgres, scratch_url)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    written = list((tmp / "results").glob("*.json"))
    assert len(written) == 1
    data = json.loads(written[0].read_text())
    data["_stdout"] = done.stdout
    return data


def _check_endpoints(endpoints: list[dict]) -> None:
    assert [row["name"] for row in endpoints] == ENDPOINTS
    for row in endpoints:
        assert row["status"] == 200, row
        assert row["requests"] > 0 and row["non_2xx"] == 0 and row["errors"] == 0, row
        for key in ("rps", "p50_ms", "p99_ms", "ratio_to_live", "server_cpu_ms_per_request", "cpu_ratio_to_live"):
            assert isinstance(row[key], (int, float)) and row[key] > 0, (key, row)
        assert [r["round"] for r in row["rounds"]] == [1], row  # --rounds 1 (each round kept: test_paired_ratios)
    live, others = endpoints[0], endpoints[1:]
    assert live["ratio_to_live"] == 1.0 and live["windows_count"] == len(ENDPOINTS)  # before, between and after
    assert isinstance(live["control_ratio"], float) and live["control_min"] <= live["control_max"], live
    for row in others:  # one window per round, divided by the mean of the /live windows on either side
        assert row["windows_count"] == 1 and row["ratio_min"] == row["ratio_to_live"] == row["ratio_max"], row
        for entry in row["rounds"]:
            assert abs(entry["ratio_to_live"] - entry["rps"] / entry["live_rps"]) < 0.002, entry  # live_rps: 0.1


@pytest.mark.slow
@pytest.mark.integration
def test_import_counts(report):
    imp, dataset = report["import"], report["dataset"]
    assert dataset["listens"] == ROWS
    assert imp["first"]["exit_code"] == 0 and imp["first"]["rows_added"] == ROWS
    assert imp["first"]["peak_rss_mb"] > 0 and imp["first"]["rows_per_s"] > 0
    assert imp["first"]["cpu_seconds"] > 0 and imp["floor"]["cpu_seconds"] > 0
    assert imp["reimport"]["exit_code"] == 0 and imp["reimport"]["rows_added"] == 0
    assert imp["reimport"]["listens_total"] == ROWS
    assert imp["floor"]["rows_added"] == ROWS and imp["first"]["ratio_to_floor"] > 0
    # The floor of the same work wrote every listen and every rollup row the import ended with.
    same = imp["same_work_floor"]
    assert same["catalogue_and_listens"]["rows"]["listens"] == ROWS and same["listens"] == ROWS
    assert same["rollups"]["rows"]["track_play_totals"] == imp["tracks"]  # every track of the dataset was played
    assert imp["first"]["ratio_to_same_work_floor"] > 0
    # The catalogue AIME builds is the one the generator describes (names normalised the same way).
    assert (imp["artists"], imp["tracks"]) == (dataset["artists"], dataset["tracks"])
    assert imp["albums"] >= dataset["albums"]  # plus owned records that were never played
    assert imp["collection"]["owned"] == 1_000


@pytest.mark.slow
@pytest.mark.integration
def test_http_report_has_every_endpoint_with_numbers(report):
    _check_endpoints(report["http_sqlite"]["endpoints"])
    assert report["http_sqlite"]["collection_albums"] == 1_000


@pytest.mark.slow
@pytest.mark.integration
def test_health_measured_while_database_blocked(report):
    names = [row["name"] for row in report["blocked"]]
    assert names == ["sqlite write lock held"]
    rows = report["blocked"] + report.get("http_postgres", {}).get("blocked", [])
    for row in rows:
        assert row["requests"] > 0 and isinstance(row["p99_ms"], (int, float)), row
    if "http_postgres" in report:
        assert [row["name"] for row in report["http_postgres"]["blocked"]] == ["postgres hanging", "postgres refusing"]
        # The truth: the database is gone. The phase's first requests may still get the last result, while it is
        # younger than its TTL plus one check deadline (aime/health/registry.py: 0.5 + 2 s here), then 503 and never
        # anything else; the bench asks until it sees the 503 or 10 s have passed.
        refusing = report["http_postgres"]["blocked"][1]
        assert 503 in refusing["statuses"] and set(refusing["statuses"]) <= {200, 503}, refusing
        assert 0 < refusing["seconds_to_status"] < 10, refusing


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.postgres
def test_postgres_set(report):
    if "http_postgres" not in report:
        pytest.skip("AIME_TEST_POSTGRES_URL is not set")
    pg = report["http_postgres"]
    assert pg["import"]["exit_code"] == 0 and pg["import"]["rows_added"] == ROWS
    # The import's server CPU (its backends) and both floors of bench/pg_floor.py, on the import's own rows.
    assert pg["import"]["server_cpu_seconds"] > 0 and pg["import"]["ratio_to_same_work_floor"] > 0
    floor = pg["same_work_floor"]
    assert floor["plain_floor"]["rows_added"] == floor["listens"] == ROWS
    assert floor["catalogue_and_listens"]["rows"]["listens"] == ROWS
    assert floor["rollups"]["rows"]["track_play_totals"] > 0 and floor["same_work_server_cpu_s"] > 0
    _check_endpoints(pg["endpoints"])


@pytest.mark.slow
@pytest.mark.integration
def test_table_and_targets(report):
    table = render(report)
    assert report["_stdout"].startswith(table.splitlines()[0])
    for name in ENDPOINTS:
        assert f"| {name} |" in table
    assert "Floor of the same work (bench/floor_same_work.py" in table
    names = {check["name"] for check in report["targets"]}
    assert {"import rows added = dataset rows", "import rows/s", "import peak RSS", "import / plain-sqlite3 floor",
            "import CPU / sqlite3 floor of the same work", "re-import wall time", "re-import rows added",
            "sqlite health rps / live", "sqlite search p99",
            "sqlite stats year p99", "sqlite top artists all-time p99", "/health p99, sqlite write lock held"} <= names
    if "http_postgres" in report:
        assert {"postgres import rows/s", "postgres import CPU / floor of the same work",
                "postgres album detail rps / live", "album detail rps, postgres / sqlite"} <= names
        assert "| floor of the same work (parse " in table
    met = {check["name"]: check["met"] for check in report["targets"]}
    assert met["import rows added = dataset rows"] is True and met["re-import rows added"] is True



def _row(name: str, rps: float, p99: float, p99_1c: float | None = None) -> dict:
    return {"name": name, "path": "/x", "status": 200, "rps": rps, "p99_ms": p99, "p99_1c_ms": p99_1c,
            "ratio_to_live": round(rps / 1000, 3), "non_2xx": 0, "errors": 0}


def test_targets_are_issue_18s():
    run = {"rows": 1_000_000,
           "import": {"expected_rows": 1_000_000,
                      "first": {"rows_added": 1_000_000, "rows_per_s": 61_000, "peak_rss_mb": 301,
                                "ratio_to_floor": 3.0, "ratio_to_same_work_floor": 3.01},
                      "reimport": {"rows_added": 0, "seconds": 5.5}},
           "http_sqlite": {"endpoints": [_row("live", 1000, 9), _row("health", 900, 9), _row("ready", 899, 9),
                                         _row("album list", 500, 9), _row("album detail", 600, 9),
                                         _row("timeline day", 700, 30.5), _row("stats year", 800, 50, 15.1),
                                         _row("top artists all-time", 800, 30), _row("search", 499, 20)]},
           "http_postgres": {"expected_rows": 1_000_000,
                             "import": {"rows_added": 1_000_000, "rows_per_s": 39_999,
                                        "ratio_to_same_work_floor": 2.99},
                             "endpoints": [_row("live", 1000, 9), _row("album detail", 299, 9)]}}
    assert [(c["name"], c["target"], c["met"]) for c in evaluate(run)] == [
        ("import rows added = dataset rows", 1_000_000, True),
        ("import rows/s", ">= 60000", True),
        ("import peak RSS", "<= 300", False),
        ("import / plain-sqlite3 floor", "<= 3", True),
        ("import CPU / sqlite3 floor of the same work", "<= 3", False),
        ("re-import wall time", "<= 5", False),
        ("re-import rows added", "0", True),
        ("sqlite health rps / live", ">= 0.9", True),
        ("sqlite ready rps / live", ">= 0.9", False),
        ("sqlite album list rps / live", ">= 0.5", True),
        ("sqlite album detail rps / live", ">= 0.5", True),
        ("sqlite timeline day p99", "<= 30", False),
        ("sqlite stats year p99", "<= 50", True),
        ("sqlite stats year p99, 1 connection", "<= 15", False),
        ("sqlite top artists all-time p99", "<= 30", True),
        ("sqlite search rps / live", ">= 0.5", False),
        ("sqlite search p99", "<= 20", True),
        ("postgres import rows added", 1_000_000, True),
        ("postgres import rows/s", ">= 40000", False),
        ("postgres import CPU / floor of the same work", "<= 3", True),
        ("postgres album detail rps / live", ">= 0.5", False),
        ("album detail rps, postgres / sqlite", ">= 0.5", False),
    ]


# The Maloja phase (bench/run.py --maloja): its pure parts, without installing Maloja.

def test_maloja_rules_keep_whole_the_dataset_artists_maloja_would_split(tmp_path):
    meta = make_dataset.write(2_000, tmp_path, seed=7)
    csv_path = tmp_path / meta["files"]["csv"]
    artists = malojabench.csv_artists(csv_path)
    assert len(artists) == len(set(artists)) == meta["artists"]
    rules = malojabench.belongtogether_rules(artists).splitlines()
    # Every name with Maloja's " & " delimiter (the ", Jr. & Band" artists), and no other.
    assert rules == [f"belongtogether\t{name}" for name in artists if " & " in name] and rules
    assert malojabench.belongtogether_rules(["A vs. B", "AC/DC", "Simon; Garfunkel", "X feat. Y", "Ampersand&Co",
                                             "Plain"]) == ("belongtogether\tA vs. B\nbelongtogether\tAC/DC\n"
                                                           "belongtogether\tSimon; Garfunkel\n"
                                                           "belongtogether\tX feat. Y\n")
    data = tmp_path / "maloja"
    assert malojabench.prepare(csv_path, data) == csv_path  # Maloja reads the same Last.fm CSV as AIME
    assert (data / "rules" / "aime_bench.tsv").read_text(encoding="utf-8").splitlines() == rules
    renamed = tmp_path / "plays.csv"
    renamed.write_text(csv_path.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ValueError, match="recenttracks-"):
        malojabench.prepare(renamed, data)


class _Stop(Exception):
    """Raised where the Maloja phase would start both servers: the test is about what comes before."""


def test_maloja_data_dir_is_kept_and_reused_without_reimporting(tmp_path, monkeypatch):
    from bench import httpbench, run

    meta = make_dataset.write(300, tmp_path / "data", seed=7)
    csv_path = tmp_path / "data" / meta["files"]["csv"]
    imports = []

    def fake_import(script, csv, data, log, timeout):  # what malojabench.import_plays returns, without Maloja
        imports.append(data)
        (data / "maloja.sqlite").write_text("scrobbles")
        return {"exit_code": 0, "seconds": 1200.0, "rows_added": 300, "rows_per_s": 0.2, "peak_rss_mb": 70.0}

    monkeypatch.setattr(malojabench, "install", lambda venv, version: tmp_path / "venv" / "bin" / "maloja")
    monkeypatch.setattr(malojabench, "import_plays", fake_import)
    monkeypatch.setattr(httpbench, "pick_targets", lambda url: (_ for _ in ()).throw(_Stop()))
    kept = tmp_path / "kept-maloja"

    def phase(*options):
        args = run.parse_args(["--maloja", *options])
        with pytest.raises(_Stop):
            run.maloja_phase(csv_path, tmp_path / "work", "sqlite://", {}, args)

    phase("--maloja-data", str(kept))
    assert imports == [kept]
    record = json.loads((kept / malojabench.IMPORTED).read_text())
    assert (record["csv"], record["version"], record["result"]["seconds"]) == (csv_path.name, "3.2.9", 1200.0)
    assert record["sha256"] == malojabench.csv_digest(csv_path)
    phase("--maloja-data", str(kept))  # the same CSV and Maloja: its database is used as it is
    assert imports == [kept] and (kept / "maloja.sqlite").read_text() == "scrobbles"
    assert malojabench.kept_import(kept, csv_path, "3.2.9") == {
        "exit_code": 0, "seconds": 1200.0, "rows_added": 300, "rows_per_s": 0.2, "peak_rss_mb": 70.0,
        "reused_from": record["imported_at"]}
    phase("--maloja-data", str(kept), "--maloja-version", "3.2.8")  # another Maloja: imported again
    assert imports == [kept, kept]
    phase()  # without --maloja-data: a fresh directory in the work dir, every time
    phase()
    assert imports == [kept, kept, tmp_path / "work" / "maloja", tmp_path / "work" / "maloja"]
    other = tmp_path / "data" / "recenttracks-other.csv"
    other.write_text(csv_path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert malojabench.kept_import(kept, other, "3.2.8") is None  # another CSV of the same name pattern
    someones = tmp_path / "real-maloja"
    (someones / "scrobbles").mkdir(parents=True)
    with pytest.raises(ValueError, match="refusing to empty it"):  # never emptied: it may be a real Maloja
        phase("--maloja-data", str(someones))
    assert (someones / "scrobbles").is_dir() and imports[-1] != someones


def test_maloja_questions_ask_both_servers_the_same_thing():
    asked = malojabench.questions(2024, "2024-03-09", 17, "The Owls, Jr. & Band")
    assert [(q["name"], q["aime"], q["maloja"]) for q in asked] == [
        ("top artists, all time", "/api/v1/history/top/artists?limit=10", "/apis/mlj_1/charts/artists"),
        ("top artists, 2024", "/api/v1/history/top/artists?limit=10&start_date=2024-01-01&end_date=2024-12-31",
         "/apis/mlj_1/charts/artists?in=2024"),
        ("top tracks, 2024", "/api/v1/history/top/tracks?limit=10&start_date=2024-01-01&end_date=2024-12-31",
         "/apis/mlj_1/charts/tracks?in=2024"),
        ("play count, 2024", "/api/v1/history/tracks?page=1&page_size=1&start_date=2024-01-01&end_date=2024-12-31",
         "/apis/mlj_1/numscrobbles?in=2024"),
        ("scrobbles of 2024-03-09", "/api/v1/history/timeline?date=2024-03-09", "/apis/mlj_1/scrobbles?in=2024/03/09"),
        ("recent scrobbles (50)", "/api/v1/history/tracks?page=1&page_size=50",
         "/apis/mlj_1/scrobbles?perpage=50&page=0"),
        ("one artist", "/api/v1/collection/artists/17",
         "/apis/mlj_1/artistinfo?artist=The%20Owls%2C%20Jr.%20%26%20Band"),
    ]


def _aime_top(*pairs):
    return {"items": [{"name": n, "plays": c} for n, c in pairs]}


def _maloja_top(*pairs):
    return {"list": [{"artist": n, "scrobbles": c} for n, c in pairs]}


def test_maloja_answers_are_compared_for_agreement():
    top = [(f"Artist {i}", 100 - i) for i in range(10)]
    # Maloja returns the whole chart; AIME its top 10. Agreement is on the top 10.
    full = top + [("Artist tail", 3)]
    a = malojabench.aime_answer("top artists, all time", _aime_top(*top))
    m = malojabench.maloja_answer("top artists, all time", _maloja_top(*full))
    assert malojabench.agree("top artists, all time", a, m) == {
        "question": "top artists, all time", "agree": True, "detail": "top 10 match (Artist 0 100 first)"}
    # Ties at the 10th place may be ordered apart: names there are not compared, counts are.
    tied_a = top[:9] + [("Edge A", 5)]
    tied_m = top[:9] + [("Edge B", 5), ("Edge A", 5)]
    assert malojabench.agree("top artists, 2024", tied_a, tied_m)["agree"] is True
    off_by_one = top[:9] + [("Artist 9", 90)]
    assert malojabench.agree("top artists, 2024", top, off_by_one) == {
        "question": "top artists, 2024", "agree": False,
        "detail": "counts differ: AIME [100, 99, 98, 97, 96, 95, 94, 93, 92, 91] "
                  "Maloja [100, 99, 98, 97, 96, 95, 94, 93, 92, 90]"}
    swapped = [("Someone Else", 100)] + top[1:]
    assert malojabench.agree("top artists, 2024", top, swapped)["detail"] == (
        "names differ: only AIME ['artist 0'], only Maloja ['someone else']")
    tracks_a = malojabench.aime_answer("top tracks, 2024", {"items": [{"artist": "A", "name": "Song", "plays": 4}]})
    tracks_m = malojabench.maloja_answer("top tracks, 2024", {"list": [
        {"track": {"artists": ["A"], "title": "Song"}, "scrobbles": 4}]})
    assert tracks_a == tracks_m == [("A - Song", 4)]
    # One day: AIME groups by hour, Maloja lists newest first; the same instants agree.
    day_a = malojabench.aime_answer("scrobbles of 2024-03-09", {"hours": {
        "9": [{"played_at": "2024-03-09T09:00:00Z"}], "21": [{"played_at": "2024-03-09T21:30:00Z"}]}})
    day_m = malojabench.maloja_answer("scrobbles of 2024-03-09", {"list": [{"time": 1710019800}, {"time": 1709974800}]})
    assert day_a == day_m == [1709974800, 1710019800]
    assert malojabench.agree("scrobbles of 2024-03-09", day_a, day_m)["detail"] == "2 scrobbles, same times"
    assert malojabench.agree("scrobbles of 2024-03-09", day_a, day_m[:1])["detail"] == "AIME 2 scrobbles, Maloja 1"
    assert malojabench.agree("recent scrobbles (50)", [2, 1], [2, 0])["detail"] == \
        "AIME 2 scrobbles, Maloja 2, times differ"
    assert malojabench.aime_answer("play count, 2024", {"total": 373}) == 373
    assert malojabench.maloja_answer("play count, 2024", {"status": "ok", "amount": 373}) == 373
    assert malojabench.agree("one artist", malojabench.aime_answer("one artist", {"play_count": 787}),
                             malojabench.maloja_answer("one artist", {"scrobbles": 786})) == {
        "question": "one artist", "agree": False, "detail": "AIME 787, Maloja 786"}


def _run(rps, p50, p99):
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "requests": int(rps * 2), "non_2xx": 0, "errors": 0}


def test_maloja_ratio_table():
    measured = [{"question": "top artists, 2024", "aime": [_run(40.0, 20.0, 50.0), _run(60.0, 10.0, 30.0)],
                 "maloja": [_run(200.0, 4.0, 9.0), _run(200.0, 6.0, 12.0)]}]
    rows = malojabench.ratio_rows(measured)
    assert rows == [{"question": "top artists, 2024",
                     "aime": {"rps": 50.0, "rps_min": 40.0, "rps_max": 60.0, "p50_ms": 15.0, "p99_ms": 50.0,
                              "requests": 200, "non_2xx": 0, "errors": 0},
                     "maloja": {"rps": 200.0, "rps_min": 200.0, "rps_max": 200.0, "p50_ms": 5.0, "p99_ms": 12.0,
                                "requests": 800, "non_2xx": 0, "errors": 0},
                     "rps_ratio": 0.25, "p50_ratio": 3.0, "p99_ratio": 4.17}]
    result = {"version": "3.2.9", "rounds": 2, "duration_s": 2.0, "rows": rows,
              "agreement": [{"question": "top artists, 2024", "agree": True, "detail": "top 10 match (X 9 first)"}],
              "import": {"aime": {"seconds": 2.0, "rows_added": 10_000, "rows_per_s": 5000.0, "peak_rss_mb": 100.0},
                         "maloja": {"seconds": 50.0, "rows_added": 10_000, "rows_per_s": 200.0, "peak_rss_mb": 60.0}}}
    lines = malojabench.render(result)
    assert lines[0] == "### AIME against Maloja 3.2.9 (same plays, one connection, interleaved, 2 rounds x 2 s)"
    assert "| AIME | 2.00 | 10,000 | 5,000.0 | 100.0 |" in lines
    assert "| Maloja 3.2.9 | 50.00 | 10,000 | 200.0 | 60.0 |" in lines
    assert "AIME imports 25.0x faster." in lines
    assert not any(line.startswith("Maloja's database was kept") for line in lines)
    result["import"]["maloja"]["reused_from"] = "2026-12-01T04:31:00+00:00"
    assert ("Maloja's database was kept from its import of 2026-12-01T04:31:00+00:00 (not re-imported in this run; "
            "its row above is that import's).") in malojabench.render(result)
    assert ("| top artists, 2024 | 50.0 (40-60) | 200.0 | 0.25 | 15 / 50 | 5 / 12 | 3.0 | 4.17 | "
            "yes: top 10 match (X 9 first) |") in lines
