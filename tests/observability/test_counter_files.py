"""Request/error totals read from the workers' counter files (multiprocess mode): exact, current, growing files."""
from __future__ import annotations

import os
import sys
import time

from prometheus_client.mmap_dict import MmapedDict, mmap_key

from aime.health import report
from aime.observability.metrics import CounterFiles, announce_counter_file
from aime.observability.metrics_dir import METRICS_DIR_ENV, ROSTER_NAME, STARTED_AT_ENV, prepare_metrics_dir

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


def _settled(directory) -> None:
    """Date the directory's mtime 10 s back, as it is a while after the last worker started."""
    old = time.time() - 10
    os.utime(directory, (old, old))


def test_an_unchanged_directory_is_not_listed_again_and_a_new_worker_still_counts(tmp_path, monkeypatch):
    first = MmapedDict(str(tmp_path / "counter_1.db"))
    first.write_value(_key("/a", "200"), 2.0, 0.0)
    _settled(tmp_path)
    listings = []
    real = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path: listings.append(path) or real(path))
    reader = CounterFiles(str(tmp_path))
    assert (reader.totals(), len(listings)) == ((2, 0), 1)
    first.write_value(_key("/a", "200"), 5.0, 0.0)  # counts change inside the file: no listing needed
    assert (reader.totals(), len(listings)) == ((5, 0), 1)
    assert (reader.totals(), len(listings)) == ((5, 0), 1)

    second = MmapedDict(str(tmp_path / "counter_2.db"))  # a new worker: the directory's mtime moves
    second.write_value(_key("/b", "500"), 3.0, 0.0)
    assert (reader.totals(), len(listings)) == ((8, 3), 2)
    # Its mtime is recent (a file created in the same clock tick would not move it): listed at every read...
    third = MmapedDict(str(tmp_path / "counter_3.db"))
    third.write_value(_key("/c", "200"), 1.0, 0.0)
    assert (reader.totals(), len(listings)) == ((9, 3), 3)
    _settled(tmp_path)  # ... until it is settled
    assert (reader.totals(), reader.totals(), len(listings)) == ((9, 3), (9, 3), 4)
    for worker in (first, second, third):
        worker.close()


def test_health_shows_a_worker_started_after_its_first_answer(make_app, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    first = MmapedDict(str(tmp_path / "counter_11.db"))
    first.write_value(_key("/api/v1/search", "200"), 4.0, 0.0)
    _settled(tmp_path)
    client = make_app().test_client()
    assert (client.get("/health").json["requests"], client.get("/health").json["requests"]) == (4, 4)
    second = MmapedDict(str(tmp_path / "counter_12.db"))
    second.write_value(_key("/api/v1/search", "503"), 2.0, 0.0)
    body = client.get("/health").json
    assert (body["requests"], body["errors"]) == (6, 2)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "gone"))  # no such directory: this process's
    assert client.get("/health").json["requests"] == 0  # own counters (none but probes here)
    first.close()
    second.close()


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


def _prepared(tmp_path, monkeypatch) -> str:
    """A metrics directory as gunicorn.conf.py prepares it (with its roster); the environment restored after."""
    monkeypatch.setenv(METRICS_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(STARTED_AT_ENV, "0")
    path, created = prepare_metrics_dir()
    assert (path, created) == (str(tmp_path), False)
    return path


def _count_system_calls(monkeypatch) -> list[str]:
    calls: list[str] = []
    for name in ("stat", "listdir", "open", "fstat"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda *args, _real=real, _name=name, **kwargs: calls.append(_name)
                            or _real(*args, **kwargs))
    return calls


def test_with_a_roster_totals_make_no_system_call_until_a_new_worker_announces_its_file(tmp_path, monkeypatch):
    directory = _prepared(tmp_path, monkeypatch)
    first = MmapedDict(str(tmp_path / "counter_21.db"))
    first.write_value(_key("/api/v1/search", "200"), 2.0, 0.0)
    announce_counter_file(directory)
    reader = CounterFiles(directory)
    assert reader.totals() == (2, 0)
    calls = _count_system_calls(monkeypatch)
    first.write_value(_key("/api/v1/search", "200"), 5.0, 0.0)  # counts change inside a known file
    assert ([reader.totals() for _ in range(3)], calls) == ([(5, 0)] * 3, [])

    second = MmapedDict(str(tmp_path / "counter_22.db"))  # a new worker's first count, then its announcement
    second.write_value(_key("/api/v1/search", "503"), 3.0, 0.0)
    announce_counter_file(directory)
    calls.clear()  # the writers' own calls
    assert (reader.totals(), calls) == ((8, 3), ["listdir", "fstat"])  # listed, and the new file mapped
    assert (reader.totals(), reader.totals(), len(calls)) == ((8, 3), (8, 3), 2)
    first.close()
    second.close()


def test_each_process_announces_its_counter_file_once_after_its_first_count(make_app, tmp_path, monkeypatch):
    directory = _prepared(tmp_path, monkeypatch)
    client = make_app().test_client()
    roster = tmp_path / ROSTER_NAME
    assert roster.read_bytes() == bytes(8)  # generation 0
    client.get("/nowhere")
    assert int.from_bytes(roster.read_bytes(), sys.byteorder) == 1
    client.get("/nowhere")
    client.get("/health")
    assert int.from_bytes(roster.read_bytes(), sys.byteorder) == 1
    announce_counter_file(directory)  # another worker
    assert int.from_bytes(roster.read_bytes(), sys.byteorder) == 2


def test_a_process_forked_after_counting_announces_its_own_file(make_app, tmp_path, monkeypatch):
    _prepared(tmp_path, monkeypatch)
    client = make_app().test_client()
    client.get("/nowhere")
    roster = tmp_path / ROSTER_NAME
    assert int.from_bytes(roster.read_bytes(), sys.byteorder) == 1
    child = os.fork()
    if child == 0:  # a new process: its counts go to a file of its own, which the readers must be told of
        try:
            client.get("/nowhere")
            client.get("/nowhere")
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    client.get("/nowhere")  # the parent announced already
    assert int.from_bytes(roster.read_bytes(), sys.byteorder) == 2


def test_without_a_roster_announcing_makes_none_and_the_mtime_still_tells(tmp_path):
    worker = MmapedDict(str(tmp_path / "counter_31.db"))
    worker.write_value(_key("/a", "200"), 1.0, 0.0)
    reader = CounterFiles(str(tmp_path))
    assert reader.totals() == (1, 0)
    announce_counter_file(str(tmp_path))  # a directory gunicorn.conf.py did not prepare: nothing to bump
    assert not (tmp_path / ROSTER_NAME).exists()
    other = MmapedDict(str(tmp_path / "counter_32.db"))  # a writer that never announces still counts
    other.write_value(_key("/b", "500"), 4.0, 0.0)
    assert reader.totals() == (5, 4)
    worker.close()
    other.close()


def test_an_unwritable_roster_is_logged_not_raised(tmp_path, caplog):
    (tmp_path / ROSTER_NAME).mkdir()  # a directory where the file should be: os.open fails
    announce_counter_file(str(tmp_path))
    assert "could not announce this worker's counter file" in caplog.text
