"""Headless Chromium (Debian's package) driven by Playwright, against the real app on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("WARTEL_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium_present() -> bool:
    return Path(CHROMIUM).exists()


# One line saying what to do: `make test` installs Debian's chromium itself when it runs as root.
MISSING = (f"{CHROMIUM} is not installed: the browser journeys need it (apt-get install chromium, or set "
           "WARTEL_CHROMIUM to a Chromium binary); WARTEL_SKIP_BROWSER=1 opts out explicitly")


@pytest.fixture
async def browser_page(client) -> AsyncIterator[tuple[Any, str]]:  # type: ignore[no-untyped-def]
    """A fresh browser page and the base URL of the app the `client` fixture serves on a random port."""
    if not _chromium_present():
        # A skipped journey would read as a pass; opting out is WARTEL_SKIP_BROWSER=1 (tests/conftest.py).
        pytest.fail(MISSING, pytrace=False)
    from playwright.async_api import async_playwright

    os.makedirs(ARTIFACTS, exist_ok=True)
    base = str(client.make_url("/")).rstrip("/")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = await browser.new_context(viewport={"width": 1024, "height": 768}, accept_downloads=True,
                                                locale="id-ID")
            page = await context.new_page()
            page.set_default_timeout(15_000)
            yield page, base
            await context.close()
        finally:
            await browser.close()


async def shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def log_in(page: Any, base: str, username: str) -> None:
    from tests.factory import PASSWORD

    await page.goto(f"{base}/login")
    await page.get_by_label("Nama pengguna").fill(username)
    await page.get_by_label("Kata sandi").fill(PASSWORD)
    await page.get_by_role("button", name="Masuk").click()
    await page.wait_for_load_state("domcontentloaded")
