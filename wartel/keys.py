"""Typed application keys: what the app factory puts on the application."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from wartel.config import Settings

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
ENDPOINTS = web.AppKey("endpoints", list)
SECRET_KEY = web.AppKey("secret_key", bytes)
METRICS = web.AppKey("metrics", object)
SCHEDULER = web.AppKey("scheduler", object)
EVENTS = web.AppKey("events", object)  # live-board broadcaster
STATE: web.AppKey[dict[str, Any]] = web.AppKey("state", dict)

# Per-request storage.
REQUEST_ID = web.RequestKey("request_id", str)
LANGUAGE = web.RequestKey("language", str)
PRINCIPAL = web.RequestKey("principal", object)
CONN = web.RequestKey("conn", object)  # the request's pooled connection, shared by auth and endpoint
DEVICE = web.RequestKey("device", object)  # (device_id, facility_id, booth_id) for a kiosk terminal
