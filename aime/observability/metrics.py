"""Prometheus metrics: one registry per app, exact across gunicorn workers in multiprocess mode.

Under gunicorn, gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a fresh directory before any
worker starts, so every worker writes its counters to its own file and any worker can add them all
up. In a single process (flask run, the test client) the per-app registry holds the values, so two
apps in one test process never share a counter.
"""
from __future__ import annotations

import fcntl
import functools
import json
import logging
import mmap
import os
import stat
import struct
import threading
import time
from dataclasses import dataclass, field

from flask import Flask
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.mmap_dict import _read_all_values
from prometheus_client.multiprocess import MultiProcessCollector

from .metrics_dir import ROSTER_BYTES, ROSTER_NAME, STARTED_AT_ENV

log = logging.getLogger(__name__)
KEY = "aime.metrics"
COUNTERS_KEY = "aime.counter_files"
_INT, _DOUBLE, _GENERATION = struct.Struct("i"), struct.Struct("d"), struct.Struct("=Q")
# Probes are polled every few seconds by orchestrators; counting them would drown the real traffic.
PROBE_PATHS = frozenset({"/live", "/ready", "/health", "/metrics"})
SETTLE_NS = 1_000_000_000  # see CounterFiles._list
# Forks of this process so far, counted in each child: tells observe_request that it runs in a new process without
# asking for the pid on every request (a system call; prometheus_client already makes three per request).
_FORKED = [0]
os.register_at_fork(after_in_child=lambda: _FORKED.__setitem__(0, _FORKED[0] + 1))


def multiprocess_dir() -> str | None:
    """The shared metrics directory when running under gunicorn (or another multi-process host)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path if path and os.path.isdir(path) else None


@dataclass
class Metrics:
    """The metric objects of one app."""

    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    check_status: Gauge
    started_at: float
    announced_in: int = -1  # the process (a _FORKED count) whose counter file this app announced
    # (method, endpoint, status) -> the request counter's and the latency histogram's children for those labels
    children: dict[tuple[str, str, int], tuple] = field(default_factory=dict)

    def uptime(self) -> float:
        """Seconds since the service (the gunicorn master, else this app) started."""
        return max(0.0, time.time() - self.started_at)


class _UptimeCollector:
    """Computes uptime at scrape time so it is the same whichever worker answers."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def collect(self):
        """Yield the uptime gauge."""
        family = GaugeMetricFamily("aime_uptime_seconds", "Seconds since the service started")
        family.add_metric([], self.metrics.uptime())
        yield family


def _service_started_at() -> float:
    raw = os.environ.get(STARTED_AT_ENV)
    try:
        return float(raw) if raw else time.time()
    except ValueError:
        return time.time()


def init_metrics(app: Flask) -> Metrics:
    """Create this app's metrics (no I/O: multiprocess files are opened on first increment)."""
    registry = CollectorRegistry(auto_describe=True)
    metrics = Metrics(
        registry=registry,
        requests=Counter("aime_http_requests", "HTTP requests served", ["method", "endpoint", "status"],
                         registry=registry),
        latency=Histogram("aime_http_request_duration_seconds", "Time to answer a request", ["endpoint"],
                          registry=registry,
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)),
        check_status=Gauge("aime_health_check_status", "Health check status: 1 pass, 0.5 warn, 0 fail",
                           ["check", "critical"], registry=registry, multiprocess_mode="livemostrecent"),
        started_at=_service_started_at(),
    )
    app.extensions[KEY] = metrics
    return metrics


def get_metrics(app: Flask) -> Metrics:
    """The metrics of an app (created by init_metrics)."""
    return app.extensions[KEY]


def observe_request(app: Flask, method: str, endpoint: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency."""
    metrics = get_metrics(app)
    labelled = metrics.children.get((method, endpoint, status))
    if labelled is None:  # prometheus_client's labels() validates and locks on every call: done once per label set
        labelled = metrics.children[method, endpoint, status] = (
            metrics.requests.labels(method, endpoint, str(status)), metrics.latency.labels(endpoint))
    labelled[0].inc()
    labelled[1].observe(seconds)
    if metrics.announced_in != _FORKED[0]:  # this process's first count (a forked worker's too): its file exists
        metrics.announced_in = _FORKED[0]
        directory = multiprocess_dir()
        if directory is not None:
            announce_counter_file(directory)


def announce_counter_file(directory: str) -> None:
    """Tell every reader of the counter files in `directory` to list it again (bump the roster's generation).

    A process calls it once its counter file exists, i.e. after its first count, before it answers the request
    counted: a /health asked after that answer, by any worker, lists the directory again and reads the file."""
    try:
        descriptor = os.open(os.path.join(directory, ROSTER_NAME), os.O_RDWR)
    except FileNotFoundError:  # a directory not prepared by gunicorn.conf.py: its readers go by its mtime
        return
    except OSError as error:
        log.warning("could not announce this worker's counter file: %s", error)
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # one bump at a time: two workers' first requests at once
        raw = os.pread(descriptor, ROSTER_BYTES, 0)
        current = _GENERATION.unpack(raw)[0] if len(raw) == ROSTER_BYTES else 0
        os.pwrite(descriptor, _GENERATION.pack(current + 1), 0)
    finally:
        os.close(descriptor)  # and the lock with it


def _collecting_registry(app: Flask) -> CollectorRegistry:
    metrics = get_metrics(app)
    directory = multiprocess_dir()
    if directory is None:
        registry = metrics.registry
        if not getattr(registry, "_aime_uptime", False):
            registry.register(_UptimeCollector(metrics))
            registry._aime_uptime = True
        return registry
    # A fresh registry each time: MultiProcessCollector reads every worker's file (dead ones too).
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    registry.register(_UptimeCollector(metrics))
    return registry


def exposition(app: Flask) -> bytes:
    """The Prometheus text exposition of every worker's metrics."""
    return generate_latest(_collecting_registry(app))


def totals(app: Flask) -> tuple[int, int]:
    """(requests, 5xx errors) served by every worker since the service started, probes excluded."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:  # multiprocess_dir() without its own stat: CounterFiles stats the directory anyway
        reader = app.extensions.get(COUNTERS_KEY)
        if reader is None or reader.directory != directory:
            reader = app.extensions[COUNTERS_KEY] = CounterFiles(directory)
        counted = reader.totals()
        if counted is not None:
            return counted
    return _registry_totals(get_metrics(app).registry)


class CounterFiles:
    """Request and 5xx totals read straight from every worker's counter file (counter_<pid>.db, dead workers'
    too), each mapped once: a /health costs a few memory reads, not a parse and merge of every file (which
    was most of its cost). The values are the ones the workers wrote: exact and current.

    Which files there are: when the directory has a roster (prepare_metrics_dir makes one before any worker
    starts, and each worker announces its file there: announce_counter_file), the directory is listed again only
    when the roster's generation moved, read from memory: no system call per /health. A system call lets go of the
    GIL, and in a worker whose other threads are busy, getting it back was most of what /health cost beyond /live.
    Without a roster, the directory's mtime says when to list.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._files: dict[str, _MappedCounters] = {}
        self._lock = threading.Lock()
        self._listed_at_mtime: int | None = None  # the directory's mtime when it was last listed, once settled
        self._roster: mmap.mmap | None = None  # the roster's generation, mapped read-only
        self._generation: int | None = None  # the generation read before the last listing

    def totals(self) -> tuple[int, int] | None:
        """(requests, errors) summed over every counter file now in the directory (None: it is not a directory)."""
        roster = self._roster
        if roster is not None:
            # Read before listing: a file announced after this read moves the generation again, so it is listed
            # the next time; one announced before it was created before it, so this listing finds it.
            generation = _GENERATION.unpack_from(roster, 0)[0]
            with self._lock:
                if generation != self._generation:
                    self._list_names()
                    self._generation = generation
                return self._sums()
        try:
            found = os.stat(self.directory)
        except OSError:
            return None
        if not stat.S_ISDIR(found.st_mode):
            return None
        with self._lock:
            if found.st_mtime_ns != self._listed_at_mtime:
                self._list(found.st_mtime_ns)
            return self._sums()

    def _sums(self) -> tuple[int, int]:
        requests_total = errors_total = 0.0
        for mapped in self._files.values():
            counted, errors = mapped.sums()
            requests_total += counted
            errors_total += errors
        return int(round(requests_total)), int(round(errors_total))

    def _list(self, mtime_ns: int) -> None:
        # A new worker's file changes the directory's mtime, so an unchanged mtime means no new file and the
        # listing is skipped (it and a stat per file were most of /health's own cost). The mtime comes from a
        # coarse clock (a few ms): a file created in the same tick as the last listing would leave it as it
        # was, so the listing is trusted only once the mtime is SETTLE_NS older than the listing itself.
        listed_at = time.time_ns()
        roster = _map_roster(self.directory)  # found: it says when to list from now on (read before listing)
        generation = _GENERATION.unpack_from(roster, 0)[0] if roster is not None else None
        self._list_names()
        self._listed_at_mtime = mtime_ns if listed_at - mtime_ns > SETTLE_NS else None
        self._roster, self._generation = roster, generation

    def _list_names(self) -> None:
        for name in os.listdir(self.directory):
            if name.startswith("counter_") and name.endswith(".db") and name not in self._files:
                self._files[name] = _MappedCounters(os.path.join(self.directory, name))


class _MappedCounters:
    """One counter file mapped read-only, with the offsets of its request samples (re-read when it grows).

    The request samples' values are read with one precompiled struct (the doubles at their offsets, the bytes
    between them skipped), the 5xx ones with another: two C calls per file, not a Python loop over samples."""

    def __init__(self, path: str) -> None:
        self.path, self.used = path, -1
        self.memory: mmap.mmap | None = None
        self.offsets: list[tuple[int, bool]] = []  # (value offset, is a 5xx)
        self._requests: tuple[int, struct.Struct] | None = None  # (first offset, struct of every request value)
        self._errors: tuple[int, struct.Struct] | None = None  # the same for the 5xx values

    def sums(self) -> tuple[float, float]:
        """(requests, errors) in this file."""
        if self.memory is None:
            self.memory = _map(self.path)
            if self.memory is None:  # created this instant, not yet sized by its worker: nothing counted yet
                return 0.0, 0.0
        memory = self.memory
        used = _INT.unpack_from(memory, 0)[0]
        if used != self.used:
            self._rescan(used)
            memory = self.memory
        requests, errors = self._requests, self._errors
        return (sum(requests[1].unpack_from(memory, requests[0])) if requests else 0.0,
                sum(errors[1].unpack_from(memory, errors[0])) if errors else 0.0)

    def _rescan(self, used: int) -> None:
        if used > len(self.memory):  # the writer grew the file: map it again, whole
            self.memory.close()
            self.memory = _map(self.path)
        self.offsets = [(pos, error) for key, _value, _timestamp, pos in _read_all_values(self.memory, used)
                        for counted, error in [_request_sample(key)] if counted]
        self._requests = _gather([offset for offset, _error in self.offsets])
        self._errors = _gather([offset for offset, error in self.offsets if error])
        self.used = used


def _gather(offsets: list[int]) -> tuple[int, struct.Struct] | None:
    """(first offset, a struct that reads the native double at each offset and skips the bytes between)."""
    if not offsets:
        return None
    offsets = sorted(offsets)
    parts, end = ["="], offsets[0]  # "=": native byte order and sizes (the writer's "d"), no alignment padding
    for offset in offsets:
        parts.append(f"{offset - end}xd" if offset > end else "d")
        end = offset + _DOUBLE.size
    return offsets[0], struct.Struct("".join(parts))


@functools.lru_cache(maxsize=4096)
def _request_sample(key: str) -> tuple[bool, bool]:
    """(counts as a request, counts as a 5xx error) for one sample key of a counter file."""
    _metric, name, labels, _help = json.loads(key)
    counted = name == "aime_http_requests_total" and labels.get("endpoint") not in PROBE_PATHS
    return counted, counted and labels.get("status", "").startswith("5")


def _map(path: str, at_least: int = 8) -> mmap.mmap | None:
    """The file mapped read-only, whole; None while it is shorter than `at_least` bytes."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size < at_least:
            return None
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def _map_roster(directory: str) -> mmap.mmap | None:
    """The directory's roster mapped read-only; None when there is none (yet)."""
    try:
        return _map(os.path.join(directory, ROSTER_NAME), ROSTER_BYTES)
    except FileNotFoundError:
        return None


def _registry_totals(registry: CollectorRegistry) -> tuple[int, int]:
    requests_total = errors_total = 0.0
    for family in registry.collect():
        if family.name != "aime_http_requests":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total") or sample.labels.get("endpoint") in PROBE_PATHS:
                continue
            requests_total += sample.value
            if sample.labels.get("status", "").startswith("5"):
                errors_total += sample.value
    return int(round(requests_total)), int(round(errors_total))
