"""Enrichment on demand: one album now, or the whole collection in the background with progress."""
from flask_smorest import Blueprint

from ..config import current_config
from ..schemas.enrichment import EnrichmentProgressSchema, EnrichmentReportSchema
from ..jobs import enrichment_jobs
from ..services import enrichment

blp = Blueprint("enrichment", __name__, description="Covers and metadata from MusicBrainz, Discogs, Spotify, Last.fm")


@blp.route("/services/enrich/albums/<int:album_id>", methods=["POST"])
@blp.response(200, EnrichmentReportSchema)
def enrich_album(album_id):
    """Enrich one album now and report what changed (503 when no source is configured)."""
    return enrichment.enrich_album(current_config(), album_id)


@blp.route("/services/enrich/albums/<int:album_id>")
@blp.response(200, EnrichmentReportSchema)
def album_report(album_id):
    """The album's last enrichment: status, changes, ambiguities, errors, cover, fields the user set."""
    return enrichment.album_enrichment(album_id)


@blp.route("/services/enrich/all", methods=["POST"])
@blp.response(202, EnrichmentProgressSchema)
def enrich_all():
    """Enrich every collection album that needs it, in the background (an interrupted run is resumed)."""
    return enrichment_jobs.start_background()


@blp.route("/services/enrich/all")
@blp.response(200, EnrichmentProgressSchema)
def enrich_all_progress():
    """Progress of the running or last whole-collection run."""
    return enrichment_jobs.progress()
