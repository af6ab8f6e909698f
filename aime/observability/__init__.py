"""Logs, request ids and counters, error reporting."""
from .logging import init_logging
from .requests import init_request_tracking

__all__ = ["init_logging", "init_request_tracking"]
