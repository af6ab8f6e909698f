"""The benchmark report: targets of issue 7 checked against a run, and the printed (Markdown) table."""
from __future__ import annotations

RATIO_TARGETS = {"health": 0.8, "ready": 0.8, "album detail": 0.5, "journal p1": 0.5, "journal p500": 0.5}
P99_TARGETS_MS = {"timeline day": 100, "stats year": 100, "search": 100, "top artists all-time": 150}


def _target(name: str, measured, limit, ok: bool | None, unit: str = "") -> dict:
    return {"name": name, "measured": measured, "target": limit, "unit": unit, "met": ok}


def _endpoint_targets(prefix: str, endpoints: list[dict]) -> list[dict]:
    checks = []
    for row in endpoints:
        name = row["name"]
        if name in RATIO_TARGETS:
            ratio = row.get("ratio_to_live")
            checks.append(_target(f"{prefix} {name} rps / live", ratio, f">= {RATIO_TARGETS[name]}",
                                  None if ratio is None else ratio >= RATIO_TARGETS[name]))
        if name in P99_TARGETS_MS:
            p99 = row.get("p99_ms")
            checks.append(_target(f"{prefix} {name} p99", p99, f"<= {P99_TARGETS_MS[name]}",
                                  None if p99 is None else p99 <= P99_TARGETS_MS[name], "ms"))
        if row.get("non_2xx") or row.get("errors") or row.get("missing"):
            checks.append(_target(f"{prefix} {name} answers 2xx",
                                  f"status {row.get('status')}, non-2xx {row.get('non_2xx')}, "
                                  f"errors {row.get('errors')}",
                                  "all 2xx", False))
    return checks


def evaluate(report: dict) -> list[dict]:
    """Every target of the issue with the measured value and whether it is met (None: not measured)."""
    checks = []
    imp = report.get("import")
    if imp:
        scale = report["rows"] / 1_000_000  # targets are for 1,000,000 rows; smaller runs scale them
        first, again = imp["first"], imp["reimport"]
        checks += [
            _target("import rows added = dataset rows", first["rows_added"], imp["expected_rows"],
                    first["rows_added"] == imp["expected_rows"]),
            _target("import wall time", first["seconds"], f"<= {30 * scale:g}", first["seconds"] <= 30 * scale, "s"),
            _target("import rows/s", first["rows_per_s"], ">= 33000", first["rows_per_s"] >= 33_000),
            _target("import peak RSS", first["peak_rss_mb"], "<= 300", first["peak_rss_mb"] <= 300, "MB"),
            _target("import / plain-sqlite3 floor", first["ratio_to_floor"], "<= 6",
                    first["ratio_to_floor"] is not None and first["ratio_to_floor"] <= 6),
            _target("re-import wall time", again["seconds"], f"<= {20 * scale:g}", again["seconds"] <= 20 * scale, "s"),
            _target("re-import rows added", again["rows_added"], "0", again["rows_added"] == 0),
        ]
    if report.get("http_sqlite"):
        checks += _endpoint_targets("sqlite", report["http_sqlite"]["endpoints"])
    for row in report.get("blocked", []) + report.get("http_postgres", {}).get("blocked", []):
        checks.append(_target(f"/health p99, {row['name']}", row.get("p99_ms"), "<= 1000",
                              row.get("p99_ms") is not None and row["p99_ms"] <= 1000, "ms"))
    if report.get("http_postgres"):
        pg = report["http_postgres"]
        checks.append(_target("postgres import rows added", pg["import"]["rows_added"], pg["expected_rows"],
                              pg["import"]["rows_added"] == pg["expected_rows"]))
        checks += _endpoint_targets("postgres", pg["endpoints"])
    return checks


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _endpoint_table(title: str, endpoints: list[dict]) -> list[str]:
    lines = [f"### {title}", "", "| endpoint | req/s | p50 ms | p99 ms | ratio to /live | non-2xx | "
             "p50 ms, 1 conn | p99 ms, 1 conn | server CPU ms/req |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in endpoints:
        if row.get("missing"):
            lines.append(f"| {row['name']} (`{row['path']}`) | missing (404) | | | | | | | |")
            continue
        lines.append(f"| {row['name']} | {_fmt(row.get('rps'))} | {_fmt(row.get('p50_ms'), 2)} | "
                     f"{_fmt(row.get('p99_ms'), 2)} | {_fmt(row.get('ratio_to_live'), 2)} | "
                     f"{_fmt(row.get('non_2xx'))} | {_fmt(row.get('p50_1c_ms'), 2)} | "
                     f"{_fmt(row.get('p99_1c_ms'), 2)} | "
                     f"{_fmt(row.get('server_cpu_ms_per_request'), 2)} |")
    return lines + [""]


def render(report: dict) -> str:
    """The report as Markdown tables (printed by bench/run.py, pasted into docs/benchmarks.md)."""
    m = report["machine"]
    lines = [f"## AIME benchmark, {report['rows']:,} listens ({report['started_at']}, "
             f"revision {report.get('revision', 'unknown')})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {_fmt(m['memory_mb'])} MB RAM; {m['os']}; Python "
             f"{m['python']}, SQLite {m['sqlite']}. Load: {report['settings']['loadgen']} "
             f"({'wrk' if m['wrk'] and report['settings']['loadgen'] != 'python' else 'Python generator'}), "
             f"{report['settings']['connections']} connections, {report['settings']['duration_s']:g} s per endpoint; "
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
    if report.get("http_sqlite"):
        lines += _endpoint_table("HTTP, SQLite", report["http_sqlite"]["endpoints"])
    blocked = report.get("blocked", []) + report.get("http_postgres", {}).get("blocked", [])
    if blocked:
        lines += ["### /health while the database is blocked", "",
                  "| situation | req/s | p50 ms | p99 ms | statuses |", "|---|---:|---:|---:|---|"]
        for row in blocked:
            lines.append(f"| {row['name']} | {_fmt(row.get('rps'))} | {_fmt(row.get('p50_ms'), 2)} | "
                         f"{_fmt(row.get('p99_ms'), 2)} | {', '.join(map(str, row.get('statuses', [])))} |")
        lines.append("")
    if report.get("http_postgres"):
        pg = report["http_postgres"]
        lines += [f"PostgreSQL {pg['server_version']}: import {_fmt(pg['import']['seconds'], 2)} s, "
                  f"{_fmt(pg['import']['rows_added'])} rows, {_fmt(pg['import']['rows_per_s'])} rows/s, "
                  f"peak RSS {_fmt(pg['import']['peak_rss_mb'])} MB.", ""]
        lines += _endpoint_table("HTTP, PostgreSQL", pg["endpoints"])
    if report.get("maloja"):
        from bench.malojabench import render as render_maloja

        lines += render_maloja(report["maloja"])
    lines += ["### Targets", "", "| target | measured | goal | met |", "|---|---:|---:|---|"]
    for check in report.get("targets", []):
        met = {True: "yes", False: "**no**", None: "-"}[check["met"]]
        lines.append(f"| {check['name']} | {_fmt(check['measured'], 2)} {check['unit']} | {check['target']} | {met} |")
    return "\n".join(lines)
