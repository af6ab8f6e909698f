"""Issue 15 item 3: the web upload checks the session and the CSRF token before reading the body, and a
chunked upload is cut off at AIME_MAX_UPLOAD_MB as it streams."""
from __future__ import annotations

import io

import pytest

from tests.web.test_pages import csrf_of, signed_in_client

BOUNDARY = "aimeboundary0123456789"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


class CountingBody(io.RawIOBase):
    """A request body of `size` bytes (a file part of spaces) that counts what the server read."""

    def __init__(self, size: int):
        self.head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.json"\r\n'
                     f"Content-Type: application/json\r\n\r\n").encode()
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.size - self.read_bytes
        n = min(len(buffer), left)
        if n <= 0:
            return 0
        start = self.read_bytes
        chunk = (self.head + b" " * n)[start:start + n] if start < len(self.head) else b" " * n
        buffer[:n] = chunk
        self.read_bytes += n
        return n


DECLARED = 900 * 1024 * 1024


def test_anonymous_upload_is_refused_before_the_body_is_read(app):
    client = app.test_client()
    body = CountingBody(DECLARED)
    response = client.post("/imports", content_type=MULTIPART,
                           environ_overrides={"wsgi.input": body, "CONTENT_LENGTH": str(DECLARED)})
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/imports"
    assert body.read_bytes == 0


def test_private_mode_anonymous_upload_is_refused_before_the_body(make_app):
    client = make_app(private=True).test_client()
    body = CountingBody(DECLARED)
    response = client.post(f"/imports?csrf_token={csrf_of(client)}", content_type=MULTIPART,
                           environ_overrides={"wsgi.input": body, "CONTENT_LENGTH": str(DECLARED)})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert body.read_bytes == 0


def test_forged_upload_of_a_signed_in_user_is_refused_before_the_body(app):
    client, _csrf = signed_in_client(app)
    body = CountingBody(DECLARED)
    response = client.post("/imports?csrf_token=forged", content_type=MULTIPART,
                           environ_overrides={"wsgi.input": body, "CONTENT_LENGTH": str(DECLARED)})
    assert response.status_code == 400 and body.read_bytes == 0


def test_upload_form_carries_its_csrf_token_in_the_url(app):
    client, csrf = signed_in_client(app)
    page = client.get("/imports").get_data(as_text=True)
    assert f'action="/imports?csrf_token={csrf}"' in page


@pytest.fixture
def small_upload_app(make_app):
    return make_app(max_upload_mb=2)


def test_chunked_upload_is_cut_off_at_the_limit_as_it_streams(small_upload_app):
    client, csrf = signed_in_client(small_upload_app)
    body = CountingBody(50 * 1024 * 1024)  # no Content-Length: as a chunked request arrives through gunicorn
    response = client.post(f"/imports?csrf_token={csrf}", content_type=MULTIPART,
                           environ_overrides={"wsgi.input": body, "wsgi.input_terminated": True})
    assert response.status_code == 413
    assert body.read_bytes <= 2 * 1024 * 1024 + 64 * 1024  # stopped just past 2 MB, not 50 MB
    assert "Nothing imported yet." in client.get("/imports").get_data(as_text=True)
