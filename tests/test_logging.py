"""Phone numbers and names never reach the logs in clear, through the production logging chain."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from wartel.logging import configure_logging

PHONE_FORMS = ("+6281234567890", "081234567890", "6281234567890", "0812-3456-7890", "1234567890")
NAMES = ("Siti Aminah", "Bambang Wijaya")


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Everything the service logs, as configured for production, written to a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("json", "INFO")
    buffer = io.StringIO()
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(buffer)
    structlog.configure(cache_logger_on_first_use=False)  # so later tests are not bound to this chain
    try:
        yield buffer
    finally:
        structlog.reset_defaults()
        root.handlers[:], level = saved
        root.setLevel(level)


def _lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]


def _assert_clean(text: str) -> None:
    for secret in PHONE_FORMS + NAMES:
        assert secret not in text, f"{secret!r} reached the log: {text}"


async def test_contact_registration_logs_no_number_or_name(factory, json_logs) -> None:  # type: ignore[no-untyped-def]
    facility = await factory.facility()
    inmate = await factory.inmate(facility, name=NAMES[1])
    officer = await factory.as_role("officer", facility_id=facility)
    r = await officer.post(f"/api/v1/inmates/{inmate}/contacts",
                           json={"phone": "0812-3456-7890", "name": NAMES[0], "relation": "spouse"})
    assert r.status == 201, await r.text()
    # A refused duplicate and a malformed number go through the error paths too.
    r = await officer.post(f"/api/v1/inmates/{inmate}/contacts",
                           json={"phone": "+62 812 3456 7890", "name": NAMES[0], "relation": "spouse"})
    assert r.status == 409
    r = await officer.post(f"/api/v1/inmates/{inmate}/contacts",
                           json={"phone": "0812-3456-7890-99999", "name": NAMES[0], "relation": "spouse"})
    assert r.status == 422
    lines = _lines(json_logs)
    requests = [line for line in lines if line.get("event") == "request"]
    assert len(requests) == 3 and all(line["request_id"] for line in requests)  # the capture works
    _assert_clean(json.dumps(lines))


def test_personal_fields_and_numbers_in_free_text_are_masked(json_logs: io.StringIO) -> None:
    log = structlog.get_logger("wartel.test")
    log.info("contact registered", phone="+6281234567890", name=NAMES[0],
             detail="family called from 0812-3456-7890 yesterday")
    logging.getLogger("asyncpg.test").warning("duplicate key (phone_e164)=(+6281234567890)")
    lines = _lines(json_logs)
    assert len(lines) == 2
    _assert_clean(json.dumps(lines))
    assert lines[0]["phone"] == "***" and lines[0]["name"] == "***"
