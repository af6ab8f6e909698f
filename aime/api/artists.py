"""One artist: albums owned and heard, plays, first and last play, top tracks."""
from flask_smorest import Blueprint

from ..schemas.artists import ArtistDetailSchema
from ..services import artists as service
from .conditional import conditional_get

blp = Blueprint("artists", __name__, description="Artists and their listening")


@blp.route("/collection/artists/<int:artist_id>")
@conditional_get(blp)
@blp.response(200, ArtistDetailSchema)
def artist_detail(artist_id):
    """One artist with their albums (owned and only heard), play counts, first and last play, top tracks."""
    return service.artist_detail(artist_id)
