"""SQLAlchemy models, one aggregate per module. Importing this registers every table."""
from .enrichment import AlbumEnrichment
from .listening import Listen
from .music import Album, AlbumArtist, Artist, Track
from .ops import ImportJob, Playlist, PlaylistTrack, ScheduledTask, ServiceState, Setting, TaskRun
from .rollup import ArtistPlayTotal, ListenBucket, TrackPlayTotal

__all__ = ["Album", "AlbumEnrichment", "AlbumArtist", "Artist", "ArtistPlayTotal", "ImportJob", "Listen", "ListenBucket", "Playlist",
           "PlaylistTrack", "ScheduledTask", "ServiceState", "Setting", "TaskRun", "Track", "TrackPlayTotal"]
