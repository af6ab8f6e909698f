"""SQLAlchemy models, one aggregate per module. Importing this registers every table."""
from .listening import Listen
from .music import Album, AlbumArtist, Artist, Track
from .ops import ImportJob, Playlist, PlaylistTrack, ScheduledTask, ServiceState, Setting, TaskRun
from .rollup import ArtistPlayTotal, ListenBucket, TrackPlayTotal
from .security import RateCounter, WebSession

__all__ = ["Album", "AlbumArtist", "Artist", "ArtistPlayTotal", "ImportJob", "Listen", "ListenBucket", "Playlist",
           "PlaylistTrack", "RateCounter", "ScheduledTask", "ServiceState", "Setting", "TaskRun", "Track", "TrackPlayTotal",
           "WebSession"]
