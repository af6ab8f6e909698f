"""Import jobs: upload API, background thread, progress report, limits, and resuming after a crash."""
from __future__ import annotations

import io
import threading
import time

import pytest
from sqlalchemy import select

from aime import background
from aime.extensions import db
from aime.models import ImportJob, Listen, ServiceState
from aime.jobs import imports
from aime.jobs import import_runner as runner
from aime.services.importers import pipeline

from tests.support.polling import poll

from .conftest import join_import_threads


def _upload(client, auth, data: bytes, name: str = "history.csv"):
    return client.post("/api/v1/imports", headers=auth,
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_upload_runs_in_background_and_reports(client, auth, samples):
    response = _upload(client, auth, (samples / "Streaming_History_Audio_2023.json").read_bytes(), "x.bin")
    assert response.status_code == 202
    job = response.get_json()
    assert job["status"] in ("queued", "running", "done") and job["filename"] == "x.bin"
    join_import_threads()
    done = client.get(f"/api/v1/imports/{job['id']}").get_json()
    assert {k: done[k] for k in ("status", "format", "processed", "imported", "duplicates", "skipped_count")} == {
        "status": "done", "format": "spotify-extended", "processed": 11, "imported": 9, "duplicates": 0,
        "skipped_count": 2}
    assert [s["line"] for s in done["skipped"]] == [227, 252]
    listing = client.get("/api/v1/imports").get_json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == job["id"]
    assert client.get("/api/v1/history/tracks").get_json()["total"] == 9


def test_upload_needs_the_token_and_a_known_format(client, auth):
    assert _upload(client, {}, b"a,b,c,14 Nov 2023 12:00\n").status_code == 401
    response = _upload(client, auth, b"just some text\n")
    assert response.status_code == 422
    assert "lastfm-csv" in response.get_json()["detail"]
    missing = client.post("/api/v1/imports", headers=auth, data={}, content_type="multipart/form-data")
    assert missing.status_code == 422
    assert client.get("/api/v1/imports/999").status_code == 404


def test_upload_limit_is_max_upload_mb(tmp_path, auth):
    from aime import create_app
    from tests.conftest import make_config, upgrade

    config = make_config(tmp_path, max_upload_mb=1, max_body_mb=1)
    config.data_dir.mkdir(parents=True)
    app = create_app(config)
    upgrade(app)
    client = app.test_client()
    big = b"Daft Punk,Discovery,One More Time,14 Nov 2023 12:05\n" * 30_000  # ~1.6 MB
    # A hand-built multipart body: werkzeug's test builder would spool it to a temp file left open on 413.
    body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n\r\n"
            + big + b"\r\n--b--\r\n")
    response = client.post("/api/v1/imports", headers=auth, data=body,
                           content_type="multipart/form-data; boundary=b")
    assert response.status_code == 413
    small = b"Daft Punk,Discovery,One More Time,14 Nov 2023 12:05\n" * 100
    assert _upload(client, auth, small).status_code == 202
    join_import_threads()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class Killed(BaseException):
    """Stands for the process dying: nothing in the import code may catch it."""


def _crash_after(monkeypatch, batches: int, error: type[BaseException] = Killed):
    """Make the process 'die' (an exception nobody catches) once `batches` batches have been committed."""
    real = runner._commit
    calls = {"n": 0}

    def commit(*args):
        calls["n"] += 1
        if calls["n"] > batches:
            raise error()
        return real(*args)

    monkeypatch.setattr(runner, "_commit", commit)
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 1000)


def _history(tmp_path, rows: int = 5000):
    start = 1_600_000_000
    lines = [f"{start + 200 * i},Artist {i % 37},Song {i % 101}" for i in range(rows)]
    path = tmp_path / "history.csv"
    path.write_text("uts,artist,track\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _interrupted_job(app, path, monkeypatch, batches: int, error: type[BaseException] = Killed) -> int:
    """A file job whose process 'dies' after `batches` committed batches (then the process is normal again)."""
    _crash_after(monkeypatch, batches, error)
    with app.app_context():
        job_id = imports.create_file_job(path, None)
        with pytest.raises(error):
            imports.run_job(job_id)
        db.session.rollback()
    monkeypatch.undo()
    return job_id


def test_killed_import_keeps_committed_batches_and_rerun_finishes_without_duplicates(app, tmp_path, monkeypatch):
    path = _history(tmp_path)
    job_id = _interrupted_job(app, path, monkeypatch, 2)
    with app.app_context():
        job = db.session.get(ImportJob, job_id)
        assert (job.status, job.processed, job.imported) == ("running", 2000, 2000)
        assert db.session.scalar(select(db.func.count(Listen.id))) == 2000
        # The dead process's lease has to run out before anyone else may take the job over.
        assert imports.create_file_job(path, None) != job_id
        db.session.rollback()
        db.session.delete(db.session.get(ImportJob, job_id + 1))
        db.session.get(ServiceState, imports.lease_name(job_id)).lease_expires_at = time.time() - 1
        db.session.commit()
        assert imports.create_file_job(path, None) == job_id  # re-running the same file resumes the job
        report = imports.run_job(job_id)
    assert (report["status"], report["processed"], report["imported"], report["duplicates"]) == (
        "done", 5000, 5000, 0)
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Listen.id))) == 5000


def test_ctrl_c_frees_the_job_for_an_immediate_rerun(app, tmp_path, monkeypatch):
    path = _history(tmp_path, 3000)
    job_id = _interrupted_job(app, path, monkeypatch, 1, KeyboardInterrupt)
    with app.app_context():
        assert imports.create_file_job(path, None) == job_id
        report = imports.run_job(job_id)
    assert (report["status"], report["processed"], report["imported"]) == ("done", 3000, 3000)


def _stale_upload_job(app, tmp_path, rows: int = 3000) -> int:
    """An upload job left 'running' by a process that died: its lease has expired."""
    data = _history(tmp_path, rows).read_bytes()
    with app.app_context():
        path = imports.upload_dir(app.extensions["aime.config"])
        path.mkdir(parents=True, exist_ok=True)
        (path / "stale.upload").write_bytes(data)
        job_id = imports.run_write(imports._create_job, "h.csv", str(path / "stale.upload"), "lastfm-ghan-csv")
        state = db.session.get(ServiceState, imports.lease_name(job_id))
        state.lease_owner, state.lease_expires_at = "dead-host:1", time.time() - 1
        db.session.get(ImportJob, job_id).status = "running"
        db.session.commit()
    return job_id


def test_stale_upload_job_is_resumed_by_the_next_list(app, client, auth, tmp_path, monkeypatch):
    job_id = _stale_upload_job(app, tmp_path)
    path = imports.upload_dir(app.extensions["aime.config"])
    client.get("/api/v1/imports")
    join_import_threads()
    job = client.get(f"/api/v1/imports/{job_id}").get_json()
    assert (job["status"], job["imported"]) == ("done", 3000)
    assert not (path / "stale.upload").exists()  # our copy of an upload is removed once imported


def test_a_stale_job_is_resumed_by_the_server_itself(make_app, tmp_path):
    app = make_app(import_lease_seconds=1.0)  # the resumer looks once per lease period
    job_id = _stale_upload_job(app, tmp_path)
    background.start(app)
    try:
        def finished():
            with app.app_context():
                job = db.session.get(ImportJob, job_id)
                done = (job.status, job.imported) == ("done", 3000)
                db.session.remove()
                return done
        poll(finished, 30, "the stale job resumed without any request")
    finally:
        background.stop(app)
    assert not any(t.name == "aime-resume-imports" for t in threading.enumerate())


def test_one_process_runs_a_job_once_however_many_ask(app, tmp_path):
    job_id = _stale_upload_job(app, tmp_path)
    threads = [imports.start_thread(app, job_id) for _ in range(3)]  # e.g. three list requests at once
    assert threads[0] is not None and threads[1:] == [None, None]
    join_import_threads()
    assert imports.start_thread(app, job_id) is not None  # finished: a later call may start it again (no-op)
    join_import_threads()
    with app.app_context():
        job = db.session.get(ImportJob, job_id)
        assert (job.status, job.processed, job.imported, job.duplicates) == ("done", 3000, 3000, 0)


def test_smoke_10000_rows_and_reimport(tmp_path, import_file, count_listens):
    path = _history(tmp_path, 10_000)
    first = import_file(path)
    assert (first["imported"], first["duplicates"]) == (10_000, 0)
    second = import_file(path)
    assert (second["imported"], second["duplicates"]) == (0, 10_000)
    assert count_listens() == 10_000


def test_cli_import_dry_run_and_report(app, runner, samples, count_listens):
    result = runner.invoke(args=["import", str(samples / "Streaming_History_Audio_2023.json"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would import: 9" in result.output and "skipped line 252: podcast episode" in result.output
    assert count_listens() == 0
    result = runner.invoke(args=["import", str(samples / "lastfm-to-csv_alice.csv")])
    assert result.exit_code == 0 and "imported: 10" in result.output
    result = runner.invoke(args=["import", str(samples / "lastfm-to-csv_alice.csv"), "--format", "lastfm-csv"])
    assert "imported: 0" in result.output and "duplicates: 10" in result.output
    bad = runner.invoke(args=["import", str(samples / "README.md")])
    assert bad.exit_code == 1 and "not in any known format" in bad.output


def test_cli_resume_finishes_an_interrupted_job(app, runner, tmp_path, monkeypatch, count_listens):
    job_id = _interrupted_job(app, _history(tmp_path, 3000), monkeypatch, 1)
    with app.app_context():
        db.session.get(ServiceState, imports.lease_name(job_id)).lease_expires_at = time.time() - 1
        db.session.commit()
    result = runner.invoke(args=["import", "--resume", str(job_id)])
    assert result.exit_code == 0, result.output
    assert f"import {job_id}: done" in result.output and "imported: 3000" in result.output
    assert count_listens() == 3000
    missing = runner.invoke(args=["import", "--resume", "999"])
    assert missing.exit_code == 1 and "Import 999 does not exist." in missing.output
