"""Where a request's CPU goes, hook by hook: a CPU-clock cProfile of GETs called on the WSGI app directly.

    .venv/bin/python bench/hooks_cpu.py DATABASE_URL PATH [PATH ...] [--requests N]
    AIME_CODE=/path/to/other/checkout ...   (that checkout's aime, e.g. main's for a "before" run)

Builds the app and calls it as bench/floor_cpu.py does (a gunicorn-like environ, PROMETHEUS_MULTIPROC_DIR set as
under gunicorn), asks each path once to warm it, then N times under cProfile with `time.process_time` as its
clock, and prints, per path, the share of the profiled time spent in each of the app's hooks (before/after/
teardown request, teardown appcontext, the session interface) and in Flask's own stages. cProfile's own cost
inflates every figure (about 8x here); the shares, not the milliseconds, are what to read.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections.abc import Callable

from floor_cpu import ask, warm_app  # noqa: I001 - floor_cpu sets the metrics directory before aime is imported

from flask import Flask, ctx
from werkzeug.wrappers import Response


def _key(func: Callable) -> tuple[str, int, str] | None:
    code = getattr(getattr(func, "__func__", func), "__code__", None)
    return None if code is None else (code.co_filename, code.co_firstlineno, code.co_name)


def stages(app: Flask) -> list[tuple[str, Callable]]:
    """(label, function) of every hook the app runs for a request and of Flask's stages around them."""
    found: list[tuple[str, Callable]] = [
        ("Flask: request context (Request, URL adapter)", Flask.request_context),
        ("Flask: push (session open, URL match)", ctx.RequestContext.push),
        ("  session interface: open_session", app.session_interface.open_session),
        ("  URL match", ctx.RequestContext.match_request),
        ("Flask: preprocess_request (before hooks)", Flask.preprocess_request),
        ("Flask: dispatch_request (the view)", Flask.dispatch_request),
        ("Flask: process_response (after hooks, session save)", Flask.process_response),
        ("  session interface: save_session", app.session_interface.save_session),
        ("werkzeug: Response.__call__ (status, headers out)", Response.__call__),
        ("Flask: pop (teardown hooks)", ctx.RequestContext.pop),
    ]
    for kind in ("before_request_funcs", "after_request_funcs", "teardown_request_funcs"):
        for blueprint, funcs in getattr(app, kind).items():
            for func in funcs:
                hook = kind.removesuffix("_funcs")
                found.append((f"  {hook}[{blueprint or 'app'}] {func.__module__}.{func.__qualname__}", func))
    for func in app.teardown_appcontext_funcs:
        found.append((f"  teardown_appcontext {func.__module__}.{func.__qualname__}", func))
    return found


def profile_path(app: Flask, path: str, requests: int) -> None:
    """Profile `requests` GETs of `path` and print every stage's share of the time."""
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    for _ in range(requests):
        ask(app, path)
    profile.disable()
    stats = pstats.Stats(profile).stats
    total = max(entry[3] for entry in stats.values())  # ask()'s cumulative time: the whole loop
    print(f"==== {path}: {requests} requests, {total:.2f} s profiled", flush=True)
    for label, func in stages(app):
        entry = stats.get(_key(func))
        calls, cumulative = (entry[1], entry[3]) if entry else (0, 0.0)
        print(f"{cumulative / total * 100:6.1f} %  {cumulative / max(calls, 1) * 1e6:7.1f} us/call  "
              f"{calls:>7} calls  {label}", flush=True)


def main() -> None:
    """Print each path's profile by hook."""
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args()
    with warm_app(args.database_url, args.paths, "aime-hooks-data-") as app:
        for path in args.paths:
            profile_path(app, path, args.requests)


if __name__ == "__main__":
    main()
