"""SQLAlchemy models, one aggregate per module. Importing this registers every table."""
from .library import AlbumCollection, AlbumCollectionItem, MagazineEdition
from .enrichment import AlbumEnrichment
from .listening import Listen
from .music import Album, AlbumArtist, Artist, Track
from .ops import ImportJob, Playlist, PlaylistTrack, ScheduledTask, ServiceState, Setting, TaskRun
from .rollup import ArtistPlayTotal, GroupPeriodPlay, ListenBucket, MonthQuarterPlay, TrackPeriodPlay, TrackPlayTotal
from .security import RateCounter, WebSession

__all__ = ["Album", "AlbumArtist", "AlbumCollection", "AlbumCollectionItem", "AlbumEnrichment", "Artist",
           "ArtistPlayTotal", "GroupPeriodPlay", "ImportJob", "Listen", "ListenBucket", "MagazineEdition",
           "MonthQuarterPlay", "Playlist", "PlaylistTrack", "RateCounter", "ScheduledTask", "ServiceState",
           "Setting", "TaskRun", "Track", "TrackPeriodPlay", "TrackPlayTotal", "WebSession"]
