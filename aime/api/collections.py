"""Named collections of albums, by hand or by a query (or a wish the AI turns into a query)."""
from flask.views import MethodView
from flask_smorest import Blueprint

from ..config import current_config
from ..schemas.collections import (CollectionAlbumsSchema, CollectionCreateSchema, CollectionDetailSchema,
                                   CollectionListSchema, CollectionPatchSchema)
from ..services import collections as service

blp = Blueprint("collections", __name__, description="Named collections of albums")


@blp.route("/collections")
class CollectionList(MethodView):
    @blp.response(200, CollectionListSchema)
    def get(self):
        """Every collection with its album count."""
        return {"items": service.list_collections(current_config())}

    @blp.arguments(CollectionCreateSchema)
    @blp.response(201, CollectionDetailSchema)
    def post(self, data):
        """Create a collection: by hand (album_ids), by a query, or by a free-text wish (AI)."""
        return service.create_collection(current_config(), data)


@blp.route("/collections/<int:collection_id>")
class CollectionItem(MethodView):
    @blp.response(200, CollectionDetailSchema)
    def get(self, collection_id):
        """One collection with its albums and why each is in it."""
        return service.get_collection(current_config(), collection_id)

    @blp.arguments(CollectionPatchSchema)
    @blp.response(200, CollectionDetailSchema)
    def patch(self, data, collection_id):
        """Rename, describe, or change the query."""
        return service.update_collection(current_config(), collection_id, data)

    @blp.response(204)
    def delete(self, collection_id):
        """Delete a collection (its albums stay in the library)."""
        service.delete_collection(collection_id)


@blp.route("/collections/<int:collection_id>/albums", methods=["POST"])
@blp.arguments(CollectionAlbumsSchema)
@blp.response(200, CollectionDetailSchema)
def add_albums(data, collection_id):
    """Put albums into a collection made by hand (409 for a query collection)."""
    return service.add_albums(current_config(), collection_id, data["album_ids"], data.get("reason"))


@blp.route("/collections/<int:collection_id>/albums/<int:album_id>", methods=["DELETE"])
@blp.response(200, CollectionDetailSchema)
def remove_album(collection_id, album_id):
    """Take an album out of a collection made by hand."""
    return service.remove_album(current_config(), collection_id, album_id)
