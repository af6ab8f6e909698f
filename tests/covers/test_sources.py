"""Each source against a local HTTP server answering like the real one: shapes, errors, 429, timeouts, pacing."""
from __future__ import annotations

import json
import time

import pytest
from werkzeug import Response

from aime.integrations.discogs import DiscogsClient
from aime.integrations.http import IntegrationError, RetryPolicy
from aime.integrations.images import ImageFetcher, ImageRefused
from aime.integrations.lastfm import LastfmClient
from aime.integrations.musicbrainz import CoverArtArchive, MusicBrainzClient
from aime.integrations.spotify import SpotifyClient
from tests.covers import fakes
from tests.covers.conftest import image_bytes
from tests.support.polling import poll

FAST = RetryPolicy(attempts=3, budget=10, initial=0.01, maximum=0.02)


class Sleeps(list):
    """Records the pauses a client asked for instead of sleeping them."""

    def __call__(self, seconds):
        self.append(round(seconds, 3))


def test_musicbrainz_search_names_a_contact_and_reads_release_groups(httpserver):
    httpserver.expect_request("/ws/2/release-group").respond_with_json(fakes.mb_search(fakes.mb_release_group()))
    client = MusicBrainzClient(httpserver.url_for("/ws/2"), "me@example.org", policy=FAST, sleep=Sleeps())
    [candidate] = client.search_release_groups("Björk", 'Homo"genic')
    assert (candidate.ref, candidate.artist, candidate.title, candidate.year) == (fakes.RG_ID, "Björk", "Homogenic",
                                                                                   1997)
    assert candidate.data == {"musicbrainz_release_group_id": fakes.RG_ID, "primary_type": "Album",
                              "release_mbid": fakes.RELEASE_ID, "year": 1997}
    request, _ = httpserver.log[0]
    assert request.headers["User-Agent"].endswith("( me@example.org )")
    assert request.args["query"] == 'releasegroup:"Homo\\"genic" AND artist:"Björk"'
    assert request.args["fmt"] == "json"


def test_musicbrainz_is_paced_to_one_request_a_second(httpserver):
    httpserver.expect_request("/ws/2/release-group").respond_with_json(fakes.mb_search())
    sleeps, now = Sleeps(), [100.0]
    client = MusicBrainzClient(httpserver.url_for("/ws/2"), "me@example.org", policy=FAST, sleep=sleeps,
                               clock=lambda: now[0])
    client.search_release_groups("A", "B")
    client.search_release_groups("A", "B")  # at once: waits the whole second after the first answer
    now[0] += 0.75
    client.search_release_groups("A", "B")  # 0.75 s after the second answer: the rest of the second
    assert sleeps == [1.0, 0.25]
    assert len(httpserver.log) == 3


def test_musicbrainz_pacing_counts_from_the_answer_not_the_sending(httpserver):
    now = [100.0]

    def slow_answer(_request):
        now[0] += 0.4  # the answer takes 0.4 s on the client's clock
        return Response(json.dumps(fakes.mb_search()), content_type="application/json")

    httpserver.expect_request("/ws/2/release-group").respond_with_handler(slow_answer)
    sleeps = Sleeps()
    client = MusicBrainzClient(httpserver.url_for("/ws/2"), "me@example.org", policy=FAST, sleep=sleeps,
                               clock=lambda: now[0])
    client.search_release_groups("A", "B")
    client.search_release_groups("A", "B")
    assert sleeps == [1.0]  # a whole second after the first answer (counting from its sending: 0.6)


def test_musicbrainz_503_with_retry_after_is_waited_out(httpserver):
    httpserver.expect_ordered_request("/ws/2/release-group").respond_with_data(
        "<html>rate limited</html>", status=503, headers={"Retry-After": "2"})
    httpserver.expect_ordered_request("/ws/2/release-group").respond_with_json(fakes.mb_search(fakes.mb_release_group()))
    sleeps = Sleeps()
    client = MusicBrainzClient(httpserver.url_for("/ws/2"), "me@example.org", policy=FAST, sleep=sleeps,
                               clock=lambda: 0.0)
    assert len(client.search_release_groups("Björk", "Homogenic")) == 1
    assert sleeps == [2.0]


def test_musicbrainz_garbage_is_a_clear_error(httpserver):
    httpserver.expect_request("/ws/2/release-group").respond_with_json({"unexpected": []})
    client = MusicBrainzClient(httpserver.url_for("/ws/2"), "me@example.org", policy=FAST, sleep=Sleeps())
    with pytest.raises(IntegrationError, match="MusicBrainz sent a search result that AIME cannot read"):
        client.search_release_groups("A", "B")


def test_cover_art_archive_front_image_or_none(httpserver):
    httpserver.expect_request(f"/caa/release-group/{fakes.RG_ID}").respond_with_json(
        fakes.caa_listing("http://img.example/front.jpg"))
    httpserver.expect_request("/caa/release-group/no-cover").respond_with_data("Not Found", status=404)
    caa = CoverArtArchive(httpserver.url_for("/caa"), policy=FAST, sleep=Sleeps())
    assert caa.front_url(fakes.RG_ID) == "http://img.example/front.jpg"
    assert caa.front_url("no-cover") is None


def test_spotify_token_is_cached_until_it_expires(httpserver):
    httpserver.expect_request("/accounts/api/token", method="POST").respond_with_json(fakes.spotify_token())
    httpserver.expect_request("/v1/search").respond_with_json(fakes.spotify_search(fakes.spotify_album()))
    now = [0.0]
    client = SpotifyClient(httpserver.url_for("/v1"), httpserver.url_for("/accounts"), "id", "secret",
                           policy=FAST, sleep=Sleeps(), clock=lambda: now[0])
    [album] = client.search_albums("Björk", "Homogenic")
    client.search_albums("Björk", "Homogenic")
    assert client.tokens_fetched == 1
    assert (album.artist, album.title, album.year, album.track_count) == ("Björk", "Homogenic", 1997, 10)
    assert album.data["spotify_url"] == "https://open.spotify.com/album/3icIEOIT2NnVvRSsMjpVFb"
    now[0] = 3600 - 60  # a minute before expiry counts as expired
    client.search_albums("Björk", "Homogenic")
    assert client.tokens_fetched == 2
    token_request = next(r for r, _ in httpserver.log if r.path == "/accounts/api/token")
    assert token_request.form["grant_type"] == "client_credentials"
    assert token_request.authorization.username == "id" and token_request.authorization.password == "secret"
    searches = [r for r, _ in httpserver.log if r.path == "/v1/search"]
    assert searches[0].headers["Authorization"] == "Bearer tok-1"
    assert searches[0].args["type"] == "album"


def test_spotify_429_retry_after_is_honoured_and_401_renews_the_token(httpserver):
    answers = [Response(json.dumps({"error": {"status": 429, "message": "API rate limit exceeded"}}), status=429,
                        headers={"Retry-After": "3"}, content_type="application/json"),
               Response(json.dumps({"error": {"status": 401, "message": "The access token expired"}}), status=401,
                        content_type="application/json"),
               Response(json.dumps(fakes.spotify_search(fakes.spotify_album())), content_type="application/json")]
    httpserver.expect_request("/accounts/api/token", method="POST").respond_with_json(fakes.spotify_token())
    httpserver.expect_request("/v1/search").respond_with_handler(lambda _request: answers.pop(0))
    sleeps = Sleeps()
    client = SpotifyClient(httpserver.url_for("/v1"), httpserver.url_for("/accounts"), "id", "secret",
                           policy=FAST, sleep=sleeps)
    assert len(client.search_albums("Björk", "Homogenic")) == 1
    assert sleeps == [3.0]
    assert client.tokens_fetched == 2


def test_spotify_refused_credentials_say_so(httpserver):
    httpserver.expect_request("/accounts/api/token", method="POST").respond_with_json(
        {"error": "invalid_client", "error_description": "Invalid client"}, status=400)
    client = SpotifyClient(httpserver.url_for("/v1"), httpserver.url_for("/accounts"), "id", "bad", policy=FAST)
    with pytest.raises(IntegrationError, match=r"Spotify refused the client credentials \(HTTP 400\)"):
        client.search_albums("A", "B")


def test_lastfm_album_info_image_mbid_and_not_found(httpserver):
    def handle(request):
        if request.args["album"] == "Homogenic":
            return Response(json.dumps(fakes.lastfm_album(image_url="http://img.example/lfm.png")),
                            content_type="application/json")
        return Response('{"error": 6, "message": "Album not found", "links": []}', status=404,
                        content_type="application/json")

    httpserver.expect_request("/2.0/").respond_with_handler(handle)
    client = LastfmClient(httpserver.url_for("/2.0"), "k" * 32, "", policy=FAST, sleep=Sleeps())
    found = client.album_info("Björk", "Homogenic")
    assert (found.artist, found.title, found.track_count) == ("Björk", "Homogenic", 10)
    assert found.data == {"image_url": "http://img.example/lfm.png", "release_mbid": fakes.RELEASE_ID}
    assert client.album_info("Björk", "Nope") is None
    assert httpserver.log[0][0].args["method"] == "album.getinfo"


def test_lastfm_rate_limit_error_29_is_retried(httpserver):
    httpserver.expect_ordered_request("/2.0/").respond_with_json({"error": 29, "message": "Rate limit exceeded"})
    httpserver.expect_ordered_request("/2.0/").respond_with_json(fakes.lastfm_album())
    client = LastfmClient(httpserver.url_for("/2.0"), "k" * 32, "", policy=FAST, sleep=Sleeps())
    assert client.album_info("Björk", "Homogenic").title == "Homogenic"
    assert len(httpserver.log) == 2


def test_discogs_search_folds_suffixes_and_ignores_the_spacer_image(httpserver):
    httpserver.expect_request("/discogs/database/search").respond_with_json(fakes.discogs_search(
        fakes.discogs_result(title="Björk (2) - Homogenic"),
        fakes.discogs_result(release_id=9, title="Björk - Homogenic", cover_image="http://img.example/d.jpg")))
    client = DiscogsClient(httpserver.url_for("/discogs"), "tok", "", policy=FAST, sleep=Sleeps())
    first, second = client.search_releases("Björk", "Homogenic")
    assert (first.ref, first.artist, first.title, first.year) == ("master-1234", "Björk", "Homogenic", 1997)
    assert "image_url" not in first.data
    assert second.data["image_url"] == "http://img.example/d.jpg"
    request = httpserver.log[0][0]
    assert request.headers["Authorization"] == "Discogs token=tok"
    assert (request.args["artist"], request.args["release_title"]) == ("Björk", "Homogenic")


def test_images_are_type_checked_and_size_capped(httpserver):
    png = image_bytes("PNG", (64, 64))
    httpserver.expect_request("/ok.png").respond_with_data(png, content_type="image/png")
    httpserver.expect_request("/page.html").respond_with_data("<html></html>", content_type="text/html")
    httpserver.expect_request("/big.png").respond_with_data(b"x" * 5000, content_type="image/png")
    httpserver.expect_request("/gone.png").respond_with_data("no", status=404)
    fetcher = ImageFetcher(max_bytes=4096, policy=FAST, sleep=Sleeps())
    assert fetcher.fetch(httpserver.url_for("/ok.png")) == (png, "image/png")
    for path, message in (("/page.html", "sent text/html, not an image"), ("/big.png", "over the 4096 byte limit"),
                          ("/gone.png", "answered HTTP 404")):
        with pytest.raises(ImageRefused, match=message):
            fetcher.fetch(httpserver.url_for(path))
    with pytest.raises(ImageRefused, match="only http"):
        fetcher.fetch("file:///etc/passwd")


def test_an_image_without_content_length_is_cut_at_the_cap(httpserver):
    def stream(_request):
        return Response((b"y" * 1000 for _ in range(10)), content_type="image/jpeg")  # chunked, no length

    httpserver.expect_request("/stream.jpg").respond_with_handler(stream)
    with pytest.raises(ImageRefused, match="over the 4096 byte limit"):
        ImageFetcher(max_bytes=4096, policy=FAST, sleep=Sleeps()).fetch(httpserver.url_for("/stream.jpg"))


def test_image_timeouts_and_429_are_retried_then_reported(httpserver):
    def slow(_request):
        time.sleep(0.5)
        return Response(b"late", content_type="image/png")

    httpserver.expect_ordered_request("/busy.png").respond_with_data("busy", status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/busy.png").respond_with_data(image_bytes("PNG", (8, 8)),
                                                                      content_type="image/png")
    sleeps = Sleeps()
    fetcher = ImageFetcher(max_bytes=1 << 20, timeout=0.2, policy=FAST, sleep=sleeps)
    assert fetcher.fetch(httpserver.url_for("/busy.png"))[1] == "image/png"
    assert sleeps == [1.0]
    httpserver.expect_request("/slow.png").respond_with_handler(slow)
    with pytest.raises(IntegrationError, match=r"did not answer \(timeout\)"):
        fetcher.fetch(httpserver.url_for("/slow.png"))
    # The server is still answering the abandoned attempts: let it finish them here, or their late arrival in
    # the next test's shared server breaks that test's ordered expectations.
    poll(lambda: sum(1 for request, _ in httpserver.log if request.path == "/slow.png") == FAST.attempts,
         what="the abandoned slow requests to be answered")
