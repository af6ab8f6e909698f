"""A bare WSGI app for the worker's own tests (aime/server/worker.py), served by gunicorn with the shipped config.

Every answer is JSON naming what was asked: {"method", "path", "body"} (the request body's length), so a test
reading several answers from one connection knows which request each one answers. /not-modified answers 304 without
a body; /stream answers its body in three pieces without a Content-Length (chunked).
"""
from __future__ import annotations

import json


def app(environ, start_response):
    """Answer what was asked (see the module docstring)."""
    path = environ["PATH_INFO"] + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
    body = environ["wsgi.input"].read()
    if environ["PATH_INFO"] == "/not-modified":
        start_response("304 Not Modified", [("ETag", '"v1"')])
        return []
    answer = json.dumps({"method": environ["REQUEST_METHOD"], "path": path, "body": len(body)}).encode()
    if environ["PATH_INFO"] == "/stream":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [answer[:5], answer[5:10], answer[10:]]
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
    return [answer]
