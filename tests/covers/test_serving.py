"""GET /covers/albums/<id>: stored covers (thumb and full) with ETags and long caching, lettered placeholders with
revalidation, 404 only for a missing album; the pages show covers through the _sleeve macro, never hot-linked."""
from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from aime.services import covers
from tests.conftest import TEST_TOKEN
from tests.covers.conftest import image_bytes, store_cover
from tests.factories import create_album
from tests.web.test_pages import signed_in_client


def get(client, url, **kwargs):
    """GET and close the response (a file body stays open until closed)."""
    response = client.get(url, **kwargs)
    response.get_data()
    response.close()
    return response


def test_an_album_without_cover_gets_its_letter_as_svg_revalidated_every_time(client, auth):
    album = create_album(client, auth, title="homogenic")
    response = client.get(f"/covers/albums/{album['id']}")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["Cache-Control"] == "public, no-cache"
    body = response.get_data(as_text=True)
    assert body.startswith("<svg ") and ">H</text>" in body
    etag = response.headers["ETag"]
    again = client.get(f"/covers/albums/{album['id']}?size=full", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""


def test_the_placeholder_letter_is_escaped(client, auth):
    album = create_album(client, auth, title="<script>")
    body = client.get(f"/covers/albums/{album['id']}").get_data(as_text=True)
    assert ">&lt;</text>" in body and "<script" not in body


def test_a_missing_album_is_404_and_a_bad_size_400(client, auth):
    assert client.get("/covers/albums/999").status_code == 404
    album = create_album(client, auth)
    assert client.get(f"/covers/albums/{album['id']}?size=huge").status_code == 400


def test_a_stored_cover_is_served_full_and_as_thumbnail_with_etags(app, client, auth):
    album = create_album(client, auth)
    original = image_bytes("PNG", (600, 400))
    sha = store_cover(app, album["id"], original)
    assert sha == hashlib.sha256(original).hexdigest()

    full = get(client, f"/covers/albums/{album['id']}?size=full")
    assert full.status_code == 200 and full.mimetype == "image/png"
    assert full.get_data() == original
    assert full.headers["ETag"] == f'"{sha}"'
    assert full.headers["Cache-Control"] == "public, max-age=86400"

    thumb = get(client, f"/covers/albums/{album['id']}")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert thumb.headers["ETag"] == f'"{sha}-thumb"'
    with Image.open(io.BytesIO(thumb.get_data())) as picture:
        assert (picture.format, picture.size) == ("JPEG", (300, 200))  # long side 300, aspect kept

    cached = get(client, f"/covers/albums/{album['id']}?size=full", headers={"If-None-Match": f'"{sha}"'})
    assert cached.status_code == 304 and cached.get_data() == b""
    assert get(client, f"/covers/albums/{album['id']}?size=full",
               headers={"If-None-Match": '"other"'}).status_code == 200


def test_a_cover_file_gone_from_disk_falls_back_to_the_placeholder(app, client, auth):
    album = create_album(client, auth, title="Vespertine")
    sha = store_cover(app, album["id"], image_bytes())
    for path in covers.covers_dir(app.extensions["aime.config"]).glob(f"{sha}*"):
        path.unlink()
    response = client.get(f"/covers/albums/{album['id']}")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert ">V</text>" in response.get_data(as_text=True)


@pytest.mark.parametrize("kind, ext, mime", [("JPEG", "jpg", "image/jpeg"), ("GIF", "gif", "image/gif"),
                                             ("WEBP", "webp", "image/webp")])
def test_other_image_kinds_are_kept_as_they_are(app, kind, ext, mime):
    data = image_bytes(kind, (50, 40))
    with app.app_context():
        stored = covers.store_image(app.extensions["aime.config"], data)
    assert (stored.ext, stored.mime, stored.width, stored.height) == (ext, mime, 50, 40)
    folder = covers.covers_dir(app.extensions["aime.config"])
    assert (folder / f"{stored.sha256}.{ext}").read_bytes() == data
    assert (folder / f"{stored.sha256}.thumb.jpg").exists()


def test_bad_images_are_refused_and_nothing_is_written(app):
    config = app.extensions["aime.config"]
    png = image_bytes("PNG", (64, 64))
    bmp = io.BytesIO()
    Image.new("RGB", (10, 10)).save(bmp, "BMP")
    bomb = io.BytesIO()
    Image.new("1", (8000, 8000)).save(bomb, "PNG")  # 64 Mpx in a few kB
    cases = {b"<html>not an image</html>": "not a readable image",
             png[: len(png) // 2]: "not a readable image",
             bmp.getvalue(): "image format BMP is not accepted",
             bomb.getvalue(): "too large"}
    for data, message in cases.items():
        with pytest.raises(covers.BadImage, match=message):
            covers.store_image(config, data)
    with pytest.raises(covers.BadImage, match="larger than AIME_COVER_MAX_MB"):
        covers.store_image(config.replace(cover_max_mb=1), b"\x89PNG" + b"\0" * (1024 * 1024))
    assert not covers.covers_dir(config).exists() or list(covers.covers_dir(config).iterdir()) == []


def test_pages_show_sleeves_served_by_aime_never_the_remote_url(client, auth):
    album = create_album(client, auth, title="Homogenic", image_url="https://images.example.com/homogenic.jpg")
    grid = client.get("/collection").get_data(as_text=True)
    assert (f'<img class="sleeve sleeve-thumb" src="/covers/albums/{album["id"]}?size=thumb" alt="Homogenic" '
            'width="300" height="300" loading="lazy" decoding="async">') in grid
    page = client.get(f"/collection/{album['id']}").get_data(as_text=True)
    assert f'src="/covers/albums/{album["id"]}?size=full" alt="Homogenic" width="600" height="600"' in page
    for html in (grid, page):
        assert "images.example.com" not in html and "nocover" not in html


def test_with_aime_private_covers_need_sign_in_and_are_cached_privately(make_app):
    app = make_app(private=True)
    client, _csrf = signed_in_client(app)
    album = create_album(client, {"Authorization": f"Bearer {TEST_TOKEN}"})
    stranger = app.test_client().get(f"/covers/albums/{album['id']}")
    assert stranger.status_code == 302 and "/login" in stranger.headers["Location"]
    response = client.get(f"/covers/albums/{album['id']}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-cache"
