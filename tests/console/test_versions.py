"""Versions in the browser: a widening upgrade waits for approval, observation promotes,
drafts are shown and never offered as rollback targets, a narrowing rollback asks nothing."""

from __future__ import annotations

from playwright.async_api import expect

from tests.console.conftest import token_of
from tests.console.test_app import shot, signed_in
from tests.registry.factories import deploy, manifest


async def test_versions_widening_needs_approval_observation_promotes_and_drafts_show(
    browser, suite
):
    v1 = manifest("acme-sync", "1.0.0", hosts=["api.acme.test"], config={"properties": {}})
    wider = manifest("acme-sync", "2.0.0", hosts=["api.acme.test", "files.acme.test"])
    observed = manifest("acme-sync", "2.1.0", hosts=["api.acme.test", "files.acme.test"])
    draft = manifest("acme-sync", "2.2.0-dev", hosts=["api.acme.test", "files.acme.test"])
    await deploy(suite.http, suite.registry, suite.tenant, v1)
    installed = await suite.api("POST", "/v1/installations", json={"extension_key": "acme-sync"})
    await deploy(suite.http, suite.registry, suite.tenant, wider)
    page = await signed_in(browser, suite, token_of(suite.tenant.admin))
    base = f"{suite.console}/installations/{installed['id']}"

    # 2.0.0 widens: it waits; the diff is shown and the upgrade needs the approval box.
    await page.goto(f"{base}/versions")
    await expect(page.get_by_text("Version 2.0.0 widens permissions")).to_be_visible()
    await page.get_by_role("link", name="Review the diff").click()
    await expect(page.get_by_text("host https://files.acme.test")).to_be_visible()
    await shot(page, "permissions-upgrade")
    await page.get_by_label("I approve the wider permissions").check()
    await page.get_by_role("button", name="Upgrade").click()
    await expect(page.get_by_text("Upgraded.")).to_be_visible()
    await expect(page.locator(".card", has_text="Active")).to_contain_text("2.0.0")

    # An observation version with Promote; a draft listed, never promoted.
    await deploy(suite.http, suite.registry, suite.tenant, observed, mode="observe")
    await deploy(suite.http, suite.registry, suite.tenant, draft, mode="draft")
    await page.reload()
    await expect(page.locator(".card", has_text="Observation")).to_contain_text("2.1.0")
    await expect(page.locator(".card", has_text="Draft")).to_contain_text("2.2.0-dev")
    await shot(page, "versions-observation")
    await page.get_by_role("button", name="Promote").click()
    await expect(page.get_by_text("Promoted the observation version")).to_be_visible()
    await expect(page.locator(".card", has_text="Active")).to_contain_text("2.1.0")

    # A draft replaced by a newer `backfill dev` session is labelled, never a rollback target.
    for label in ("2.4.0-dev.s1", "2.5.0-dev.s2"):
        again = manifest("acme-sync", label, hosts=["api.acme.test", "files.acme.test"])
        await deploy(suite.http, suite.registry, suite.tenant, again, mode="draft")
    await page.reload()
    old_draft = page.get_by_role("row").filter(has_text="2.4.0-dev.s1")
    await expect(old_draft).to_contain_text("old draft")
    await expect(old_draft.get_by_role("link")).to_have_count(0)

    # Rolling back to 1.0.0 narrows: no approval asked.
    await page.get_by_role("row", name="1.0.0").get_by_role("link", name="Roll back").click()
    await expect(page.get_by_text("host https://files.acme.test")).to_be_visible()
    await expect(page.get_by_label("I approve the wider permissions")).to_have_count(0)
    await page.get_by_role("button", name="Roll back").click()
    await expect(page.locator(".card", has_text="Active")).to_contain_text("1.0.0")
    await page.context.close()
