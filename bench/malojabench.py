"""AIME against Maloja (the self-hosted scrobble server), side by side on the same plays and machine.

Maloja is installed into its own virtualenv (bench/.maloja-venv), fed the same Last.fm CSV as AIME
through its own `maloja import`, and run with every third-party lookup off, bound to 127.0.0.1.
The same questions go to both over HTTP, one connection, interleaved (AIME then Maloja, question by
question, for several rounds); their answers are compared for agreement and their throughput put
side by side as AIME/Maloja ratios. The pure parts (rules file, questions, agreement, table) are
tested by tests/bench/test_bench_smoke.py without Maloja.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from collections.abc import Iterable, Iterator
from urllib.parse import quote

import requests

from bench import importbench, loadgen

MALOJA_VERSION = "3.2.9"
DEFAULT_VENV = Path(__file__).resolve().parent / ".maloja-venv"
MLJ = "/apis/mlj_1"
# Written into Maloja's data directory after a complete import: which CSV, which Maloja, how long it took.
IMPORTED = "aime-bench-import.json"
# Maloja splits an artist string on these (its default DELIMITERS_INFORMAL/FORMAL/FEAT settings).
_SPLIT = re.compile(r"\s(vs\.?|&|ft\.?|feat\.?|featuring)\s|[;/|\u241d\u241e\u241f]", re.IGNORECASE)


def install(venv: Path = DEFAULT_VENV, version: str = MALOJA_VERSION) -> Path:
    """malojaserver==version in its own virtualenv (kept between runs); returns its `maloja` script.

    Maloja 3.2.9 declares Python ==3.12.*; this machine's Python is 3.11, on which it compiles and
    runs, so pip is told to ignore that declaration.
    """
    script = venv / "bin" / "maloja"
    marker = venv / ".malojaserver-version"
    if script.exists() and marker.exists() and marker.read_text().strip() == version:
        return script
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--ignore-requires-python",
                    f"malojaserver=={version}"], check=True)
    marker.write_text(version + "\n")
    return script


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def maloja_env(data_dir: Path, port: int) -> dict[str, str]:
    """Maloja's settings for the benchmark: own data directory, 127.0.0.1 only, no third parties, no prompts."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("MALOJA_")}
    return {**keep, "MALOJA_DATA_DIRECTORY": str(data_dir), "MALOJA_SKIP_SETUP": "yes",
            "MALOJA_HOST": "127.0.0.1", "MALOJA_PORT": str(port),
            "MALOJA_METADATA_PROVIDERS": "",  # no Last.fm/Spotify/Deezer/AudioDB/MusicBrainz lookups
            "MALOJA_SCROBBLE_LASTFM": "no", "MALOJA_SEND_STATS": "no", "MALOJA_PROXY_IMAGES": "no",
            "MALOJA_TIMEZONE": "0", "MALOJA_FORCE_PASSWORD": "bench-password",
            "HOME": str(data_dir), "PYTHONUTF8": "1"}


def csv_artists(csv_path: Path) -> list[str]:
    """The distinct artist names of a Last.fm CSV, in first-seen order."""
    seen: dict[str, None] = {}
    with open(csv_path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            seen.setdefault(row["artist"], None)
    return list(seen)


def belongtogether_rules(artists: Iterable[str]) -> str:
    """A Maloja rules TSV keeping whole every artist name Maloja would split ("X, Jr. & Band").

    Without it Maloja credits "The Owls, Jr. & Band" to two artists, "The Owls, Jr." and "Band",
    and the two servers would answer different questions; this is the rule a Maloja user writes.
    """
    return "".join(f"belongtogether\t{name}\n" for name in artists if _SPLIT.search(name))


def prepare(csv_path: Path, data_dir: Path) -> Path:
    """Maloja's data directory with the rules file; returns the file to import (the CSV itself)."""
    rules = data_dir / "rules"
    rules.mkdir(parents=True, exist_ok=True)
    (rules / "aime_bench.tsv").write_text(belongtogether_rules(csv_artists(csv_path)), encoding="utf-8")
    # Maloja recognises the Last.fm (ghan) CSV by its name: recenttracks-*.csv, as the dataset is named.
    if not re.match(r"recenttracks-.*\.csv", csv_path.name):
        raise ValueError(f"{csv_path.name}: Maloja reads a Last.fm CSV only when named recenttracks-*.csv")
    return csv_path


def import_plays(script: Path, csv_path: Path, data_dir: Path, log: Path, timeout: float) -> dict:
    """`maloja import` of the CSV, timed (wall s, peak RSS); scrobbles imported read from its output."""
    env = maloja_env(data_dir, free_port())
    result = importbench.run_child([str(script), "import", str(prepare(csv_path, data_dir))], env, log, timeout)
    found = re.findall(r"Successfully imported (\d+) scrobbles", log.read_text(encoding="utf-8", errors="replace"))
    result["rows_added"] = int(found[-1]) if found else None
    result["rows_per_s"] = round(result["rows_added"] / result["seconds"], 1) if found and result["seconds"] else None
    return result


def csv_digest(csv_path: Path) -> str:
    """SHA-256 of the CSV: what a kept Maloja database must have been loaded from."""
    digest = hashlib.sha256()
    with open(csv_path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_import(data_dir: Path, csv_path: Path, version: str, result: dict) -> None:
    """Mark data_dir as holding the complete import of csv_path by Maloja `version` (result: import_plays')."""
    record = {"csv": csv_path.name, "sha256": csv_digest(csv_path), "version": version,
              "imported_at": datetime.now().astimezone().isoformat(timespec="seconds"), "result": result}
    (data_dir / IMPORTED).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def kept_import(data_dir: Path, csv_path: Path, version: str) -> dict | None:
    """The recorded import when data_dir holds this very CSV imported by this Maloja version, else None.

    Maloja takes 20-60 min to import 100,000 plays here, so `bench/run.py --maloja-data DIR` keeps its database
    between runs and asks the questions again without re-importing. A directory that is neither empty nor marked
    by record_import is refused (ValueError) rather than emptied: it may be someone's real Maloja."""
    marker = data_dir / IMPORTED
    if not marker.exists():
        if data_dir.exists() and any(data_dir.iterdir()):
            raise ValueError(f"{data_dir}: not a Maloja directory of this benchmark (no {IMPORTED}); "
                             "refusing to empty it")
        return None
    record = json.loads(marker.read_text(encoding="utf-8"))
    if record.get("version") != version or record.get("csv") != csv_path.name \
            or record.get("sha256") != csv_digest(csv_path):
        return None
    return {**record["result"], "reused_from": record["imported_at"]}


@contextmanager
def running(script: Path, data_dir: Path, log: Path, timeout: float = 300) -> Iterator[str]:
    """A Maloja server for the block; yields its base URL once its API answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log, "ab") as out:
        proc = subprocess.Popen([str(script), "run"], env=maloja_env(data_dir, port), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"Maloja exited with {proc.returncode}; see {log}")
            try:
                if requests.get(base + MLJ + "/serverinfo", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Maloja did not answer within {timeout} s; see {log}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def questions(year: int, day: str, artist_id: int, artist_name: str) -> list[dict]:
    """The equivalent questions: name, AIME path, Maloja path."""
    ymd = day.replace("-", "/")
    period = f"start_date={year}-01-01&end_date={year}-12-31"
    return [
        {"name": "top artists, all time", "aime": "/api/v1/history/top/artists?limit=10",
         "maloja": f"{MLJ}/charts/artists"},
        {"name": f"top artists, {year}", "aime": f"/api/v1/history/top/artists?limit=10&{period}",
         "maloja": f"{MLJ}/charts/artists?in={year}"},
        {"name": f"top tracks, {year}", "aime": f"/api/v1/history/top/tracks?limit=10&{period}",
         "maloja": f"{MLJ}/charts/tracks?in={year}"},
        # AIME's count of a period is the journal's total (a page of one play), as Maloja's numscrobbles.
        {"name": f"play count, {year}", "aime": f"/api/v1/history/tracks?page=1&page_size=1&{period}",
         "maloja": f"{MLJ}/numscrobbles?in={year}"},
        {"name": f"scrobbles of {day}", "aime": f"/api/v1/history/timeline?date={day}",
         "maloja": f"{MLJ}/scrobbles?in={ymd}"},
        {"name": "recent scrobbles (50)", "aime": "/api/v1/history/tracks?page=1&page_size=50",
         "maloja": f"{MLJ}/scrobbles?perpage=50&page=0"},
        {"name": "one artist", "aime": f"/api/v1/collection/artists/{artist_id}",
         "maloja": f"{MLJ}/artistinfo?artist={quote(artist_name)}"},
    ]


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def aime_answer(name: str, body: dict):
    """The comparable part of an AIME answer."""
    if name.startswith("top artists"):
        return [(item["name"], item["plays"]) for item in body["items"]]
    if name.startswith("top tracks"):
        return [(f"{item['artist']} - {item['name']}", item["plays"]) for item in body["items"]]
    if name.startswith("play count"):
        return body["total"]
    if name.startswith("scrobbles of"):
        return sorted(_epoch(listen["played_at"]) for hour in body["hours"].values() for listen in hour)
    if name.startswith("recent"):
        return [_epoch(listen["played_at"]) for listen in body["items"]]
    return body["play_count"]


def maloja_answer(name: str, body: dict):
    """The comparable part of a Maloja answer."""
    if name.startswith("top artists"):
        return [(item["artist"], item["scrobbles"]) for item in body["list"]]
    if name.startswith("top tracks"):
        return [(f"{', '.join(item['track']['artists'])} - {item['track']['title']}", item["scrobbles"])
                for item in body["list"]]
    if name.startswith("play count"):
        return body["amount"]
    if name.startswith("scrobbles of"):
        return sorted(scrobble["time"] for scrobble in body["list"])
    if name.startswith("recent"):
        return [scrobble["time"] for scrobble in body["list"]]
    return body["scrobbles"]


def _top_agree(aime: list, maloja: list, n: int = 10) -> tuple[bool, str]:
    """Top-n counts equal, and the same names above the n-th count (ties at the edge may order apart)."""
    a, m = sorted(aime, key=lambda x: -x[1])[:n], sorted(maloja, key=lambda x: -x[1])[:n]
    if [c for _, c in a] != [c for _, c in m]:
        return False, f"counts differ: AIME {[c for _, c in a]} Maloja {[c for _, c in m]}"
    edge = a[-1][1] if a else 0
    above_a = {k.casefold() for k, c in a if c > edge}
    above_m = {k.casefold() for k, c in m if c > edge}
    if above_a != above_m:
        return False, f"names differ: only AIME {sorted(above_a - above_m)}, only Maloja {sorted(above_m - above_a)}"
    return True, f"top {len(a)} match ({a[0][0]} {a[0][1]} first)" if a else "both empty"


def agree(name: str, aime, maloja) -> dict:
    """Whether the two answers to one question agree, and how."""
    if name.startswith("top"):
        ok, detail = _top_agree(aime, maloja)
    elif isinstance(aime, list):
        ok = aime == maloja
        detail = f"{len(aime)} scrobbles, same times" if ok else f"AIME {len(aime)} scrobbles, Maloja {len(maloja)}" + (
            "" if len(aime) != len(maloja) else ", times differ")
    else:
        ok = aime == maloja
        detail = f"{aime} plays" if ok else f"AIME {aime}, Maloja {maloja}"
    return {"question": name, "agree": ok, "detail": detail}


def measure(aime_base: str, maloja_base: str, asked: list[dict], duration: float, rounds: int, tool: str) -> list[dict]:
    """Each question to AIME then Maloja, one connection, `rounds` times round the whole set."""
    rows = [{"question": q["name"], "aime_path": q["aime"], "maloja_path": q["maloja"], "aime": [], "maloja": []}
            for q in asked]
    for _ in range(rounds):
        for q, row in zip(asked, rows, strict=True):
            row["aime"].append(loadgen.measure(aime_base + q["aime"], 1, duration, tool))
            row["maloja"].append(loadgen.measure(maloja_base + q["maloja"], 1, duration, tool))
    return rows


def summarise(runs: list[dict]) -> dict:
    """Rounds of one system on one question: mean req/s (and its range), mean p50, worst p99."""
    rps = [r["rps"] for r in runs]
    return {"rps": round(sum(rps) / len(rps), 1), "rps_min": min(rps), "rps_max": max(rps),
            "p50_ms": round(sum(r["p50_ms"] for r in runs) / len(runs), 2),
            "p99_ms": max(r["p99_ms"] for r in runs), "requests": sum(r["requests"] for r in runs),
            "non_2xx": sum(r["non_2xx"] for r in runs), "errors": sum(r["errors"] for r in runs)}


def _ratio(a, b):
    return round(a / b, 2) if a is not None and b else None


def ratio_rows(measured: list[dict]) -> list[dict]:
    """Per question: both summaries and AIME/Maloja ratios (req/s above 1 and latency below 1: AIME faster)."""
    out = []
    for row in measured:
        a, m = summarise(row["aime"]), summarise(row["maloja"])
        out.append({"question": row["question"], "aime": a, "maloja": m, "rps_ratio": _ratio(a["rps"], m["rps"]),
                    "p50_ratio": _ratio(a["p50_ms"], m["p50_ms"]), "p99_ratio": _ratio(a["p99_ms"], m["p99_ms"])})
    return out


def _range(s: dict) -> str:
    if s["rps_min"] == s["rps_max"]:
        return f"{s['rps']:,.1f}"
    return f"{s['rps']:,.1f} ({s['rps_min']:,.0f}-{s['rps_max']:,.0f})"


def render(result: dict) -> list[str]:
    """The side-by-side section of the report as Markdown lines."""
    lines = [f"### AIME against Maloja {result['version']} (same plays, one connection, interleaved, "
             f"{result['rounds']} rounds x {result['duration_s']:g} s)", ""]
    imp = result.get("import")
    if imp:
        lines += ["| import of the same CSV | wall s | scrobbles added | rows/s | peak RSS MB |",
                  "|---|---:|---:|---:|---:|"]
        loader = imp["maloja"].get("loader")  # bench/maloja_bulk.py: Maloja's import code, batched
        maloja_label = f"Maloja {result['version']}" + (f", loaded by {loader} (not `maloja import`)" if loader else "")
        for label, row in (("AIME", imp["aime"]), (maloja_label, imp["maloja"])):
            lines.append(f"| {label} | {row['seconds']:,.2f} | {row.get('rows_added') or 0:,} | "
                         f"{row.get('rows_per_s') or 0:,.1f} | {row.get('peak_rss_mb') or 0:,.1f} |")
        if loader:
            lines += ["", f"Maloja's database was built by {loader} on {imp['maloja'].get('reused_from')} (Maloja's "
                      "own import code, batched; not `maloja import`, whose time is not measured here): "
                      "no import speed ratio."]
        else:
            lines += ["", f"AIME imports {_ratio(imp['maloja']['seconds'], imp['aime']['seconds'])}x faster."]
        if imp["maloja"].get("reused_from") and not loader:
            lines.append(f"Maloja's database was kept from its import of {imp['maloja']['reused_from']} "
                         "(not re-imported in this run; its row above is that import's).")
        lines.append("")
    lines += ["| question | AIME req/s | Maloja req/s | req/s AIME/Maloja | AIME p50/p99 ms | Maloja p50/p99 ms | "
              "p50 AIME/Maloja | p99 AIME/Maloja | answers agree |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    agreement = {a["question"]: a for a in result.get("agreement", [])}
    for row in result["rows"]:
        a, m, ag = row["aime"], row["maloja"], agreement.get(row["question"])
        verdict = "-" if ag is None else ("yes" if ag["agree"] else "**no**") + f": {ag['detail']}"
        lines.append(f"| {row['question']} | {_range(a)} | {_range(m)} | {row['rps_ratio']} | "
                     f"{a['p50_ms']:g} / {a['p99_ms']:g} | {m['p50_ms']:g} / {m['p99_ms']:g} | "
                     f"{row['p50_ratio']} | {row['p99_ratio']} | {verdict} |")
    return lines + [""]
