"""runtime.failure_recorded: a job that raises is marked failed with what a user may read, then the error goes on;
the three jobs that use it (Discogs sync, Last.fm history import, enrichment of the collection) behave alike."""
import pytest
import time_machine

from aime.errors import AimeError, NotFound
from aime.jobs import enrichment_jobs, runtime, tracker
from aime.services import discogs_sync

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z: the frozen clock gives finished_at exactly
GENERIC = "Unexpected error; see the server log."


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_an_aime_error_is_recorded_with_its_detail_and_raised_again(db, clock):
    runtime.update_state("job", status="running", page=3)
    error = NotFound("Album 7 does not exist.")
    with pytest.raises(NotFound) as raised, runtime.failure_recorded("job"):
        raise error
    assert raised.value is error
    assert runtime.read_state("job") == {"status": "failed", "page": 3, "error": "Album 7 does not exist.",
                                         "finished_at": "2023-11-14T22:13:20Z"}


def test_any_other_error_is_recorded_without_its_text_and_raised_again(db, clock):
    runtime.update_state("job", status="running")
    with pytest.raises(KeyError, match="postgres://secret"), runtime.failure_recorded("job"):
        raise KeyError("postgres://secret")
    assert runtime.read_state("job") == {"status": "failed", "error": GENERIC,
                                         "finished_at": "2023-11-14T22:13:20Z"}


def test_a_block_that_ends_normally_changes_nothing(db, clock):
    runtime.update_state("job", status="running")
    with runtime.failure_recorded("job"):
        pass
    assert runtime.read_state("job") == {"status": "running"}


class Boom:
    """A client (Discogs, Last.fm) or an album query whose first call raises `error`."""

    def __init__(self, error: Exception):
        self.error = error

    def __call__(self, *args, **kwargs):
        raise self.error

    collection_page = recent_tracks = __call__


def _discogs(config, error, monkeypatch):
    discogs_sync.sync(config, client=Boom(error))


def _history(config, error, monkeypatch):
    tracker.import_history(config, client=Boom(error))


def _enrichment(config, error, monkeypatch):
    monkeypatch.setattr(enrichment_jobs, "_next_ids", Boom(error))  # fails inside the run, after its start
    enrichment_jobs.enrich_all(config.replace(musicbrainz_contact="test@example.org"))


@pytest.mark.parametrize("job, name", [(_discogs, "discogs"), (_history, tracker.HISTORY),
                                       (_enrichment, enrichment_jobs.NAME)])
@pytest.mark.parametrize("error, expected", [(AimeError("Discogs refused the request (HTTP 401)."),
                                              "Discogs refused the request (HTTP 401)."),
                                             (RuntimeError("no such table: listens"), GENERIC)])
def test_every_job_records_its_failure_the_same_way(app, db, clock, monkeypatch, job, name, error, expected):
    with pytest.raises(type(error)) as raised:
        job(app.extensions["aime.config"], error, monkeypatch)
    assert raised.value is error
    state = runtime.read_state(name)
    assert (state["status"], state["error"], state["finished_at"]) == ("failed", expected, "2023-11-14T22:13:20Z")
