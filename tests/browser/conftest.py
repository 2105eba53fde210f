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


@pytest.fixture
async def browser_page(client) -> AsyncIterator[tuple[Any, str]]:  # type: ignore[no-untyped-def]
    """A fresh browser page and the base URL of the app the `client` fixture serves on a random port."""
    if not _chromium_present():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser journeys skipped")
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
