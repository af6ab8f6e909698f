"""CPU per request of /live, /ready and /health as under gunicorn (counter files in a multiprocess directory).

    .venv/bin/python bench/probes_cpu.py DATABASE_URL [FILES] [RUNS]
    AIME_CODE=/path/to/other/checkout ...   (that checkout's aime, e.g. main's for a "before" run)

PROMETHEUS_MULTIPROC_DIR is set to a fresh directory before prometheus_client is imported, and FILES other
workers' counter files are written into it; then each probe is requested RUNS times per round, the probes
interleaved, 5 rounds. Prints the minimum and median of `time.process_time` per request over the rounds.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if os.environ.get("AIME_CODE"):
    sys.path.insert(0, os.environ["AIME_CODE"])
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="aime-probes-")

from prometheus_client.mmap_dict import MmapedDict, mmap_key  # noqa: E402

from aime import create_app  # noqa: E402


def main(url: str, files: int, runs: int) -> None:
    """Print the CPU per request of each probe."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    for pid in range(files):
        worker = MmapedDict(str(directory / f"counter_{100 + pid}.db"))
        for status in ("200", "404", "500"):
            worker.write_value(mmap_key("aime_http_requests", "aime_http_requests_total",
                                        ["method", "endpoint", "status"], ["GET", "/api/v1/search", status],
                                        "HTTP requests served"), 3.0, 0.0)
        worker.close()
    old = time.time() - 60
    os.utime(directory, (old, old))  # the workers started a while ago
    # A data directory of its own: AIME makes its data directory 0700 (and writes its token there), which done to
    # tempfile.gettempdir() locked every other user of the machine out of /tmp.
    data_dir = tempfile.mkdtemp(prefix="aime-probes-data-")
    app = create_app({"DATABASE_URL": url, "AIME_DATA_DIR": data_dir, "AIME_LOG_LEVEL": "warning"})
    client = app.test_client()
    spent: dict[str, list[float]] = {"/live": [], "/ready": [], "/health": []}
    for _round in range(5):
        for path, values in spent.items():
            for _ in range(runs):
                began = time.process_time()
                response = client.get(path)
                values.append((time.process_time() - began) * 1000)
                assert response.status_code == 200, (path, response.status_code)
    for path, values in spent.items():
        values.sort()
        print(f"{path:8s} min {values[0]:.3f} med {values[len(values) // 2]:.3f} ms", flush=True)
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    try:
        parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("database_url")
        parser.add_argument("files", nargs="?", type=int, default=14, help="other workers' counter files (14)")
        parser.add_argument("runs", nargs="?", type=int, default=200, help="requests per probe and round (200)")
        args = parser.parse_args()
        main(args.database_url, args.files, args.runs)
    finally:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
