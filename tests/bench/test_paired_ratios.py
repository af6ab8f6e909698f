"""bench/run.py's ratios to /live (each endpoint between two /live windows, median over rounds), the targets judged
on that median, and two bench fixes: GNU time's empty RSS file, and a second run on one day keeping its own file."""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime, UTC
from pathlib import Path

import pytest

from bench import importbench, paired, run
from bench.report import evaluate, render


def _windows(order: list[str], numbers: dict[str, list[tuple[float, float]]]) -> list[dict]:
    """Windows in `order`, each name's (rps, server CPU ms per request) taken in turn from `numbers`."""
    taken = {name: iter(values) for name, values in numbers.items()}
    windows = []
    for name in order:
        rps, cpu = next(taken[name])
        windows.append({"name": name, "rps": float(rps), "server_cpu_ms_per_request": cpu, "p50_ms": rps / 100,
                        "p99_ms": rps / 10, "requests": int(rps), "non_2xx": 0, "errors": 0})
    return windows


def test_rounds_put_live_around_every_endpoint_and_alternate_direction():
    names = ["live", "health", "ready", "search"]
    assert paired.interleave(names, 0) == ["live", "health", "live", "ready", "live", "search", "live"]
    assert paired.interleave(names, 1) == ["live", "search", "live", "ready", "live", "health", "live"]
    assert paired.interleave(names, 2) == paired.interleave(names, 0)
    assert paired.interleave(["health", "live"], 0) == ["live", "health", "live"]  # wherever live was listed
    assert paired.interleave(["live"], 0) == ["live"]


def test_each_window_is_divided_by_the_mean_of_its_two_live_neighbours():
    order = paired.interleave(["live", "health", "search"], 0)
    windows = _windows(order, {"live": [(1000, 0.5), (900, 0.5), (700, 0.6)], "health": [(950, 0.55)],
                               "search": [(400, 1.25)]})
    got = paired.pair_round(windows)
    # health: 950 / ((1000 + 900) / 2) = 1.0; by CPU 0.5 / 0.55 = 0.909.
    assert {k: got["health"][k] for k in ("rps", "live_rps", "live_cpu_ms_per_request", "ratio_to_live",
                                          "cpu_ratio_to_live")} == {
        "rps": 950, "live_rps": 950.0, "live_cpu_ms_per_request": 0.5, "ratio_to_live": 1.0,
        "cpu_ratio_to_live": 0.909}
    # search: 400 / ((900 + 700) / 2) = 0.5; by CPU ((0.5 + 0.6) / 2) / 1.25 = 0.44.
    assert (got["search"]["live_rps"], got["search"]["ratio_to_live"], got["search"]["cpu_ratio_to_live"]) == (
        800.0, 0.5, 0.44)
    # /live's control: each /live window over the one before (900 / 1000, 700 / 900); by CPU the other way round.
    assert got["live"]["control_ratios"] == [0.9, 0.778]
    assert got["live"]["control_cpu_ratios"] == [1.0, 0.833]
    assert [w["rps"] for w in got["live"]["windows"]] == [1000, 900, 700]


def test_a_window_without_requests_gives_no_ratio():
    windows = _windows(["live", "health", "live"], {"live": [(0, None), (0, None)], "health": [(950, 0.5)]})
    got = paired.pair_round(windows)
    assert (got["health"]["ratio_to_live"], got["health"]["cpu_ratio_to_live"]) == (None, None)
    assert got["live"]["control_ratios"] == [None]
    assert paired.median([None, None]) is None and paired.median([None, 0.4, 0.9, 0.5]) == 0.5


def _three_rounds(names: list[str], numbers: list[dict[str, list[tuple[float, float]]]]) -> list[dict]:
    seen: dict[str, list[dict]] = {name: [] for name in names}
    for index, round_numbers in enumerate(numbers):
        for name, entry in paired.pair_round(_windows(paired.interleave(names, index), round_numbers)).items():
            seen[name].append({"round": index + 1, **entry})
    return [{"name": name, "path": f"/{name}", "status": 200, **paired.summarise(name, seen[name])}
            for name in names]


# Three rounds of /live, /health and search (hand-worked in the comments of the test below).
HEALTH_SEARCH = [
    {"live": [(1000, 0.5), (900, 0.5), (700, 0.6)], "health": [(950, 0.55)], "search": [(400, 1.25)]},
    {"live": [(800, 0.5), (1200, 0.5), (1000, 0.5)], "search": [(500, 1.0)], "health": [(990, 0.5)]},
    {"live": [(600, 0.7), (600, 0.7), (600, 0.7)], "health": [(660, 0.7)], "search": [(240, 1.4)]},
]


def test_the_row_is_the_median_over_rounds_with_its_spread_and_every_round_kept():
    live, health, search = _three_rounds(["live", "health", "search"], HEALTH_SEARCH)
    # health: 950 / 950 = 1.0, 990 / ((1200 + 1000) / 2) = 0.9, 660 / 600 = 1.1; by CPU 0.909, 1.0, 1.0.
    assert {k: health[k] for k in ("ratio_to_live", "ratio_min", "ratio_max", "cpu_ratio_to_live", "cpu_ratio_min",
                                   "cpu_ratio_max", "rps", "p50_ms", "p99_ms", "p99_max_ms",
                                   "server_cpu_ms_per_request", "requests", "non_2xx", "errors",
                                   "windows_count")} == {
        "ratio_to_live": 1.0, "ratio_min": 0.9, "ratio_max": 1.1, "cpu_ratio_to_live": 1.0, "cpu_ratio_min": 0.909,
        "cpu_ratio_max": 1.0, "rps": 950, "p50_ms": 9.5, "p99_ms": 95.0, "p99_max_ms": 99.0,
        "server_cpu_ms_per_request": 0.55, "requests": 950 + 990 + 660, "non_2xx": 0, "errors": 0,
        "windows_count": 3}
    assert [(r["round"], r["ratio_to_live"], r["live_rps"]) for r in health["rounds"]] == [
        (1, 1.0, 950.0), (2, 0.9, 1100.0), (3, 1.1, 600.0)]
    # search: 400 / 800 = 0.5, 500 / ((800 + 1200) / 2) = 0.5, 240 / 600 = 0.4; by CPU 0.44, 0.5, 0.5.
    assert (search["ratio_to_live"], search["ratio_min"], search["ratio_max"]) == (0.5, 0.4, 0.5)
    assert (search["cpu_ratio_to_live"], search["cpu_ratio_min"], search["cpu_ratio_max"]) == (0.5, 0.44, 0.5)
    # /live: 9 windows; control 0.9, 0.778 | 1.5, 0.833 | 1.0, 1.0 -> median (0.9 + 1.0) / 2.
    assert {k: live[k] for k in ("ratio_to_live", "cpu_ratio_to_live", "control_ratio", "control_min", "control_max",
                                 "control_cpu_ratio", "control_cpu_min", "control_cpu_max", "rps",
                                 "windows_count", "requests")} == {
        "ratio_to_live": 1.0, "cpu_ratio_to_live": 1.0, "control_ratio": 0.95, "control_min": 0.778,
        "control_max": 1.5, "control_cpu_ratio": 1.0, "control_cpu_min": 0.833, "control_cpu_max": 1.0, "rps": 800,
        "windows_count": 9, "requests": 1000 + 900 + 700 + 800 + 1200 + 1000 + 600 * 3}


# /ready misses 0.9 in one round of three, album list meets 0.5 in one round of three: the median decides.
READY_ALBUMS = [
    {"live": [(1000, 0.5), (1000, 0.5), (1000, 0.5)], "ready": [(850, 0.5)], "album list": [(600, 1.0)]},
    {"live": [(2000, 0.4), (2000, 0.4), (2000, 0.4)], "album list": [(900, 0.8)], "ready": [(1900, 0.4)]},
    {"live": [(500, 0.8), (500, 0.8), (500, 0.8)], "ready": [(460, 0.8)], "album list": [(240, 1.6)]},
]


def _report(endpoints: list[dict]) -> dict:
    return {"rows": 1_000_000, "started_at": "2026-12-02T00:00:00+00:00", "revision": "abc1234",
            "machine": {"cpu": "Xeon", "cores": 2, "memory_mb": 4096, "os": "Linux", "python": "3.12",
                        "sqlite": "3.45", "wrk": True},
            "settings": {"loadgen": "wrk", "connections": 8, "duration_s": 1.0, "rounds": 3},
            "http_sqlite": {"endpoints": endpoints}}


def test_targets_are_judged_on_the_median_ratio_and_show_the_spread():
    report = _report(_three_rounds(["live", "ready", "album list"], READY_ALBUMS))
    assert [(c["name"], c["measured"], c["target"], c["met"], c.get("detail")) for c in evaluate(report)] == [
        ("sqlite ready rps / live", 0.92, ">= 0.9", True, "median of 3 rounds 0.85-0.95; by CPU 1.00"),
        ("sqlite album list rps / live", 0.48, ">= 0.5", False, "median of 3 rounds 0.45-0.60; by CPU 0.50"),
    ]
    report["targets"] = evaluate(report)
    table = render(report).splitlines()
    assert ("Machine: Xeon, 2 cores, 4,096 MB RAM; Linux; Python 3.12, SQLite 3.45. Load: wrk (wrk), 8 connections, "
            "3 rounds of 1 s windows, each endpoint between two /live windows; gunicorn 2 workers x 4 threads. "
            "Whole run: None s.") in table
    assert "| live | 1,000.0 | 10.00 | 100.00 | 1.00 | control 1.00 (1.00-1.00) | control 1.00 (1.00-1.00) | 0 " \
           "| - | - | 0.50 |" in table
    assert "| ready | 850.0 | 8.50 | 85.00 | 0.92 | 0.85-0.95 | 1.00 (1.00-1.00) | 0 | - | - | 0.50 |" in table
    assert "| album list | 600.0 | 6.00 | 60.00 | 0.48 | 0.45-0.60 | 0.50 (0.50-0.50) | 0 | - | - | 1.00 |" in table
    assert "| sqlite ready rps / live | 0.92 (median of 3 rounds 0.85-0.95; by CPU 1.00) | >= 0.9 | yes |" in table
    assert ("| sqlite album list rps / live | 0.48 (median of 3 rounds 0.45-0.60; by CPU 0.50) | >= 0.5 | **no** |"
            in table)


def test_p99_targets_use_the_median_window_and_name_the_worst():
    rows = _three_rounds(["live", "search"], [{"live": [(1000, 0.5), (1000, 0.5)], "search": [(150, 2.0)]},
                                              {"live": [(1000, 0.5), (1000, 0.5)], "search": [(250, 2.0)]},
                                              {"live": [(1000, 0.5), (1000, 0.5)], "search": [(190, 2.0)]}])
    checks = {c["name"]: c for c in evaluate(_report(rows))}
    # p99 of the windows (rps / 10 here): 15, 25, 19 ms -> median 19 <= 20.
    assert (checks["sqlite search p99"]["measured"], checks["sqlite search p99"]["met"],
            checks["sqlite search p99"]["detail"]) == (19.0, True, "median of 3 rounds, max 25 ms")
    assert checks["sqlite search rps / live"]["measured"] == 0.19


def _fake_gnu_time(tmp_path: Path, writes: str) -> Path:
    """A stand-in for /usr/bin/time -f %M -o FILE CMD...: opens FILE (as GNU time does), writes `writes`, runs CMD."""
    script = tmp_path / "fake-time"
    script.write_text(f"#!/bin/sh\nprintf '{writes}' > \"$4\"\nshift 4\nexec \"$@\"\n")
    script.chmod(0o755)
    return script


def _recording_wait4(monkeypatch) -> list:
    seen = []
    real = os.wait4

    def wait4(pid, options):
        result = real(pid, options)
        if result[0]:
            seen.append(result[2])
        return result

    monkeypatch.setattr(importbench.os, "wait4", wait4)
    return seen


def test_run_child_falls_back_to_wait4_when_gnu_times_file_is_empty(tmp_path, monkeypatch):
    monkeypatch.setattr(importbench, "TIME", str(_fake_gnu_time(tmp_path, "")))
    usages = _recording_wait4(monkeypatch)
    result = importbench.run_child([sys.executable, "-c", "pass"], dict(os.environ), tmp_path / "child.log", 60)
    assert result["exit_code"] == 0 and len(usages) == 1
    assert result["peak_rss_mb"] == round(usages[0].ru_maxrss / 1024, 1) > 0
    assert not (tmp_path / "child.log.maxrss").exists()


def test_run_child_reads_gnu_times_peak_rss(tmp_path, monkeypatch):
    monkeypatch.setattr(importbench, "TIME", str(_fake_gnu_time(tmp_path, "Command exited with non-zero status 3\\n"
                                                                          "12345\\n")))
    result = importbench.run_child([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ),
                                   tmp_path / "child.log", 60)
    assert (result["exit_code"], result["peak_rss_mb"]) == (3, 12.1)  # 12,345 KB
    assert not (tmp_path / "child.log.maxrss").exists()


def test_results_files_of_one_day_are_numbered_not_overwritten(tmp_path):
    names = [run.results_path(tmp_path, 100_000, True, "2026-12-02").name for _ in range(3)]
    assert names == ["2026-12-02-100000-quick.json", "2026-12-02-100000-quick-2.json",
                     "2026-12-02-100000-quick-3.json"]
    assert run.results_path(tmp_path, 1_000_000, False, "2026-12-02").name == "2026-12-02.json"
    assert run.results_path(tmp_path, 1_000_000, False, "2026-12-02").name == "2026-12-02-2.json"
    assert run.results_path(tmp_path, 1_000_000, True, "2026-12-02").name == "2026-12-02-1000000-quick.json"


def test_two_runs_on_one_day_keep_two_files(tmp_path, monkeypatch):
    imported = {"expected_rows": 10, "artists": 1, "albums": 1, "tracks": 1,
                "first": {"seconds": 1.0, "rows_added": 10, "rows_per_s": 10, "peak_rss_mb": 50.0,
                          "ratio_to_floor": 2.0},
                "reimport": {"seconds": 0.5, "rows_added": 0, "rows_per_s": 0, "peak_rss_mb": 40.0},
                "floor": {"seconds": 0.5, "rows_added": 10, "rows_per_s": 20, "peak_rss_mb": 30.0}}
    runs = iter(["first", "second"])
    monkeypatch.setattr(run, "ensure_dataset", lambda rows, seed, data_dir: {"listens": 10, "files": {"csv": "x"}})
    monkeypatch.setattr(run, "import_phase", lambda *a: ({**imported, "run": next(runs)}, "sqlite:///x"))
    monkeypatch.setattr(run, "load_collection", lambda *a: {"owned": 0})
    monkeypatch.setattr(run, "http_phase", lambda *a: {"endpoints": []})
    argv = ["--rows", "10", "--quick", "--skip-postgres", "--skip-blocked", "--data-dir", str(tmp_path),
            "--results-dir", str(tmp_path / "results"), "--work-dir", str(tmp_path / "work")]
    day = datetime.now(UTC).date().isoformat()
    first, second = run.main(argv), run.main(argv)
    if datetime.now(UTC).date().isoformat() != day:
        pytest.skip("the two runs straddled midnight UTC")
    assert (Path(first["written_to"]).name, Path(second["written_to"]).name) == (
        f"{day}-10-quick.json", f"{day}-10-quick-2.json")
    kept = sorted((tmp_path / "results").iterdir())
    assert [json.loads(path.read_text())["import"]["run"] for path in kept] == ["second", "first"]
