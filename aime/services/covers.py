"""Stored covers: keep a verified image once (<AIME_DATA_DIR>/covers/), make its thumbnail, serve it or a placeholder.

Files are named by the SHA-256 of the original bytes, written to a temporary file and renamed into place, so a
reader never sees half an image and the same picture found for two albums is stored once.
"""
from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from markupsafe import escape
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from ..config import Config
from ..errors import BadRequest, NotFound
from ..extensions import db
from ..files import write_atomic
from ..models import Album, AlbumEnrichment

COVERS_DIR = "covers"
# Pillow format -> (extension, content type): the only kinds AIME keeps (browsers show all four).
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp"),
           "GIF": ("gif", "image/gif")}
ACCEPTED_TYPES = frozenset(mime for _ext, mime in FORMATS.values())
MAX_PIXELS = 40_000_000  # a 6000x6000 scan is fine; a decompression bomb is not
SIZES = ("thumb", "full")


class BadImage(ValueError):
    """The bytes are not an image AIME keeps (wrong type, corrupt, too large)."""


@dataclass(frozen=True)
class StoredImage:
    """A verified image on disk."""

    sha256: str
    ext: str
    mime: str
    width: int
    height: int


@dataclass(frozen=True)
class CoverBody:
    """What GET /covers/albums/<id> answers: a file or placeholder bytes, its type and ETag."""

    mime: str
    etag: str
    path: Path | None = None
    data: bytes | None = None

    @property
    def placeholder(self) -> bool:
        """True when no cover is stored and the body is the lettered SVG."""
        return self.path is None


def covers_dir(config: Config) -> Path:
    """Where covers and thumbnails live."""
    return config.data_dir / COVERS_DIR


def inspect(data: bytes) -> tuple[str, int, int]:
    """Pillow's format, width and height of `data`; BadImage unless it is a whole JPEG/PNG/WebP/GIF."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind, (width, height) = image.format, image.size
                if width * height > MAX_PIXELS:
                    raise BadImage(f"image of {width}x{height} pixels is too large")
                image.verify()  # structure and checksums; a truncated file fails here
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() misses some truncations that decoding finds
    except BadImage:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as error:
        raise BadImage(f"not a readable image ({type(error).__name__})") from None
    if kind not in FORMATS:
        raise BadImage(f"image format {kind} is not accepted (JPEG, PNG, WebP, GIF)")
    return kind, width, height


def store_image(config: Config, data: bytes) -> StoredImage:
    """Verify `data` and keep it with its thumbnail (idempotent: the same bytes are stored once)."""
    if len(data) > config.cover_max_mb * 1024 * 1024:
        raise BadImage(f"image larger than AIME_COVER_MAX_MB ({config.cover_max_mb} MB)")
    kind, width, height = inspect(data)
    ext, mime = FORMATS[kind]
    digest = hashlib.sha256(data).hexdigest()
    folder = covers_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    full = folder / f"{digest}.{ext}"
    if not full.exists():
        write_atomic(full, data, prefix=".cover-")
    thumb = folder / f"{digest}.thumb.jpg"
    if not thumb.exists():
        write_atomic(thumb, _thumbnail(data, config.cover_thumb_px), prefix=".cover-")
    return StoredImage(digest, ext, mime, width, height)


def _thumbnail(data: bytes, px: int) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.seek(0)  # the first frame of an animated GIF
        picture = image.convert("RGB")
    picture.thumbnail((px, px), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()




def cover_body(config: Config, album_id: int, size: str) -> CoverBody:
    """The stored cover of an album in `size`, else its placeholder; NotFound when the album does not exist."""
    if size not in SIZES:
        raise BadRequest("size must be thumb or full.")
    row = db.session.execute(select(Album.title, AlbumEnrichment.cover_sha256, AlbumEnrichment.cover_ext,
                                    AlbumEnrichment.cover_mime)
                             .outerjoin(AlbumEnrichment, AlbumEnrichment.album_id == Album.id)
                             .where(Album.id == album_id)).first()
    db.session.rollback()  # end the read transaction before the file is streamed
    if row is None:
        raise NotFound(f"Album {album_id} does not exist.")
    if row.cover_sha256:
        folder = covers_dir(config)
        if size == "thumb":
            path, mime, etag = folder / f"{row.cover_sha256}.thumb.jpg", "image/jpeg", f"{row.cover_sha256}-thumb"
        else:
            path, mime, etag = folder / f"{row.cover_sha256}.{row.cover_ext}", row.cover_mime, row.cover_sha256
        if path.is_file():
            return CoverBody(mime=mime, etag=etag, path=path)
        # The file went missing (a restore without covers/): the placeholder, until enrichment fetches it again.
    return placeholder(row.title)


def placeholder(title: str) -> CoverBody:
    """A square SVG showing the title's first letter (what the pages showed before covers were stored)."""
    letter = (title or "?").strip()[:1].upper() or "?"
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300" viewBox="0 0 300 300" role="img">'
           '<rect width="300" height="300" fill="#e8e6e3"/>'
           '<text x="150" y="150" dy=".35em" text-anchor="middle" font-family="system-ui, sans-serif" '
           f'font-size="140" fill="#77736d">{escape(letter)}</text></svg>').encode()
    return CoverBody(mime="image/svg+xml", etag="placeholder-" + hashlib.sha256(svg).hexdigest()[:16], data=svg)
