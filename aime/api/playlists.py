"""Playlists: manual, generated, and exported as files."""
from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from ..config import current_config
from ..schemas.playlists import (ExportQuerySchema, PlaylistCreateSchema, PlaylistGenerateSchema,
                                 PlaylistListSchema, PlaylistSchema)
from ..services import playlist_export, playlists as service

blp = Blueprint("playlists", __name__, description="Playlists")


@blp.route("/playlists")
class Playlists(MethodView):
    """The list of playlists, and making a manual one."""

    @blp.response(200, PlaylistListSchema)
    def get(self):
        """Every playlist, newest first."""
        return service.list_playlists()

    @blp.arguments(PlaylistCreateSchema)
    @blp.response(201, PlaylistSchema)
    def post(self, data):
        """A manual playlist from track ids."""
        return service.create_playlist(data)


@blp.route("/playlists/generate", methods=["POST"])
@blp.arguments(PlaylistGenerateSchema)
@blp.response(201, PlaylistSchema)
def generate(data):
    """Generate a playlist from the listening history (deterministic for a given seed)."""
    return service.generate_playlist(current_config(), data)


@blp.route("/playlists/<int:playlist_id>")
class PlaylistItem(MethodView):
    """One playlist."""

    @blp.response(200, PlaylistSchema)
    def get(self, playlist_id):
        """One playlist with its tracks."""
        return service.get_playlist(playlist_id)

    @blp.response(204)
    def delete(self, playlist_id):
        """Delete a playlist."""
        service.delete_playlist(playlist_id)


@blp.route("/playlists/<int:playlist_id>/export")
@blp.arguments(ExportQuerySchema, location="query")
@blp.response(200)
def export(query, playlist_id):
    """The playlist as an m3u, xspf, json, csv or txt file."""
    body, mimetype, filename = playlist_export.export_playlist(current_config(), playlist_id, query["format"])
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
