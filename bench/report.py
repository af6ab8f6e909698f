"""The benchmark report: the targets of issue 18 checked against a run, and the printed (Markdown) table."""
from __future__ import annotations

# Issue 18, item 2: requests/s as a share of /live's in the same run: the median over rounds of each window's
# ratio to the two /live windows around it (bench/paired.py).
RATIO_TARGETS = {"health": 0.9, "ready": 0.9, "album list": 0.5, "album detail": 0.5, "journal p1": 0.5,
                 "journal p500": 0.5, "search": 0.5}
# Issue 18, items 1 and 3: p99 in ms at the run's connections (8), and with one connection.
P99_TARGETS_MS = {"stats year": 50, "top artists all-time": 30, "timeline day": 30, "search": 20}
P99_1C_TARGETS_MS = {"stats year": 15}
# Issue 18, item 4 (for 1,000,000 rows; wall times scale with a smaller run).
SQLITE_IMPORT_ROWS_PER_S, SQLITE_FLOOR_RATIO, IMPORT_PEAK_RSS_MB, REIMPORT_S = 60_000, 3, 300, 5
POSTGRES_IMPORT_ROWS_PER_S = 40_000
# "Album detail on PostgreSQL within 2x of SQLite", compared by requests/s at 8 connections: both servers are
# loaded alike in one run, and at 8 connections on 2 cores the p50 is mostly queueing (~ 8 / req/s) anyway.
ALBUM_DETAIL_POSTGRES_SHARE = 0.5


def _target(name: str, measured, limit, ok: bool | None, unit: str = "", detail: str | None = None) -> dict:
    check = {"name": name, "measured": measured, "target": limit, "unit": unit, "met": ok}
    return {**check, "detail": detail} if detail else check


def _at_most(name: str, value, limit, unit: str = "", detail: str | None = None) -> dict:
    return _target(name, value, f"<= {limit:g}", None if value is None else value <= limit, unit, detail)


def _at_least(name: str, value, limit, unit: str = "", detail: str | None = None) -> dict:
    return _target(name, value, f">= {limit:g}", None if value is None else value >= limit, unit, detail)


def _range(low, high, digits: int = 2) -> str | None:
    return None if low is None or high is None else f"{low:.{digits}f}-{high:.{digits}f}"


def _ratio_detail(row: dict) -> str | None:
    """The spread behind a median ratio, and the same ratio by server CPU (a run without rounds: None)."""
    spread = _range(row.get("ratio_min"), row.get("ratio_max"))
    if spread is None:
        return None
    by_cpu = row.get("cpu_ratio_to_live")
    return (f"median of {row.get('windows_count')} rounds {spread}"
            + ("" if by_cpu is None else f"; by CPU {by_cpu:.2f}"))


def _p99_detail(row: dict) -> str | None:
    rounds = row.get("rounds") or []
    p99s = [r.get("p99_ms") for r in rounds if r.get("p99_ms") is not None]
    return f"median of {len(p99s)} rounds, max {max(p99s):g} ms" if len(p99s) > 1 else None


def _endpoint_targets(prefix: str, endpoints: list[dict]) -> list[dict]:
    checks = []
    for row in endpoints:
        name = row["name"]
        if name in RATIO_TARGETS:
            checks.append(_at_least(f"{prefix} {name} rps / live", row.get("ratio_to_live"), RATIO_TARGETS[name],
                                    detail=_ratio_detail(row)))
        if name in P99_TARGETS_MS:
            checks.append(_at_most(f"{prefix} {name} p99", row.get("p99_ms"), P99_TARGETS_MS[name], "ms",
                                   detail=_p99_detail(row)))
        if name in P99_1C_TARGETS_MS:
            checks.append(_at_most(f"{prefix} {name} p99, 1 connection", row.get("p99_1c_ms"),
                                   P99_1C_TARGETS_MS[name], "ms"))
        if row.get("non_2xx") or row.get("errors") or row.get("missing"):
            checks.append(_target(f"{prefix} {name} answers 2xx",
                                  f"status {row.get('status')}, non-2xx {row.get('non_2xx')}, "
                                  f"errors {row.get('errors')}",
                                  "all 2xx", False))
    return checks


def _rps(endpoints: list[dict], name: str) -> float | None:
    return next((row.get("rps") for row in endpoints if row["name"] == name), None)


def evaluate(report: dict) -> list[dict]:
    """Every target of issue 18 the run measures, with the measured value and whether it is met (None: not
    measured)."""
    checks = []
    imp = report.get("import")
    if imp:
        scale = report["rows"] / 1_000_000  # wall-time targets are for 1,000,000 rows; smaller runs scale them
        first, again = imp["first"], imp["reimport"]
        checks += [
            _target("import rows added = dataset rows", first["rows_added"], imp["expected_rows"],
                    first["rows_added"] == imp["expected_rows"]),
            _at_least("import rows/s", first["rows_per_s"], SQLITE_IMPORT_ROWS_PER_S),
            _at_most("import peak RSS", first["peak_rss_mb"], IMPORT_PEAK_RSS_MB, "MB"),
            _at_most("import / plain-sqlite3 floor", first["ratio_to_floor"], SQLITE_FLOOR_RATIO),
            # The same 3x against a floor that writes what AIME writes (its schema and the rollups #18.1 asks for),
            # by CPU seconds: see bench/floor_same_work.py. Reported beside the plain floor's ratio, not instead.
            _at_most("import CPU / sqlite3 floor of the same work", first.get("ratio_to_same_work_floor"),
                     SQLITE_FLOOR_RATIO),
            _at_most("re-import wall time", again["seconds"], REIMPORT_S * scale, "s"),
            _target("re-import rows added", again["rows_added"], "0", again["rows_added"] == 0),
        ]
    if report.get("http_sqlite"):
        checks += _endpoint_targets("sqlite", report["http_sqlite"]["endpoints"])
    for row in report.get("blocked", []) + report.get("http_postgres", {}).get("blocked", []):
        checks.append(_at_most(f"/health p99, {row['name']}", row.get("p99_ms"), 1000, "ms"))
    if report.get("http_postgres"):
        pg = report["http_postgres"]
        checks += [_target("postgres import rows added", pg["import"]["rows_added"], pg["expected_rows"],
                           pg["import"]["rows_added"] == pg["expected_rows"]),
                   _at_least("postgres import rows/s", pg["import"].get("rows_per_s"), POSTGRES_IMPORT_ROWS_PER_S),
                   # #18.4 sets no floor ratio for PostgreSQL: SQLite's 3x, by client + server CPU, beside the rate.
                   _at_most("postgres import CPU / floor of the same work",
                            pg["import"].get("ratio_to_same_work_floor"), SQLITE_FLOOR_RATIO,
                            detail="client + server; the 3x is SQLite's")]
        checks += _endpoint_targets("postgres", pg["endpoints"])
        if report.get("http_sqlite"):
            sqlite_rps = _rps(report["http_sqlite"]["endpoints"], "album detail")
            pg_rps = _rps(pg["endpoints"], "album detail")
            share = round(pg_rps / sqlite_rps, 3) if pg_rps is not None and sqlite_rps else None
            checks.append(_at_least("album detail rps, postgres / sqlite", share, ALBUM_DETAIL_POSTGRES_SHARE))
    return checks


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _spread_cell(row: dict) -> str:
    """Min-max of the per-round ratios; for /live, the control: each /live window over the one before it."""
    if row.get("name") == "live" and row.get("control_ratio") is not None:
        return f"control {row['control_ratio']:.2f} ({_range(row['control_min'], row['control_max'])})"
    return _range(row.get("ratio_min"), row.get("ratio_max")) or ""


def _cpu_cell(row: dict) -> str:
    if row.get("name") == "live" and row.get("control_cpu_ratio") is not None:
        return f"control {row['control_cpu_ratio']:.2f} ({_range(row['control_cpu_min'], row['control_cpu_max'])})"
    cell = _fmt(row.get("cpu_ratio_to_live"), 2)
    spread = _range(row.get("cpu_ratio_min"), row.get("cpu_ratio_max"))
    return f"{cell} ({spread})" if spread and cell != "-" else cell


def _endpoint_table(title: str, endpoints: list[dict]) -> list[str]:
    lines = [f"### {title}", "", "| endpoint | req/s | p50 ms | p99 ms | ratio to /live | ratio, rounds min-max | "
             "ratio by server CPU (min-max) | non-2xx | p50 ms, 1 conn | p99 ms, 1 conn | server CPU ms/req |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in endpoints:
        if row.get("missing"):
            lines.append(f"| {row['name']} (`{row['path']}`) | missing (404) | | | | | | | | | |")
            continue
        lines.append(f"| {row['name']} | {_fmt(row.get('rps'))} | {_fmt(row.get('p50_ms'), 2)} | "
                     f"{_fmt(row.get('p99_ms'), 2)} | {_fmt(row.get('ratio_to_live'), 2)} | {_spread_cell(row)} | "
                     f"{_cpu_cell(row)} | {_fmt(row.get('non_2xx'))} | {_fmt(row.get('p50_1c_ms'), 2)} | "
                     f"{_fmt(row.get('p99_1c_ms'), 2)} | "
                     f"{_fmt(row.get('server_cpu_ms_per_request'), 2)} |")
    return lines + [_ENDPOINT_NOTE, ""]


_ENDPOINT_NOTE = ("\nEach endpoint's windows lie between two /live windows; its ratio to /live in a round is its "
                  "req/s over the mean of those two, the table gives the median over rounds (req/s, p50, p99 and "
                  "CPU per request: medians of the windows). By server CPU: /live's CPU per request over the "
                  "endpoint's, paired the same way (same direction as the req/s ratio). /live's control: each /live "
                  "window against the one before it, i.e. what one window's noise alone does to a ratio.")


def _windows(settings: dict) -> str:
    if not settings.get("rounds"):  # a run from before the rounds
        return f"{settings['duration_s']:g} s per endpoint"
    return (f"{settings['rounds']} rounds of {settings['duration_s']:g} s windows, each endpoint between two /live "
            "windows")


def _pg_floor_lines(imp: dict, floor: dict) -> list[str]:
    """The PostgreSQL import beside its two floors, by client and server CPU (bench/pg_floor.py)."""
    plain = floor["plain_floor"]
    steps = [(label, floor[key]) for label, key in (("catalogue and listens", "catalogue_and_listens"),
                                                     ("rollups", "rollups"), ("VACUUM (ANALYZE), ANALYZE", "analyze"))]
    lines = ["| PostgreSQL import and its floors | client CPU s | server CPU s | client + server | wall s |",
             "|---|---:|---:|---:|---:|",
             f"| import (`flask --app aime import`) | {_fmt(imp['cpu_seconds'], 2)} | "
             f"{_fmt(imp.get('server_cpu_seconds'), 2)} | {_fmt(imp.get('client_and_server_cpu_seconds'), 2)} | "
             f"{_fmt(imp['seconds'], 2)} |",
             f"| plain floor (COPY into a lean schema) | {_fmt(plain['client_cpu_s'], 2)} | "
             f"{_fmt(plain['server_cpu_s'], 2)} | {_fmt(plain['cpu_s'], 2)} | {_fmt(plain['seconds'], 2)} |",
             f"| floor of the same work (parse {_fmt(plain['parse_cpu_s'], 2)} s + COPY of the import's rows + "
             f"ANALYZE) | {_fmt(floor['same_work_client_cpu_s'], 2)} | {_fmt(floor['same_work_server_cpu_s'], 2)} | "
             f"{_fmt(floor['same_work_cpu_s'], 2)} | |"]
    lines += [f"| &nbsp;&nbsp;of which {label} | {_fmt(step['client_cpu_s'], 2)} | {_fmt(step['server_cpu_s'], 2)} | "
              f"{_fmt(step['client_cpu_s'] + step['server_cpu_s'], 2)} | {_fmt(step['wall_s'], 2)} |"
              for label, step in steps]
    return lines + ["", f"The import's client + server CPU is {_fmt(imp.get('ratio_to_same_work_floor'), 2)}x the "
                    "floor of the same work.", ""]


def render(report: dict) -> str:
    """The report as Markdown tables (printed by bench/run.py, pasted into docs/benchmarks.md)."""
    m = report["machine"]
    lines = [f"## AIME benchmark, {report['rows']:,} listens ({report['started_at']}, "
             f"revision {report.get('revision', 'unknown')})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {_fmt(m['memory_mb'])} MB RAM; {m['os']}; Python "
             f"{m['python']}, SQLite {m['sqlite']}. Load: {report['settings']['loadgen']} "
             f"({'wrk' if m['wrk'] and report['settings']['loadgen'] != 'python' else 'Python generator'}), "
             f"{report['settings']['connections']} connections, {_windows(report['settings'])}; "
             f"gunicorn 2 workers x 4 threads. Whole run: {report.get('total_seconds')} s.",
             "", "Load average (1, 5, 15 min) at the start and after each phase: "
             + "; ".join(f"{k} {v[0]:g}/{v[1]:g}/{v[2]:g}" for k, v in report.get("load_average", {}).items()), ""]
    imp = report.get("import")
    if imp:
        lines += ["### Import (Last.fm CSV, empty SQLite database)", "",
                  "| step | wall s | rows added | rows/s | peak RSS MB | ratio to floor |",
                  "|---|---:|---:|---:|---:|---:|"]
        for label, row in (("import", imp["first"]), ("re-import (all duplicates)", imp["reimport"]),
                           ("floor: plain sqlite3 executemany", imp["floor"])):
            lines.append(f"| {label} | {_fmt(row['seconds'], 2)} | {_fmt(row['rows_added'])} | "
                         f"{_fmt(row['rows_per_s'])} | {_fmt(row['peak_rss_mb'])} | "
                         f"{_fmt(row.get('ratio_to_floor'), 2) if label == 'import' else ''} |")
        lines += ["", f"Imported catalogue: {imp['artists']:,} artists, {imp['albums']:,} albums, "
                  f"{imp['tracks']:,} tracks.", ""]
        same = imp.get("same_work_floor")
        if same:
            rollup_rows = sum(same["rollups"]["rows"].values())
            lines += [f"Floor of the same work (bench/floor_same_work.py: the import's own {rollup_rows:,} rollup rows "
                      f"and its catalogue and listens, inserted into AIME's schema in one transaction): "
                      f"{same['same_work_cpu_s']:g} s CPU (plain floor's parse + catalogue and listens "
                      f"{same['catalogue_and_listens']['cpu_s']:g} s + rollups {same['rollups']['cpu_s']:g} s); "
                      f"the import's {imp['first']['cpu_seconds']:g} s CPU is "
                      f"{_fmt(imp['first'].get('ratio_to_same_work_floor'), 2)}x that.", ""]
    if report.get("http_sqlite"):
        lines += _endpoint_table("HTTP, SQLite", report["http_sqlite"]["endpoints"])
    blocked = report.get("blocked", []) + report.get("http_postgres", {}).get("blocked", [])
    if blocked:
        lines += ["### /health while the database is blocked", "",
                  "| situation | req/s | p50 ms | p99 ms | statuses |", "|---|---:|---:|---:|---|"]
        for row in blocked:
            statuses = ", ".join(map(str, row.get("statuses", [])))
            if "seconds_to_status" in row:  # how long the last good result stood after the outage began
                statuses += f" (503 after {_fmt(row['seconds_to_status'], 2)} s)"
            lines.append(f"| {row['name']} | {_fmt(row.get('rps'))} | {_fmt(row.get('p50_ms'), 2)} | "
                         f"{_fmt(row.get('p99_ms'), 2)} | {statuses} |")
        lines.append("")
    if report.get("http_postgres"):
        pg = report["http_postgres"]
        lines += [f"PostgreSQL {pg['server_version']}: import {_fmt(pg['import']['seconds'], 2)} s, "
                  f"{_fmt(pg['import']['rows_added'])} rows, {_fmt(pg['import']['rows_per_s'])} rows/s, "
                  f"peak RSS {_fmt(pg['import']['peak_rss_mb'])} MB.", ""]
        if pg.get("same_work_floor"):
            lines += _pg_floor_lines(pg["import"], pg["same_work_floor"])
        lines += _endpoint_table("HTTP, PostgreSQL", pg["endpoints"])
    if report.get("maloja"):
        from bench.malojabench import render as render_maloja

        lines += render_maloja(report["maloja"])
    lines += ["### Targets", "", "| target | measured | goal | met |", "|---|---:|---:|---|"]
    for check in report.get("targets", []):
        met = {True: "yes", False: "**no**", None: "-"}[check["met"]]
        measured = " ".join(filter(None, (_fmt(check["measured"], 2), check["unit"],
                                          f"({check['detail']})" if check.get("detail") else "")))
        lines.append(f"| {check['name']} | {measured} | {check['target']} | {met} |")
    return "\n".join(lines)
