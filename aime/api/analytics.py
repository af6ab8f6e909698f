"""Listening statistics: top lists, sessions, patterns (under /history) and analytics views.

Every read here depends only on the data, its query string and today's date (open periods end today, streaks
run to today, the longest period allowed counts from today): conditional GETs with `vary=local_today`.
"""
from flask_smorest import Blueprint

from ..config import current_config
from ..errors import NotFound
from ..schemas.analytics import (CompareQuerySchema, ComparisonSchema, DiscoverySchema, HeatmapSchema,
                                 PatternQuerySchema, PatternsSchema, SessionPageSchema, SessionQuerySchema,
                                 StreaksSchema, TopListSchema, TopQuerySchema)
from ..schemas.common import PeriodQuerySchema
from ..services import analytics, sessions, stats
from .conditional import conditional_get, local_today

blp = Blueprint("analytics", __name__, description="Listening statistics and analytics")


@blp.route("/history/top/<kind>")
@conditional_get(blp, vary=local_today)
@blp.arguments(TopQuerySchema, location="query")
@blp.response(200, TopListSchema)
def top(query, kind):
    """Top artists, albums or tracks of a period, by plays or by listening time."""
    if kind not in ("artists", "albums", "tracks"):
        raise NotFound("Top lists exist for artists, albums and tracks.")
    return stats.top_list(current_config(), kind, **query)


@blp.route("/history/sessions")
@conditional_get(blp, vary=local_today)
@blp.arguments(SessionQuerySchema, location="query")
@blp.response(200, SessionPageSchema)
def list_sessions(query):
    """Listening sessions (plays separated by less than min_gap seconds of silence), newest first."""
    return sessions.list_sessions(current_config(), **query)


@blp.route("/history/patterns")
@conditional_get(blp, vary=local_today)
@blp.arguments(PatternQuerySchema, location="query")
@blp.response(200, PatternsSchema)
def patterns(query):
    """Plays by hour and weekday, daily average, artists played in the same sessions."""
    return analytics.patterns(current_config(), **query)


@blp.route("/analytics/listening-heatmap")
@conditional_get(blp, vary=local_today)
@blp.arguments(PeriodQuerySchema, location="query")
@blp.response(200, HeatmapSchema)
def heatmap(query):
    """Weekday × hour matrix of plays."""
    return analytics.heatmap(current_config(), **query)


@blp.route("/analytics/streaks")
@conditional_get(blp, vary=local_today)
@blp.arguments(PeriodQuerySchema, location="query")
@blp.response(200, StreaksSchema)
def streaks(query):
    """Longest and current runs of days with plays."""
    return analytics.streaks(current_config(), **query)


@blp.route("/analytics/discovery")
@conditional_get(blp, vary=local_today)
@blp.arguments(PeriodQuerySchema, location="query")
@blp.response(200, DiscoverySchema)
def discovery(query):
    """Artists and albums first played, per month."""
    return analytics.discovery(current_config(), **query)


@blp.route("/analytics/compare")
@conditional_get(blp, vary=local_today)
@blp.arguments(CompareQuerySchema, location="query")
@blp.response(200, ComparisonSchema)
def compare(query):
    """A period compared with a baseline period."""
    return analytics.compare(current_config(), **query)
