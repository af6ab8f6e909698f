"""Request/error totals read from the workers' counter files (multiprocess mode): exact, current, growing files."""
from __future__ import annotations

from prometheus_client.mmap_dict import MmapedDict, mmap_key

from aime.health import report
from aime.observability.metrics import CounterFiles

LABELS = ["method", "endpoint", "status"]


def _key(endpoint: str, status: str, name: str = "aime_http_requests_total") -> str:
    return mmap_key("aime_http_requests", name, LABELS, ["GET", endpoint, status], "HTTP requests served")


def test_totals_follow_every_worker_file_exactly(tmp_path):
    first = MmapedDict(str(tmp_path / "counter_101.db"))
    first.write_value(_key("/api/v1/search", "200"), 3.0, 0.0)
    first.write_value(_key("/health", "200"), 50.0, 0.0)  # probes are not requests
    first.write_value(_key("/boom", "500"), 1.0, 0.0)
    (tmp_path / "histogram_101.db").write_bytes(b"")  # other kinds of file are not read
    reader = CounterFiles(str(tmp_path))
    assert reader.totals() == (4, 1)

    first.write_value(_key("/api/v1/search", "200"), 10.0, 0.0)  # a value changes in place
    assert reader.totals() == (11, 1)
    first.write_value(_key("/api/v1/history/tracks", "503"), 2.0, 0.0)  # a new sample: the file is re-read
    assert reader.totals() == (13, 3)

    second = MmapedDict(str(tmp_path / "counter_102.db"))  # a worker started since
    second.write_value(_key("/api/v1/search", "404"), 5.0, 0.0)
    assert reader.totals() == (18, 3)
    first.close()  # a dead worker's counts still count
    assert reader.totals() == (18, 3)
    second.close()


def test_a_file_grown_past_its_first_mapping_is_mapped_again(tmp_path):
    worker = MmapedDict(str(tmp_path / "counter_7.db"))
    worker.write_value(_key("/a", "200"), 1.0, 0.0)
    reader = CounterFiles(str(tmp_path))
    assert reader.totals() == (1, 0)
    for i in range(700):  # ~700 keys of ~150 bytes: past the first 64 kB, so the writer grows the file
        worker.write_value(_key(f"/api/v1/collection/albums/{i:04d}", "500"), 1.0, 0.0)
    assert (tmp_path / "counter_7.db").stat().st_size > 65536
    assert reader.totals() == (701, 700)
    worker.close()


def test_an_empty_new_file_counts_nothing_until_its_worker_writes(tmp_path):
    (tmp_path / "counter_9.db").write_bytes(b"")
    reader = CounterFiles(str(tmp_path))
    assert reader.totals() == (0, 0)
    worker = MmapedDict(str(tmp_path / "counter_9.db"))
    worker.write_value(_key("/a", "200"), 2.0, 0.0)
    assert reader.totals() == (2, 0)
    worker.close()


def test_an_unchanged_health_body_is_not_built_again(make_app, monkeypatch):
    app = make_app()
    client = app.test_client()
    builds = []
    real = report._summary
    monkeypatch.setattr(report, "_summary", lambda *args: builds.append(1) or real(*args))
    monkeypatch.setattr(report.time, "time", lambda: 1_800_000_000.0)  # one second for the whole test
    first, second = client.get("/health"), client.get("/health")
    assert first.data == second.data and len(builds) == 1
    client.get("/nowhere")  # a request is counted: the next body shows it
    third = client.get("/health")
    assert len(builds) == 2 and third.json["requests"] == first.json["requests"] + 1
