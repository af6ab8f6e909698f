"""The `ai_generated` playlist: the AI picks, in order, among candidate tracks we give it."""
from __future__ import annotations

import json
import random
import re

from ..config import Config
from ..errors import NotConfigured
from ..integrations import ai

# Keep the prompt (and the bill) small: the model sees at most this many candidates, chosen by the caller's rng.
MAX_CANDIDATES = 150
_ARRAY = re.compile(r"\[[^\[\]]*\]", re.S)


def generate_ai_playlist(config: Config, prompt: str | None, candidates: list[dict], max_tracks: int,
                         rng: random.Random) -> list[int]:
    """Track ids chosen by the AI among candidates (dicts with track_id, title, artist), at most max_tracks."""
    if not ai.is_configured(config):
        raise NotConfigured(ai.NOT_CONFIGURED)
    pool = list(candidates)
    rng.shuffle(pool)
    pool = pool[:MAX_CANDIDATES]
    if not pool:
        return []
    listing = "\n".join(_line(item) for item in pool)
    wish = (prompt or "").strip()[:500] or "a pleasant, coherent listening session"
    messages = [
        {"role": "system", "content": "You build playlists. You only pick tracks from the list you are given. "
                                      "Answer with a JSON array of track ids and nothing else."},
        {"role": "user", "content": f"Build a playlist of at most {max_tracks} tracks for: {wish}\n"
                                    f"Order them as they should be played. Candidate tracks (id: artist - title):\n"
                                    f"{listing}"},
    ]
    answer = ai.chat(config, messages, max_tokens=max(64, 8 * max_tracks), temperature=0.7)
    chosen = _pick(answer, {int(item["track_id"]) for item in pool}, max_tracks)
    if not chosen:
        raise ai.AIUnavailable("The AI answer named none of the candidate tracks.")
    return chosen


def _line(item: dict) -> str:
    album = f" [{item['album']}]" if item.get("album") else ""
    return f"{int(item['track_id'])}: {item.get('artist') or '?'} - {item.get('title') or '?'}{album}"


def _pick(answer: str, allowed: set[int], limit: int) -> list[int]:
    """Ids from the answer (a JSON array, else any numbers in it), kept only if allowed, first occurrence wins."""
    numbers: list = []
    match = _ARRAY.search(answer or "")
    if match:
        try:
            numbers = json.loads(match.group(0))
        except ValueError:
            numbers = []
    if not isinstance(numbers, list) or not numbers:
        numbers = re.findall(r"\d+", answer or "")
    chosen: list[int] = []
    for raw in numbers:
        if isinstance(raw, dict):  # some models answer [{"track_id": 12}, ...]
            raw = raw.get("track_id", raw.get("id"))
        try:
            value = int(raw)
        except (TypeError, ValueError):
            continue
        if value in allowed and value not in chosen:
            chosen.append(value)
        if len(chosen) >= limit:
            break
    return chosen
