"""Driving the dashboard in a browser: sign in, navigate, screenshot, deliver, deploy."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from tests.console.conftest import SCREENSHOTS, Suite, token_of
from tests.harness import eventually
from tests.ingress.factories import signed, stripe_event

ROOT = Path(__file__).resolve().parents[2]
SIGNING_SECRET = "whsec_console_journey_5b2c"


async def shot(page: Page, name: str) -> None:
    """A full-page screenshot: into docs/console/ under `make screenshots`, else a temp dir.

    `make test` must not rewrite committed files, so the documentation copies are refreshed
    only on purpose; the screenshot is still taken (a page that cannot render fails here).
    """
    folder = SCREENSHOTS if os.environ.get("BACKFILL_SCREENSHOTS") == "1" else _scratch()
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _scratch() -> Path:
    return Path(tempfile.gettempdir()) / f"backfill-console-shots-{os.getpid()}"


async def nav(page: Page, name: str) -> None:
    await page.get_by_role("navigation", name="Settings").get_by_role("link", name=name).click()


async def tab(page: Page, name: str) -> None:
    await page.get_by_role("navigation", name="Installation").get_by_role("link", name=name).click()


async def signed_in(browser: Any, suite: Suite, token: str, **context: Any) -> Page:
    """A fresh browser context signed in through the bootstrap link (`/sign-in#token=...`)."""
    ctx = await browser.new_context(**context)
    page = await ctx.new_page()
    await page.goto(f"{suite.console}/sign-in#token={token}")
    await expect(page.get_by_role("heading", name="Installed")).to_be_visible()
    return page


async def deliver_until_accepted(suite: Suite, url: str) -> None:
    """POST a signed Stripe event until ingress has the signing secret (via Kafka) and takes it."""

    async def delivered() -> bool:
        body, headers = signed(stripe_event("customer.created"), secret=SIGNING_SECRET)
        response = await suite.http.post(url, content=body, headers=headers)
        assert response.status_code == 202, response.text
        return True

    await eventually(delivered, timeout=30, interval=0.2)


async def backfill_deploy(suite: Suite, directory: Path) -> str:
    """`backfill deploy DIR` as its own process, as a developer runs it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "deploy",
        str(directory),
        "--registry",
        suite.registry,
        "--token",
        token_of(suite.tenant.admin),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()
