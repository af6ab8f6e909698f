"""A free-text wish ("something calm from the seventies on vinyl") turned by the AI into a collection query.

The AI only ever proposes a query; the query is validated like one typed by hand and then run over the library,
so a collection can never hold an album the library does not have.
"""
from __future__ import annotations

import json
import re

from marshmallow import EXCLUDE, ValidationError
from sqlalchemy import func, select

from ..config import Config
from ..extensions import db
from ..integrations import ai
from ..models import Album
from ..schemas.collections import CollectionQuerySchema
from .collection_queries import CRITERIA, FACTS

WISH_PROMPT = """Turn this wish about records into a JSON query over my record collection.
Wish: {wish}
Answer with one JSON object only, using only these keys (all optional, at least one of them):
  "genre": text contained in the genre; one of: {genres}
  "support": exactly one of: {supports}
  "artist": text contained in an artist's name
  "label": text contained in a record label's name
  "year_from", "year_to": release years (integers)
  "fact": one of {facts} ({fact_help})
  "days": integer, only with "not_played_for_days"
  "limit": how many records, 1 to 100
"""
FACT_HELP = ("not_played_for_days = owned and not played for `days` days; never_played; most_played; "
             "winter_evenings = played most on December-February evenings")
_OBJECT = re.compile(r"\{.*\}", re.S)


def wish_to_query(config: Config, wish: str) -> dict:
    """Ask the AI for a query matching `wish`; 503 without AI, 503 (ai-unavailable) when its answer is unusable."""
    if not ai.is_configured(config):
        raise ai.NotConfigured(ai.NOT_CONFIGURED)
    prompt = WISH_PROMPT.format(wish=wish.strip(), genres=_values(Album.genre), supports=_values(Album.support),
                                facts=", ".join(FACTS), fact_help=FACT_HELP)
    db.session.rollback()  # hold no read transaction while waiting on the network
    answer = ai.chat(config, [{"role": "system", "content": "You answer with JSON only."},
                              {"role": "user", "content": prompt}], max_tokens=200, temperature=0.2)
    match = _OBJECT.search(answer or "")
    try:
        query = CollectionQuerySchema().load(json.loads(match.group(0)) if match else None, unknown=EXCLUDE)
    except (ValueError, TypeError, ValidationError):
        raise ai.AIUnavailable("The AI endpoint did not answer with a usable query for this wish.") from None
    if not any(query.get(key) not in (None, "") for key in CRITERIA):
        raise ai.AIUnavailable("The AI endpoint answered a query without any criterion for this wish.")
    return query


def _values(column, limit: int = 40) -> str:
    rows = db.session.scalars(select(column).where(Album.in_collection.is_(True), column.is_not(None))
                              .group_by(column).order_by(func.count().desc(), column).limit(limit)).all()
    return ", ".join(json.dumps(value, ensure_ascii=False) for value in rows) or "(none yet)"
