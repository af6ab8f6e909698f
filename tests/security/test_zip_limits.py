"""Issue 15 item 8: zip imports are bounded in members, directory size, per-member ratio and total size,
and refuse duplicate names; a huge central directory is refused from its end record, inside the request."""
from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile

from tests.conftest import TEST_TOKEN

LISTEN = json.dumps({"listened_at": 1699650251, "track_metadata": {"artist_name": "A", "track_name": "T"}}).encode()
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we write on purpose
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return buffer.getvalue()


def _run_job(app, data: bytes, tmp_path) -> dict:
    from aime.jobs import imports

    path = tmp_path / "upload.zip"
    path.write_bytes(data)
    with app.app_context():
        return imports.run_job(imports.create_file_job(path, "listenbrainz-zip"))


def test_many_small_members_of_spaces_are_a_bomb(app, tmp_path):
    """The review's 2,000 x 1 MiB of spaces, scaled down: each member alone expands ~1000x and is refused."""
    members = [("listens/2023/11.jsonl", LISTEN)] + [(f"listens/2023/pad{i}.jsonl", b" " * (256 * 1024))
                                                     for i in range(20)]
    report = _run_job(app, _zip(members), tmp_path)
    assert report["status"] == "failed"
    assert report["message"].endswith("zip refused: 'listens/2023/pad0.jsonl' expands 200x+ (zip bomb?)")
    assert report["imported"] == 0


def test_duplicate_member_names_are_refused(app, tmp_path):
    report = _run_job(app, _zip([("listens/2023/11.jsonl", LISTEN), ("listens/2023/11.jsonl", LISTEN)]), tmp_path)
    assert report["status"] == "failed"
    assert report["message"].endswith("zip refused: member 'listens/2023/11.jsonl' appears twice")
    assert report["imported"] == 0


def _upload(client, data: bytes):
    # The multipart body built by hand: werkzeug's builder spools a body this large to a temporary file it
    # never closes (a ResourceWarning, an error under filterwarnings=error).
    boundary = "aimeboundary0123456789"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="lb.zip"\r\n'
            f"Content-Type: application/zip\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return client.post("/api/v1/imports", headers=AUTH, data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_too_many_members_are_refused_in_the_request(client):
    data = _zip([("listens/2023/11.jsonl", LISTEN)] + [(f"m{i}", b"") for i in range(10_001)])
    response = _upload(client, data)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"file": ["zip refused: 10002 members (at most 10000)"]}
    assert client.get("/api/v1/imports", headers=AUTH).get_json()["items"] == []


def test_a_claimed_huge_directory_is_refused_without_listing_it(client):
    """An end record claiming 300,000 entries: refused from the end record (zipfile never parses them)."""
    data = bytearray(_zip([("listens/2023/11.jsonl", LISTEN)]))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 0xFFFE, 0xFFFE)  # entries on this disk, entries in total
    struct.pack_into("<I", data, end + 12, 300_000 * 60)  # central directory size
    response = _upload(client, bytes(data))
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"file": ["zip refused: 65534 members (at most 10000)"]}
