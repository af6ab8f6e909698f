"""Collection: albums, artists, collection totals."""
from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from ..schemas import wire
from ..schemas.collection import (AlbumCreateSchema, AlbumDetailSchema, AlbumPageSchema, AlbumPatchSchema,
                                  AlbumQuerySchema, ArtistPageSchema, ArtistQuerySchema, CollectionStatsSchema)
from ..services import collection as service
from ..services import hot_reads
from .conditional import conditional_get

blp = Blueprint("collection", __name__, description="The owned record collection")


@blp.route("/collection/albums")
class AlbumList(MethodView):
    @conditional_get(blp)
    @blp.arguments(AlbumQuerySchema, location="query")
    @blp.response(200, AlbumPageSchema)
    def get(self, query):
        """List collection albums (filters, sort, pages)."""
        # Plain SQL, no per-object schema dump (same body: tests/api/test_wire.py); the schema documents it.
        return jsonify(wire.album_page(hot_reads.album_page(**query)))

    @blp.arguments(AlbumCreateSchema)
    @blp.response(201, AlbumDetailSchema)
    def post(self, data):
        """Add an album to the collection."""
        return service.create_album(data)


@blp.route("/collection/albums/<int:album_id>")
class AlbumItem(MethodView):
    @conditional_get(blp)
    @blp.response(200, AlbumDetailSchema)
    def get(self, album_id):
        """One album with tracks and play count."""
        return jsonify(wire.album_detail(hot_reads.album_detail(album_id)))

    @blp.arguments(AlbumCreateSchema)
    @blp.response(200, AlbumDetailSchema)
    def put(self, data, album_id):
        """Replace an album."""
        return service.update_album(album_id, data, partial=False)

    @blp.arguments(AlbumPatchSchema(partial=True))
    @blp.response(200, AlbumDetailSchema)
    def patch(self, data, album_id):
        """Change some fields of an album."""
        return service.update_album(album_id, data, partial=True)

    @blp.response(204)
    def delete(self, album_id):
        """Remove an album from the collection (its plays stay in the history)."""
        service.delete_album(album_id)


@blp.route("/collection/artists")
@conditional_get(blp)
@blp.arguments(ArtistQuerySchema, location="query")
@blp.response(200, ArtistPageSchema)
def list_artists(query):
    """Artists of the collection with album counts."""
    return service.list_artists(**query)


@blp.route("/collection/stats")
@conditional_get(blp)
@blp.response(200, CollectionStatsSchema)
def collection_stats():
    """Collection totals by support, year and decade."""
    return service.collection_stats()
