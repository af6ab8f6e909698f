"""What a play teaches about what is stored: its album, track length, MusicBrainz ids, Spotify URI, listened time.

Every optional Play field maps to one stored column (FIELDS), so a new source only has to fill the Play.
A stored value is never erased or overwritten: an empty column takes the play's value, a different value is
reported as a conflict. A play stored without an album that comes again with its album moves to the album's
track, and the album-less track is merged into the album's track when the song is on exactly one album.
"""
from __future__ import annotations

from operator import attrgetter

from sqlalchemy import text

from .. import rollups
from ..sql_lists import ids_text
from .records import Play
from .resolve import chunks

# Play field -> (table, column). Tracks carry what identifies the recording, albums the release, artists the
# performer; the listen carries what belongs to this one play.
FIELDS = {
    "duration_seconds": ("tracks", "duration_seconds"),
    "recording_mbid": ("tracks", "recording_mbid"),
    "spotify_uri": ("tracks", "spotify_uri"),
    "release_mbid": ("albums", "release_mbid"),
    "artist_mbid": ("artists", "artist_mbid"),
}
LISTEN_FIELDS = ("listened_seconds", "client")
SECONDS = frozenset({"duration_seconds", "listened_seconds"})  # sources round milliseconds differently
MAX_CONFLICTS = 1000  # per batch; the job keeps at most runner.MAX_REPORTED
_details = attrgetter(*FIELDS)
_listen_details = attrgetter(*LISTEN_FIELDS)
_NOTHING = (None,) * len(FIELDS)
details = _details  # a play's FIELDS values, in order (pipeline.KnownPlays compares them)
NOTHING = _NOTHING


def same(field: str, stored, new) -> bool:
    """Whether a stored value and a new one agree (lengths within a second, ids exactly)."""
    if field in SECONDS:
        return abs(int(stored) - int(new)) <= 1
    return stored == new


def apply(session, cache, plays: list[Play], resolved, matched: list[tuple[int, int, int]], result) -> None:
    """Enrich what the batch's plays point at; `matched` = (play index, stored track, stored time) of duplicates."""
    targets = [track_id for track_id, _song in resolved]
    taught: set[int] = set()  # indexes of duplicates that brought something
    moved = _move_to_albums(session, cache, plays, resolved, matched, targets, taught, result)
    if any(_listen_details(plays[i]) != (None, None) for i, _t, _at in matched):
        _fill_listens(session, plays, matched, targets, taught, result)
    _fill_details(session, cache, plays, targets, {i for i, _t, _at in matched}, taught, result)
    if moved:
        _merge_loose_tracks(session, cache, moved)
    result.enriched += len(taught)
    # One line per disagreement about a track (a Spotify track relinked to another URI repeats on every play).
    unique: dict[tuple, dict] = {}
    for conflict in result.conflicts:
        key = (conflict["track"], conflict["field"], str(conflict["stored"]), str(conflict["file"]))
        if conflict["field"] in LISTEN_FIELDS:
            key += (conflict["line"],)  # listened time and client belong to one play each
        unique.setdefault(key, conflict)
    result.conflicts[:] = unique.values()


def _conflict(result, play: Play, field: str, stored, new) -> None:
    if len(result.conflicts) < MAX_CONFLICTS:
        result.conflicts.append({"line": play.line, "track": f"{play.artist} – {play.title}", "field": field,
                                 "stored": stored, "file": new})


def _move_to_albums(session, cache, plays, resolved, matched, targets, taught, result) -> dict[int, set[int]]:
    """Move stored album-less plays that this file knows the album of; returns {loose track: album tracks}."""
    moves: dict[tuple[int, int], int] = {}
    album_conflicts = []
    for i, stored_track, at in matched:
        incoming = resolved[i][0]
        targets[i] = stored_track
        if incoming == stored_track:
            continue
        stored_album, new_album = cache.album_of.get(stored_track), cache.album_of.get(incoming)
        if new_album is None:
            continue
        if stored_album is None:
            moves.setdefault((stored_track, at), incoming)
            targets[i] = moves[(stored_track, at)]
            taught.add(i)
        elif stored_album != new_album:
            album_conflicts.append((i, stored_album))
    if album_conflicts:
        titles = dict(session.execute(ids_text("SELECT id, title FROM albums WHERE id IN :ids"),
                                      {"ids": sorted({a for _i, a in album_conflicts})}).all())
        for i, album_id in album_conflicts:
            _conflict(result, plays[i], "album", titles.get(album_id), plays[i].album)
    if not moves:
        return {}
    session.execute(text(
        "UPDATE listens SET track_id = :new WHERE track_id = :old AND played_at = :at AND NOT EXISTS "
        "(SELECT 1 FROM listens other WHERE other.track_id = :new AND other.played_at = :at)"),
        [{"old": old, "at": at, "new": new} for (old, at), new in moves.items()])
    loose: dict[int, set[int]] = {}
    for (old, _at), new in moves.items():
        loose.setdefault(old, set()).add(new)
    _carry_loved(session, loose)
    rollups.tracks_recounted(session, set(loose) | {t for news in loose.values() for t in news})
    return loose


def _carry_loved(session, loose: dict[int, set[int]]) -> None:
    loved = {row[0] for row in session.execute(
        ids_text("SELECT id FROM tracks WHERE loved = true AND id IN :ids"), {"ids": sorted(loose)})}
    news = sorted({t for old in loved for t in loose[old]})
    if news:
        session.execute(ids_text("UPDATE tracks SET loved = true WHERE id IN :ids"),
                        {"ids": news})


def _fill_listens(session, plays, matched, targets, taught, result) -> None:
    """Listened time and client of stored plays that lacked them (duplicates only: new plays carry theirs)."""
    wanted = {(targets[i], at): i for i, _t, at in matched if _listen_details(plays[i]) != (None, None)}
    stored = {}
    for part in chunks(sorted({t for t, _at in wanted})):
        lo, hi = min(at for _t, at in wanted), max(at for _t, at in wanted)
        for row in session.execute(ids_text(
                "SELECT track_id, played_at, listened_seconds, client FROM listens WHERE track_id IN :ids "
                "AND played_at BETWEEN :lo AND :hi"), {"ids": list(part), "lo": lo, "hi": hi}):
            stored[(row[0], row[1])] = (row[2], row[3])
    updates = {field: [] for field in LISTEN_FIELDS}
    for key, i in wanted.items():
        if key not in stored:
            continue
        for field, old, new in zip(LISTEN_FIELDS, stored[key], _listen_details(plays[i]), strict=True):
            if new is None:
                continue
            if old is None:
                updates[field].append({"track": key[0], "at": key[1], "value": new})
                taught.add(i)
            elif not same(field, old, new):
                _conflict(result, plays[i], field, old, new)
    for field, rows in updates.items():
        if rows:
            session.execute(text(f"UPDATE listens SET {field} = :value WHERE track_id = :track AND played_at = :at "
                                 f"AND {field} IS NULL"), rows)
    if updates["listened_seconds"]:
        rollups.tracks_recounted(session, {row["track"] for row in updates["listened_seconds"]})


def _fill_details(session, cache, plays, targets, duplicates: set[int], taught, result) -> None:
    """Track, album and artist columns (FIELDS) that are empty take the first value a play of the batch gives."""
    wanted = _wanted_details(cache, plays, targets, result)
    if not wanted:
        return
    for table in ("tracks", "albums", "artists"):
        _store_details(session, table, wanted, plays, duplicates, taught, result)


def _wanted_details(cache, plays, targets, result) -> dict[tuple[str, int, str], tuple[object, int]]:
    """(table, id, column) -> (value, play index) of the first play of the batch that gives it."""
    wanted: dict[tuple[str, int, str], tuple[object, int]] = {}
    known: set[tuple] = set()  # (track, details) already looked at: a later equal play changes nothing
    for i, details in enumerate(map(_details, plays)):
        if details == _NOTHING or (targets[i], details) in known:
            continue
        track = targets[i]
        known.add((track, details))
        owners = {"tracks": track, "albums": cache.album_of.get(track), "artists": cache.song_of[track][0]}
        for field, value in zip(FIELDS, details, strict=True):
            table, column = FIELDS[field]
            if value is None or owners[table] is None:
                continue
            key = (table, owners[table], column)
            if key not in wanted:
                wanted[key] = (value, i)
            elif not same(field, wanted[key][0], value):
                _conflict(result, plays[i], field, wanted[key][0], value)  # the file disagrees with itself
    return wanted


def _store_details(session, table: str, wanted: dict, plays, duplicates: set[int], taught, result) -> None:
    """Fill the empty columns of one table from `wanted`; a different stored value is a conflict."""
    fields_of = {column: field for field, (_table, column) in FIELDS.items()}
    columns = sorted({c for t, _id, c in wanted if t == table})
    ids = sorted({id_ for t, id_, _c in wanted if t == table})
    if not ids:
        return
    stored = {}
    for part in chunks(ids):
        query = ids_text(f"SELECT id, {', '.join(columns)} FROM {table} WHERE id IN :ids")
        for row in session.execute(query, {"ids": list(part)}):
            stored[row[0]] = dict(zip(columns, row[1:], strict=True))
    updates: dict[str, list[dict]] = {}
    for (t, id_, column), (value, i) in wanted.items():
        if t != table or id_ not in stored:
            continue
        old = stored[id_][column]
        if old is None:
            updates.setdefault(column, []).append({"id": id_, "value": value})
            if i in duplicates:
                taught.add(i)
        elif not same(fields_of[column], old, value):
            _conflict(result, plays[i], fields_of[column], old, value)
    for column, rows in updates.items():
        session.execute(text(f"UPDATE {table} SET {column} = :value WHERE id = :id AND {column} IS NULL"), rows)


def _merge_loose_tracks(session, cache, loose: dict[int, set[int]]) -> None:
    """Fold each album-less track into its song's album track when there is exactly one; drop emptied ones."""
    for old in sorted(loose):
        song = cache.song_of.get(old)
        on_albums = [t for t in cache.siblings.get(song, ()) if cache.album_of.get(t) is not None]
        if len(on_albums) == 1:
            merge_tracks(session, old, on_albums[0])
        elif not session.execute(text("SELECT 1 FROM listens WHERE track_id = :id LIMIT 1"), {"id": old}).first() \
                and not session.execute(text("SELECT 1 FROM playlist_tracks WHERE track_id = :id LIMIT 1"),
                                        {"id": old}).first():
            session.execute(text("DELETE FROM track_play_totals WHERE track_id = :id"), {"id": old})
            session.execute(text("DELETE FROM tracks WHERE id = :id"), {"id": old})
    cache.clear()  # track ids went away: the next batch reloads them


def merge_tracks(session, old: int, new: int) -> None:
    """Move everything of track `old` (plays, playlist entries, love, known details) to `new`, then delete it."""
    params = {"old": old, "new": new}
    session.execute(text(
        "UPDATE listens SET track_id = :new WHERE track_id = :old AND NOT EXISTS "
        "(SELECT 1 FROM listens other WHERE other.track_id = :new AND other.played_at = listens.played_at)"), params)
    gone = session.execute(text("SELECT track_id, played_at FROM listens WHERE track_id = :old"), params).all()
    session.execute(text("DELETE FROM listens WHERE track_id = :old"), params)  # the same instant on both: one play
    session.execute(text("UPDATE playlist_tracks SET track_id = :new WHERE track_id = :old"), params)
    keep = ", ".join(f"{column} = COALESCE({column}, (SELECT {column} FROM tracks o WHERE o.id = :old))"
                     for table, column in FIELDS.values() if table == "tracks")
    session.execute(text(f"UPDATE tracks SET {keep}, loved = (loved OR (SELECT loved FROM tracks o WHERE o.id = :old)) "
                         "WHERE id = :new"), params)
    session.execute(text("DELETE FROM track_play_totals WHERE track_id = :old"), params)
    session.execute(text("DELETE FROM tracks WHERE id = :old"), params)
    rollups.tracks_recounted(session, {new})
    if gone:
        rollups.listens_removed(session, [tuple(row) for row in gone])
