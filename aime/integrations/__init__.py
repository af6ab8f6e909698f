"""HTTP clients for external services (Last.fm, Discogs); base URLs come from configuration."""
