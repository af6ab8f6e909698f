"""The enrichment settings: defaults, overrides, and a bad value stops the start naming the variable."""
from __future__ import annotations

import pytest

from aime.config import Config, ConfigError


def test_defaults_point_at_the_real_services_and_nothing_is_on():
    config = Config.from_env({})
    assert (config.musicbrainz_contact, config.spotify_client_id) == (None, None)
    assert config.musicbrainz_base_url == "https://musicbrainz.org/ws/2"
    assert config.coverart_base_url == "https://coverartarchive.org"
    assert (config.spotify_base_url, config.spotify_accounts_url) == ("https://api.spotify.com/v1",
                                                                      "https://accounts.spotify.com")
    assert (config.cover_max_mb, config.cover_thumb_px) == (10, 300)


def test_overrides_are_read_and_trailing_slashes_dropped():
    config = Config.from_env({"AIME_MUSICBRAINZ_CONTACT": "me@example.org",
                              "AIME_MUSICBRAINZ_BASE_URL": "http://127.0.0.1:5000/ws/2/",
                              "AIME_SPOTIFY_ACCOUNTS_URL": "http://127.0.0.1:5001/", "AIME_COVER_MAX_MB": "3"})
    assert config.musicbrainz_contact == "me@example.org"
    assert config.musicbrainz_base_url == "http://127.0.0.1:5000/ws/2"
    assert config.spotify_accounts_url == "http://127.0.0.1:5001"
    assert config.cover_max_mb == 3


@pytest.mark.parametrize("name, value, message", [
    ("AIME_COVERART_BASE_URL", "ftp://covers", "AIME_COVERART_BASE_URL must be an http(s) URL"),
    ("AIME_SPOTIFY_BASE_URL", "not a url", "AIME_SPOTIFY_BASE_URL must be an http(s) URL"),
    ("AIME_COVER_MAX_MB", "0", "AIME_COVER_MAX_MB='0' must be at least 1"),
    ("AIME_COVER_THUMB_PX", "big", "AIME_COVER_THUMB_PX='big' is not a whole number")])
def test_bad_values_name_the_variable(name, value, message):
    with pytest.raises(ConfigError) as info:
        Config.from_env({name: value})
    assert str(info.value) == message
