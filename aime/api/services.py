"""Background services: start/stop/status, Discogs sync now, Last.fm history import."""
from flask_smorest import Blueprint

from ..integrations import discogs, lastfm
from ..schemas.services import JobProgressSchema, ServiceStatusListSchema, ServiceStatusSchema
from ..jobs import claims, services_setup as service, tracker
from ..services import discogs_sync

blp = Blueprint("services", __name__, description="Background services (Last.fm tracker, Discogs sync, scheduler)")


@blp.route("/services/status/all")
@blp.response(200, ServiceStatusListSchema)
def all_statuses():
    """The status of every background service."""
    return {"services": service.all_service_statuses()}


@blp.route("/services/<string:name>/status")
@blp.response(200, ServiceStatusSchema)
def status(name):
    """One background service's status and state."""
    return service.service_status(name)


@blp.route("/services/<string:name>/start", methods=["POST"])
@blp.response(200, ServiceStatusSchema)
def start(name):
    """Make a service run (persisted across restarts); 503 when it is not configured."""
    return service.start_service(name)


@blp.route("/services/<string:name>/stop", methods=["POST"])
@blp.response(200, ServiceStatusSchema)
def stop(name):
    """Stop a service (persisted across restarts)."""
    return service.stop_service(name)


@blp.route("/services/discogs/sync", methods=["POST"])
@blp.response(202, JobProgressSchema)
def discogs_sync_now():
    """Sync the Discogs collection now, in the background; follow /services/discogs/progress."""
    return claims.run_job(discogs_sync.NAME, discogs_sync.sync, discogs.require_config)


@blp.route("/services/discogs/progress")
@blp.response(200, JobProgressSchema)
def discogs_progress():
    """The running or last Discogs sync's progress."""
    return discogs_sync.progress()


@blp.route("/services/lastfm/import-history", methods=["POST"])
@blp.response(202, JobProgressSchema)
def lastfm_import_history():
    """Import the whole Last.fm history in the background; GET this URL for progress."""
    return claims.run_job(tracker.HISTORY, tracker.import_history, lastfm.require_config)


@blp.route("/services/lastfm/import-history")
@blp.response(200, JobProgressSchema)
def lastfm_import_progress():
    """Progress of the Last.fm history import."""
    return tracker.history_progress()
