"""Extension pages, page actions and UI contributions in a real browser (Chromium).

The test extension (tests/ingress/fixtures/routes_pages) is deployed through the registry
and installed; the console renders its pages from the trees ingress checked.
"""

from __future__ import annotations

from typing import Any

import pytest_asyncio
from playwright.async_api import Page, expect

from tests.console.browsing import signed_in
from tests.console.conftest import Suite, token_of
from tests.harness import eventually
from tests.ingress.ext_stack import FIXTURE, bundle_of


@pytest_asyncio.fixture(scope="module")
async def installation(suite: Suite) -> str:
    """An installation of the test extension, served by ingress."""
    deployed = await suite.http.post(
        f"{suite.registry}/v1/extensions/routes-pages/versions",
        params={"mode": "active"},
        content=bundle_of(FIXTURE),
        headers={**suite.tenant.admin, "content-type": "application/gzip"},
    )
    assert deployed.status_code in (200, 201), deployed.text
    installed = await suite.http.post(
        f"{suite.registry}/v1/installations",
        json={"extension_key": "routes-pages"},
        headers=suite.tenant.admin,
    )
    assert installed.status_code == 201, installed.text
    installation_id = str(installed.json()["id"])

    async def served() -> bool:
        answer = await suite.http.get(
            f"{suite.ingress}/v1/installations/{installation_id}/routes",
            headers=suite.tenant.admin,
        )
        return answer.status_code == 200

    await eventually(served, timeout=20, what="ingress serving the installation")
    return installation_id


async def as_admin(browser: Any, suite: Suite) -> Page:
    return await signed_in(browser, suite, token_of(suite.tenant.admin))


async def as_member(browser: Any, suite: Suite) -> Page:
    return await signed_in(browser, suite, token_of(suite.tenant.member))


async def test_a_page_renders_each_component_in_the_navigation(
    browser: Any, suite: Suite, installation: str
) -> None:
    page = await as_admin(browser, suite)
    await page.goto(f"{suite.console}/installations/{installation}/settings")
    tabs = page.get_by_role("navigation", name="Installation")
    await tabs.get_by_role("link", name="Board").click()
    await expect(page.get_by_role("heading", name="Orders board")).to_be_visible()
    await expect(page.get_by_text("Signed in as admin")).to_be_visible()
    await expect(page.locator(".ext-kv dt")).to_have_text(["Installation"])
    await expect(page.locator(".ext-table tbody tr")).to_have_count(2)
    await expect(page.locator(".ext-table tbody")).to_contain_text("o_2")
    await expect(page.locator(".ext-page .badge")).to_have_text("open")
    await expect(page.get_by_role("link", name="Docs")).to_have_attribute(
        "href", "https://example.com/docs"
    )
    await expect(page.get_by_role("img", name="Orders per day")).to_be_visible()
    await expect(page.locator(".ext-chart polyline")).to_have_count(1)
    await expect(page.get_by_label("Customer")).to_be_visible()
    await expect(page.get_by_text("Purge all", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Yes, Purge all")).to_be_hidden()
    csp = await page.evaluate("() => document.readyState")
    assert csp == "complete"
    await page.context.close()


async def test_a_form_validation_error_appears_next_to_its_field(
    browser: Any, suite: Suite, installation: str
) -> None:
    page = await as_member(browser, suite)
    await page.goto(f"{suite.console}/installations/{installation}/pages/board")
    await page.get_by_label("Amount").fill("-3")
    await page.get_by_role("button", name="Add order").click()
    customer = page.locator(".field", has=page.get_by_label("Customer"))
    amount = page.locator(".field", has=page.get_by_label("Amount"))
    await expect(customer.locator(".error")).to_have_text("Customer is required")
    await expect(amount.locator(".error")).to_have_text("Amount must be more than zero")
    await expect(page.get_by_label("Amount")).to_have_value("-3")  # what was typed stays
    await page.get_by_label("Customer").fill("Acme")
    await page.get_by_label("Amount").fill("12")
    await page.get_by_role("button", name="Add order").click()
    await expect(page.get_by_role("status")).to_have_text("Order for Acme added (12)")
    await page.context.close()


async def purge(page: Any) -> None:
    """The button with `confirm`: its label asks first, only the answer runs the action."""
    await page.get_by_text("Purge all", exact=True).click()
    await expect(page.get_by_text("Delete every order of this installation?")).to_be_visible()
    await page.get_by_role("button", name="Yes, Purge all").click()


async def test_a_member_sees_the_page_but_an_admin_only_action_is_refused(
    browser: Any, suite: Suite, installation: str
) -> None:
    page = await as_member(browser, suite)
    await page.goto(f"{suite.console}/installations/{installation}/pages/board")
    await expect(page.get_by_text("Signed in as member")).to_be_visible()
    await purge(page)
    await expect(page.get_by_role("status")).to_contain_text("needs the admin role")
    await page.context.close()
    admin = await as_admin(browser, suite)
    await admin.goto(f"{suite.console}/installations/{installation}/pages/board")
    await purge(admin)
    await expect(admin.get_by_role("status")).to_have_text("Purged")
    await admin.context.close()


async def test_script_in_a_tree_is_rendered_inert(
    browser: Any, suite: Suite, installation: str
) -> None:
    page = await as_member(browser, suite)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    answer = await page.goto(f"{suite.console}/installations/{installation}/pages/hostile")
    assert answer is not None and "script-src 'self'" in answer.headers["content-security-policy"]
    await expect(page.locator(".ext-page h3")).to_have_text("<script>window.__pwned = 1</script>")
    await expect(page.locator(".ext-table td")).to_have_text("<script>window.__pwned=1</script>")
    assert await page.evaluate("() => window.__pwned") is None
    assert await page.locator(".ext-page script, .ext-page img").count() == 0
    await page.goto(f"{suite.console}/installations/{installation}/pages/unsafe-link")
    await expect(page.get_by_role("alert")).to_contain_text("tree[0].href")
    assert await page.locator("a[href^='javascript:']").count() == 0
    assert await page.evaluate("() => window.__pwned") is None and dialogs == []
    await page.context.close()


async def test_ui_contributions_appear_in_their_places(
    browser: Any, suite: Suite, installation: str
) -> None:
    page = await as_member(browser, suite)
    await page.goto(f"{suite.console}/installations/{installation}/settings")
    panel = page.get_by_role("region", name="Orders today")
    await expect(panel.locator(".ext-kv dd")).to_have_text("3")
    await page.goto(f"{suite.console}/extensions")
    await expect(page.get_by_role("columnheader", name="Open orders")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="routes-pages")
    await expect(row.locator(".ext-cell .badge")).to_have_text("2 open")
    await row.get_by_role("link", name="Open board").click()
    await expect(page.get_by_role("heading", name="Orders board")).to_be_visible()
    await page.context.close()
