"""Search."""
from flask import jsonify
from flask_smorest import Blueprint

from ..schemas.collection import SearchQuerySchema, SearchResultSchema
from ..services.search import search as run_search
from .conditional import conditional_get

blp = Blueprint("search", __name__, description="Search albums, artists and tracks")


@blp.route("/search")
@conditional_get(blp)
@blp.arguments(SearchQuerySchema, location="query")
@blp.response(200, SearchResultSchema)
def search(query):
    """Find albums, artists and tracks by name."""
    # The service builds the answer in SearchResultSchema's shape (it stays the documented schema): no dump per object.
    return jsonify(run_search(query["q"], query.get("type"), query["limit"]))
