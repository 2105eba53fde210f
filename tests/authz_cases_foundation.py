"""Authorisation cases for the foundation: health, metrics, OpenAPI, login, tokens."""

from __future__ import annotations

from tests.authz import EVERYONE, SAME, Case
from tests.factory import PASSWORD

CASES = [
    Case("GET", "/healthz", EVERYONE, foreign=SAME),
    Case("GET", "/readyz", EVERYONE, foreign=SAME),
    Case("GET", "/metrics", EVERYONE, foreign=SAME),
    Case("GET", "/api/openapi.json", EVERYONE, foreign=SAME),
    Case("POST", "/api/v1/auth/login", EVERYONE, body={"username": "{username}", "password": PASSWORD},
         foreign=SAME),
    Case("POST", "/api/v1/auth/logout", EVERYONE, foreign=SAME),
    Case("GET", "/api/v1/auth/me", EVERYONE, foreign=SAME),
    Case("POST", "/api/v1/auth/tokens", EVERYONE, body={"name": "matrix"}, foreign=SAME),
    # Own: one of your own tokens. Foreign: another user's token, which only the admin may revoke.
    Case("DELETE", "/api/v1/auth/tokens/{token_id}", EVERYONE, fresh=("token_id",)),
]
