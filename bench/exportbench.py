"""History export measurements: `flask export-history` as a child process over an imported history.

    python bench/exportbench.py --rows 1000000            # generate (if needed), import, export each format

Prints (and writes to --json) wall time and peak RSS (GNU time %M) of each export, next to the import's, with
the file sizes; the export is correct when its line count matches the listens.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import importbench, make_dataset  # noqa: E402
from bench.run import base_env  # noqa: E402

FORMATS = (("listenbrainz", "zip"), ("jsonl", "jsonl"), ("csv", "csv"))


def lines_in(path: Path, fmt: str) -> int:
    """Plays in an export file (listens in the zip, lines in JSON Lines, rows below the CSV header)."""
    if fmt == "listenbrainz":
        with zipfile.ZipFile(path) as archive:
            return sum(sum(1 for _ in archive.open(n)) for n in archive.namelist() if n.startswith("listens/"))
    with open(path, "rb") as handle:
        return sum(1 for _ in handle) - (1 if fmt == "csv" else 0)


def main(argv: list[str] | None = None) -> None:
    """Generate, import, export; print the measurements as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/aime-exportbench"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--formats", default="listenbrainz,jsonl,csv", help="comma-separated subset to export")
    args = parser.parse_args(argv)
    data = args.work / "data"
    csv_path = data / f"recenttracks-bench-{args.rows}.csv"
    if not csv_path.exists():
        make_dataset.write(args.rows, data)
    work = args.work / f"run-{args.rows}"
    work.mkdir(parents=True, exist_ok=True)
    env = base_env(f"sqlite:///{work / 'aime.db'}", work)
    report = {"rows": args.rows, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if not (work / "aime.db").exists():
        subprocess.run(importbench.flask_command("db", "upgrade"), env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        report["import"] = importbench.measure_import(csv_path, env, work / "import.log", args.timeout)
    report["listens"] = importbench.count_rows(env["DATABASE_URL"])
    for fmt, ext in (f for f in FORMATS if f[0] in args.formats.split(",")):
        target = work / f"export.{ext}"
        target.unlink(missing_ok=True)
        result = importbench.run_child(importbench.flask_command("export-history", str(target), "--format", fmt),
                                       env, work / "export.log", args.timeout)
        result["bytes"] = target.stat().st_size if target.exists() else None
        result["plays_in_file"] = lines_in(target, fmt) if target.exists() else None
        result["plays_per_s"] = round(report["listens"] / result["seconds"]) if result["seconds"] else None
        report[f"export_{fmt}"] = result
        print(json.dumps({fmt: result}), flush=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
