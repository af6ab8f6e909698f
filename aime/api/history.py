"""History: the journal, recording plays, loving tracks, timeline and statistics."""
from flask import Response, current_app, jsonify, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from ..config import current_config
from ..schemas import wire
from ..schemas.history import (AlbumListenResultSchema, AlbumListenSchema, HistoryExportQuerySchema,
                               HistoryStatsSchema, JournalPageSchema, JournalQuerySchema, ListenCreateSchema,
                               ListenSchema, LoveResultSchema, LoveSchema, StatsQuerySchema, TimelineQuerySchema,
                               TimelineSchema, timeline_body)
from ..services import history as service
from ..services import hot_reads
from ..services import history_export
from ..services import stats
from .conditional import conditional_get, local_today

blp = Blueprint("history", __name__, description="Listening history")


@blp.route("/history/tracks")
class Journal(MethodView):
    @conditional_get(blp)
    @blp.arguments(JournalQuerySchema, location="query")
    @blp.response(200, JournalPageSchema)
    def get(self, query):
        """The journal: plays newest first."""
        # Plain SQL, no per-object schema dump (same body: tests/api/test_wire.py); the schema documents it.
        return jsonify(wire.journal_page(hot_reads.journal(current_config(), **query)))

    @blp.arguments(ListenCreateSchema)
    @blp.response(201, ListenSchema)
    def post(self, data):
        """Record a play (now or back-dated)."""
        return service.record_listen(current_config(), data)


@blp.route("/history/albums/<int:album_id>/listen", methods=["POST"])
@blp.arguments(AlbumListenSchema(), required=False)
@blp.response(201, AlbumListenResultSchema)
def listen_to_album(data, album_id):
    """Record a whole record (or some tracks of it) played."""
    return service.listen_to_album(current_config(), album_id, data or {})


@blp.route("/history/tracks/<int:track_id>/love", methods=["POST"])
@blp.arguments(LoveSchema, required=False)
@blp.response(200, LoveResultSchema)
def love_track(data, track_id):
    """Love or unlove a track; no body (or no `loved`) toggles."""
    return service.set_loved(track_id, (data or {}).get("loved"))


@blp.route("/history/timeline")
@conditional_get(blp, vary=local_today)
@blp.arguments(TimelineQuerySchema, location="query")
@blp.response(200, TimelineSchema)
def timeline(query):
    """One local day of plays by hour."""
    day = timeline_body(service.timeline(current_config(), query.get("date"), query.get("tz")))
    # Hours in hour order (0..23): the app's JSON sorts keys as text ("0", "1", "10", ...), and scripts
    # reading other bodies rely on that order, so only this body is written unsorted.
    return current_app.response_class(current_app.json.dumps(day, sort_keys=False) + "\n",
                                      mimetype="application/json")


@blp.route("/history/export")
@blp.arguments(HistoryExportQuerySchema, location="query")
@blp.response(200, content_type="application/zip")
def export_history(query):
    """The plays of a period (default: all) as a streamed file: ListenBrainz zip, JSON Lines or Last.fm CSV."""
    fmt = query.pop("format")
    chunks = history_export.stream(current_config(), fmt, **query)
    response = Response(stream_with_context(chunks), content_type=history_export.FORMATS[fmt][1])
    response.headers["Content-Disposition"] = f'attachment; filename="{history_export.filename(fmt)}"'
    return response


@blp.route("/history/stats")
@conditional_get(blp, vary=local_today)
@blp.arguments(StatsQuerySchema, location="query")
@blp.response(200, HistoryStatsSchema)
def history_stats(query):
    """Totals and top lists of a period."""
    return stats.history_stats(current_config(), **query)
