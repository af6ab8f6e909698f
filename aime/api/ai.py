"""AI writing: album descriptions and haikus (503 "AI is not configured" without an endpoint)."""
from flask_smorest import Blueprint

from .. import auth
from ..config import current_config
from ..schemas.ai import AlbumDescriptionSchema, EnrichAllSchema, EnrichResultSchema, HaikuQuerySchema, HaikuSchema
from ..services import ai_writing

blp = Blueprint("ai", __name__, description="AI writing (any OpenAI-compatible chat endpoint)")


@blp.route("/services/ai/enrich-album/<int:album_id>", methods=["POST"])
@blp.response(200, AlbumDescriptionSchema)
def enrich_album(album_id):
    """Write (or rewrite) an album's AI description."""
    return ai_writing.describe_album(current_config(), album_id)


@blp.route("/services/ai/enrich-all", methods=["POST"])
@blp.arguments(EnrichAllSchema, required=False)
@blp.response(200, EnrichResultSchema)
def enrich_all(data):
    """Describe up to `limit` owned albums that have no description yet."""
    return ai_writing.enrich_all(current_config(), (data or {}).get("limit", 25))


@blp.route("/history/haiku")
@blp.arguments(HaikuQuerySchema, location="query")
@blp.response(200, HaikuSchema)
def haiku(query):
    """A haiku about the last `days` days of listening (anonymous callers: AIME_AI_ANONYMOUS_PER_HOUR AI calls)."""
    return ai_writing.listening_haiku(current_config(), query["days"], auth.paid_call_budget())
