"""Kept answers shared by the workers of one server: a directory that gunicorn's master makes for them.

Each worker keeps its answers in memory (aime/api/conditional.py), so without this every worker builds every answer
once per data version itself: under load, a worker that did not build it yet holds its connections while it does
(~50-150 ms of CPU for a year's statistics at 1,000,000 plays; every other thread of that worker waits for the
GIL meanwhile). With it, an answer built by one worker is read by the others from a file (an open and a read).

A file is named after the data version and the cache key (a hash of both), so a file found is an answer at exactly
the version the request read, never an older one; files of older versions are never read again and go first when
the directory is over its bounds. Written to a temporary name and renamed into place, so a file that exists is
whole. The directory is private to the server's user (0700, files 0600): the answers hold listening history.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass

log = logging.getLogger(__name__)

SHARED_ANSWERS_ENV = "AIME_SHARED_ANSWERS_DIR"  # set by gunicorn.conf.py's on_starting, inherited by the workers
MAX_FILES = 512
MAX_TOTAL_BYTES = 32_000_000
_PARTIAL = ".part-"


@dataclass(frozen=True)
class SharedAnswer:
    """An answer read back: its body and the headers the view built."""

    body: bytes
    headers: tuple[tuple[str, str], ...]


class SharedAnswers:
    """The answers in `path` (one file per (data version, key)); safe across threads and processes."""

    def __init__(self, path: str, max_files: int = MAX_FILES, max_total_bytes: int = MAX_TOTAL_BYTES) -> None:
        self.path, self.max_files, self.max_total_bytes = path, max_files, max_total_bytes

    def _file(self, key: str, version: str) -> str:
        name = hashlib.blake2b(f"{version}\0{key}".encode(), digest_size=16).hexdigest()
        return os.path.join(self.path, name)

    def get(self, key: str, version: str) -> SharedAnswer | None:
        """The answer another worker (or this one) wrote for `key` at `version`, else None."""
        try:
            with open(self._file(key, version), "rb") as file:
                data = file.read()
        except OSError:  # not there (the usual case), or the directory is gone: build it
            return None
        head, _, body = data.partition(b"\n")
        try:
            headers = tuple((str(name), str(value)) for name, value in json.loads(head))
        except ValueError:
            return None
        return SharedAnswer(body, headers)

    def put(self, key: str, version: str, body: bytes, headers: tuple[tuple[str, str], ...]) -> None:
        """Make the answer of `key` at `version` readable by every worker; then keep the directory in its bounds.

        Best effort: an answer that cannot be written (disk full, directory removed) is only not shared."""
        final = self._file(key, version)
        try:
            descriptor, partial = tempfile.mkstemp(prefix=_PARTIAL, dir=self.path)  # 0600
            try:
                with os.fdopen(descriptor, "wb") as file:
                    file.write(json.dumps(list(headers)).encode() + b"\n" + body)
                os.replace(partial, final)
            except BaseException:
                _remove(partial)
                raise
            self._trim()
        except OSError as error:
            log.warning("could not share an answer with the other workers: %s", error)

    def _trim(self) -> None:
        """Remove the least recently written answers beyond the bounds (older versions' answers are the oldest)."""
        entries = []
        with os.scandir(self.path) as found:
            for entry in found:
                if entry.name.startswith(_PARTIAL):
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:  # another worker removed it meanwhile
                    continue
                entries.append((stat.st_mtime_ns, stat.st_size, entry.path))
        total = sum(size for _mtime, size, _path in entries)
        if len(entries) <= self.max_files and total <= self.max_total_bytes:
            return
        entries.sort()
        while entries and (len(entries) > self.max_files or total > self.max_total_bytes):
            _mtime, size, path = entries.pop(0)
            _remove(path)
            total -= size


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def shared_answers() -> SharedAnswers | None:
    """The shared answers of this server's workers, or None outside gunicorn (one process: nothing to share)."""
    path = os.environ.get(SHARED_ANSWERS_ENV, "").strip()
    return SharedAnswers(path) if path and os.path.isdir(path) else None


def prepare_shared_answers() -> str | None:
    """Master, before any worker exists: a new private directory for the workers' shared answers; its path (None
    when no directory can be made: each worker then keeps its own answers only, as without gunicorn)."""
    try:
        path = tempfile.mkdtemp(prefix="aime-answers-")  # 0700
    except OSError as error:
        log.warning("answers are not shared between workers: no temporary directory (%s)", error)
        os.environ.pop(SHARED_ANSWERS_ENV, None)
        return None
    os.environ[SHARED_ANSWERS_ENV] = path
    return path


def remove_shared_answers(path: str | None) -> None:
    """Master, last thing: remove the directory prepare_shared_answers() made."""
    if path:
        shutil.rmtree(path, ignore_errors=True)
