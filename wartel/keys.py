"""Typed application keys: what the app factory puts on the application."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from wartel.config import Settings

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)  # interactive requests (statement budget request_statement_timeout_ms)
HEAVY_POOL = web.AppKey("heavy_pool", asyncpg.Pool)  # reports, searches, link views, imports (heavy_pool_max)
JOBS_POOL = web.AppKey("jobs_pool", asyncpg.Pool)  # scheduled jobs (db_statement_timeout_ms)
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
