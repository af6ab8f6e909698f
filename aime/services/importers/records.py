"""What a parser yields: plays, collection entries, and rows it could not use (with their line)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Play:
    """One listen read from a file; played_at is the START of the play, UTC epoch seconds."""

    line: int
    artist: str
    title: str
    album: str | None
    played_at: int
    loved: bool = False
    client: str | None = None
    # What some sources know beyond the song and the instant; None = unknown (never erases a stored value).
    duration_seconds: int | None = None  # the track's length
    listened_seconds: int | None = None  # how long this play lasted (Spotify ms_played)
    recording_mbid: str | None = None
    release_mbid: str | None = None
    artist_mbid: str | None = None
    spotify_uri: str | None = None


@dataclass(slots=True)
class CollectionEntry:
    """One owned record read from a collection export."""

    line: int
    artists: list[str]
    title: str
    year: int | None = None
    support: str | None = None
    labels: list[str] = field(default_factory=list)
    catalog_number: str | None = None
    discogs_id: int | None = None


@dataclass(slots=True)
class Skipped:
    """A well-formed row that is deliberately not imported (podcast, too short, ...)."""

    line: int
    reason: str


@dataclass(slots=True)
class Malformed:
    """A row that could not be read; reported with its line and skipped."""

    line: int
    error: str


@dataclass(slots=True)
class KnownRows:
    """Consecutive rows that a parser found, from their raw fields, to be plays already stored with nothing to
    teach (`pipeline.KnownPlays`): counted as duplicates without building their Play.

    Row i is kept as its line, its raw fields other than the time (one tuple shared by every row of the same
    fields) and its time: plain lists of shared objects, so a million rows add no object for the garbage collector
    to follow. The finding holds only while the set it was made with does (`generation`): when another connection
    committed meanwhile, `build(line, fields, time)` turns each row into its Play after all.
    """

    lines: list[int]
    fields: list[tuple]
    moments: list[int]
    build: Callable[[int, tuple, int], Play]
    generation: int

    def __len__(self) -> int:
        return len(self.lines)

    def cut(self, start: int, stop: int | None = None) -> KnownRows:
        """Rows start to stop (as a slice)."""
        return KnownRows(self.lines[start:stop], self.fields[start:stop], self.moments[start:stop], self.build,
                         self.generation)

    def plays(self) -> list[Play]:
        """The rows' plays, built."""
        return list(map(self.build, self.lines, self.fields, self.moments))


class FatalFormatError(Exception):
    """The rest of the file cannot be read (broken JSON structure, huge value); carries the line."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message
