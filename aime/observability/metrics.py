"""Prometheus metrics: one registry per app, exact across gunicorn workers in multiprocess mode.

Under gunicorn, gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a fresh directory before any
worker starts, so every worker writes its counters to its own file and any worker can add them all
up. In a single process (flask run, the test client) the per-app registry holds the values, so two
apps in one test process never share a counter.
"""
from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass

from flask import Flask
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .metrics_dir import STARTED_AT_ENV

KEY = "aime.metrics"
# Probes are polled every few seconds by orchestrators; counting them would drown the real traffic.
PROBE_PATHS = frozenset({"/live", "/ready", "/health", "/metrics"})


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
    metrics.requests.labels(method, endpoint, str(status)).inc()
    metrics.latency.labels(endpoint).observe(seconds)


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
    directory = multiprocess_dir()
    if directory is None:
        families = get_metrics(app).registry.collect()
    else:
        # Only the counters' files (counter_<pid>.db, dead workers' too): merging every worker's histograms
        # as well, as a full scrape does, was most of the cost of a /health request.
        families = MultiProcessCollector.merge(glob.glob(os.path.join(directory, "counter_*.db")))
    requests_total = errors_total = 0.0
    for family in families:
        if family.name != "aime_http_requests":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total") or sample.labels.get("endpoint") in PROBE_PATHS:
                continue
            requests_total += sample.value
            if sample.labels.get("status", "").startswith("5"):
                errors_total += sample.value
    return int(round(requests_total)), int(round(errors_total))
