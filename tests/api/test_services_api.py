"""/api/v1/services: start/stop/status persisted, 503 when not configured, no secrets, one run at a time."""
import pytest

from aime import create_app
from aime.extensions import db
from aime.jobs import runtime
from aime.timeutil import to_epoch, utcnow


@pytest.fixture
def configured(app):
    """A second app on the same database with Last.fm and Discogs credentials."""
    config = app.extensions["aime.config"].replace(
        lastfm_api_key="LFM-SECRET", lastfm_user="alice", lastfm_base_url="http://127.0.0.1:9/2.0",
        discogs_token="DG-SECRET", discogs_user="alice", discogs_base_url="http://127.0.0.1:9")
    new = create_app(config)
    yield new
    with new.app_context():
        db.session.remove()
        db.engine.dispose()


def test_status_all_lists_every_registered_service(client):
    response = client.get("/api/v1/services/status/all")
    assert response.status_code == 200
    services = {s["name"]: s for s in response.get_json()["services"]}
    assert {"tracker", "discogs"} <= set(services)
    assert services["tracker"]["active"] is False and services["tracker"]["running"] is False
    assert services["tracker"]["configured"] is False
    assert services["tracker"]["state"] == {"history_import": {}}


@pytest.mark.parametrize("name, variables", [("tracker", "AIME_LASTFM_API_KEY and AIME_LASTFM_USER"),
                                             ("discogs", "AIME_DISCOGS_TOKEN and AIME_DISCOGS_USER")])
def test_starting_an_unconfigured_service_is_503_saying_what_to_set(client, auth, name, variables):
    response = client.post(f"/api/v1/services/{name}/start", headers=auth)
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["title"] == "Feature not configured" and variables in body["detail"]
    assert client.get(f"/api/v1/services/{name}/status").get_json()["active"] is False


@pytest.mark.parametrize("url", ["/api/v1/services/discogs/sync", "/api/v1/services/lastfm/import-history"])
def test_jobs_need_credentials_too(client, auth, url):
    response = client.post(url, headers=auth)
    assert response.status_code == 503 and "not configured" in response.get_json()["detail"]


def test_writes_need_the_token_and_unknown_services_are_404(client, auth):
    assert client.post("/api/v1/services/tracker/start").status_code == 401
    response = client.post("/api/v1/services/nope/start", headers=auth)
    assert response.status_code == 404 and "nope" in response.get_json()["detail"]
    assert client.get("/api/v1/services/nope/status").status_code == 404


def test_start_and_stop_are_persisted_across_apps(configured, app, auth):
    response = configured.test_client().post("/api/v1/services/tracker/start", headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["active"], body["configured"]) == ("tracker", True, True)
    # Another process (or the same after a restart) sees it.
    assert app.test_client().get("/api/v1/services/tracker/status").get_json()["active"] is True
    text = configured.test_client().get("/api/v1/services/status/all").get_data(as_text=True)
    assert "LFM-SECRET" not in text and "DG-SECRET" not in text
    response = configured.test_client().post("/api/v1/services/tracker/stop", headers=auth)
    assert response.get_json()["active"] is False
    assert app.test_client().get("/api/v1/services/tracker/status").get_json()["active"] is False


def test_a_second_sync_while_one_runs_is_409(configured, auth):
    with configured.app_context():
        runtime.update_state("discogs", status="running", heartbeat=to_epoch(utcnow()))
    response = configured.test_client().post("/api/v1/services/discogs/sync", headers=auth)
    assert response.status_code == 409 and "already in progress" in response.get_json()["detail"]


def test_a_stale_running_state_does_not_block_a_new_sync(app, auth, httpserver):
    httpserver.expect_request("/users/alice/collection/folders/0/releases").respond_with_json(
        {"message": "You must authenticate to access this resource."}, status=401)
    config = app.extensions["aime.config"].replace(discogs_token="DG-SECRET", discogs_user="alice",
                                                   discogs_base_url=httpserver.url_for("").rstrip("/"))
    configured = create_app(config)
    with configured.app_context():
        runtime.update_state("discogs", status="running", heartbeat=to_epoch(utcnow()) - 3600)
    client = configured.test_client()
    response = client.post("/api/v1/services/discogs/sync", headers=auth)
    assert response.status_code == 202
    from tests.services.test_tracker import poll_done

    progress = poll_done(client, "/api/v1/services/discogs/progress")
    # Discogs refuses the token: the sync fails cleanly and says so, without the token.
    assert progress["status"] == "failed" and progress["error"] == "Discogs refused the request (HTTP 401)."
    assert "DG-SECRET" not in str(progress)
    with configured.app_context():
        db.session.remove()
        db.engine.dispose()


def test_only_one_of_two_simultaneous_claims_wins(app):
    """Two processes asking for a sync at the same instant: one runs it, the other gets 409."""
    import threading

    from aime.errors import Conflict
    from aime.jobs.claims import claim_job

    apps = [create_app(app.extensions["aime.config"]) for _ in range(2)]
    with apps[0].app_context():
        runtime.update_state("discogs", status="done")
    barrier, outcomes = threading.Barrier(2), []

    def claim(other):
        with other.app_context():
            barrier.wait()
            try:
                claim_job("discogs")
                outcomes.append("won")
            except Conflict:
                outcomes.append("409")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=claim, args=(other,)) for other in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["409", "won"]
    for other in apps:
        with other.app_context():
            db.engine.dispose()
