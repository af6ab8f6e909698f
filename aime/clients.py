"""Who is asking, and over what: client address and scheme, believing forwarded headers only from trusted proxies."""
from __future__ import annotations

import ipaddress
from functools import lru_cache

from flask import request

from .config import current_config


@lru_cache(maxsize=32)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(item, strict=False) for item in proxies)


def _trusted(address: str | None) -> bool:
    proxies = current_config().trusted_proxies
    if not address or not proxies:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(proxies))


def client_address() -> str:
    """The client's IP: the peer, or (when the peer is a trusted proxy) the last untrusted X-Forwarded-For hop.

    Anyone can send X-Forwarded-For; only a configured proxy's word is taken, and of the chain only
    the hops our proxies appended (read from the right), so a client cannot pick its own address.
    """
    peer = request.remote_addr or "unknown"
    if not _trusted(peer):
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop):
            return hop
    return hops[0] if hops else peer


def came_over_https() -> bool:
    """True when the request reached us (or the trusted proxy in front) over HTTPS."""
    if request.scheme == "https":
        return True
    if _trusted(request.remote_addr):
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return proto == "https"
    return False
