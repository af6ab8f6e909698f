"""The API token in the OpenAPI document: security schemes, and which operations need the token."""
from __future__ import annotations

from apispec import BasePlugin

from ..auth import WRITE_METHODS

BEARER = "bearerAuth"
TOKEN = "tokenAuth"
SCHEMES = {
    BEARER: {"type": "http", "scheme": "bearer",
             "description": "The API token: `Authorization: Bearer <token>` (data/api_token, or AIME_API_TOKEN)."},
    # `Token <token>` is not an IANA HTTP scheme, so clients know it only as the raw header value.
    TOKEN: {"type": "apiKey", "in": "header", "name": "Authorization",
            "description": "The same token, ListenBrainz style: the header value is `Token <token>`."},
}
REQUIREMENT = [{BEARER: []}, {TOKEN: []}]  # either one


class TokenSecurityPlugin(BasePlugin):
    """Marks the operations that need the token (writes; every operation when AIME_PRIVATE=1)."""

    def __init__(self, private: bool):
        self.private = private

    def init_spec(self, spec) -> None:
        """Declare both schemes once the spec exists."""
        super().init_spec(spec)
        for name, scheme in SCHEMES.items():
            spec.components.security_scheme(name, scheme)

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        """Add `security` and the 401 answer to each operation that needs the token."""
        for method, operation in (operations or {}).items():
            if method.upper() in WRITE_METHODS or self.private:
                operation.setdefault("security", REQUIREMENT)
                operation.setdefault("responses", {}).setdefault("401", "UNAUTHORIZED")
