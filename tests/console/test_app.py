"""The dashboard in a real browser against the real suite: an admin's whole journey, a
member's read-only view, and a cross-site form post refused.

Screenshots of every page land in docs/console/ (the README shows the main ones).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path

from litestar import Litestar, MediaType, get
from playwright.async_api import expect

from tests.console.browsing import (
    ROOT,
    SIGNING_SECRET,
    backfill_deploy,
    deliver_until_accepted,
    nav,
    shot,
    signed_in,
    tab,
)
from tests.console.conftest import GOOD_KEY, token_of
from tests.harness import serving
from tests.registry.factories import deploy, manifest
from tests.registry.test_connections import FakeOAuth, oauth_connector

ROTATED_KEY = "sk_test_good_rotated_7f3a91"


async def test_admin_installs_stripe_and_runs_it_through_its_whole_life(browser, suite):
    admin = token_of(suite.tenant.admin)
    page = await signed_in(browser, suite, admin, viewport={"width": 1280, "height": 900})
    assert admin not in await page.content()
    await shot(page, "installed-empty")

    # Catalog → Stripe's manifest summary → Install.
    await nav(page, "Catalog")
    await expect(page.get_by_role("heading", name="First-party connectors")).to_be_visible()
    await shot(page, "catalog")
    await page.get_by_role("link", name="Stripe").first.click()
    await expect(page.get_by_text("Version about to install")).to_be_visible()
    await expect(page.get_by_text("https://api.stripe.com")).to_be_visible()
    await shot(page, "catalog-stripe")
    await page.get_by_label("Connection name").fill("ledger")
    await page.get_by_role("button", name="Install").click()
    await expect(page.get_by_text("Installed. Fill in the settings below")).to_be_visible()
    # Install does not make the connector live: the signing secret is needed too (by label).
    await expect(
        page.get_by_text("Pending: fill in Secret key, Webhook signing secret")
    ).to_be_visible()
    installation_id = page.url.split("/installations/")[1].split("/")[0]
    await shot(page, "setup")

    # Activate with required fields empty: refused at each field, labels in the banner.
    await page.get_by_role("button", name="Activate").click()
    await expect(page.locator("#f-api_key-error")).to_contain_text("Required to activate")
    await expect(page.locator("#f-webhook_secret-error")).to_contain_text("Required to activate")
    await expect(page.get_by_role("alert")).to_contain_text(
        "fill in Secret key and Webhook signing secret"
    )
    await expect(page.get_by_text("Settings saved")).to_have_count(0)

    # A rejected key: the verdict next to the field, nothing saved, the typed secret kept.
    await page.get_by_label("Webhook signing secret").fill(SIGNING_SECRET)
    await page.get_by_label("Secret key").fill("sk_test_revoked")
    await page.get_by_role("button", name="Test connection").click()
    api_key_error = page.locator("#f-api_key-error")
    await expect(api_key_error).to_contain_text("nothing was saved")
    await expect(api_key_error).to_contain_text("Stripe rejected the API key")
    await expect(page.get_by_label("Webhook signing secret")).to_have_value(SIGNING_SECRET)
    await shot(page, "setup-test-failed")
    stored = await suite.api("GET", f"/v1/installations/{installation_id}")
    assert (stored["state"], stored["secrets"]) == ("pending", [])

    # The fixed key passes the test, which still saves and activates nothing.
    await page.get_by_label("Secret key").fill(GOOD_KEY)
    await page.get_by_role("button", name="Test connection").click()
    await expect(page.get_by_role("status").first).to_contain_text("Connection OK")
    await expect(page.get_by_role("status").first).to_contain_text("Nothing is saved until")
    await shot(page, "setup-test-passed")
    stored = await suite.api("GET", f"/v1/installations/{installation_id}")
    assert (stored["state"], stored["secrets"]) == ("pending", [])
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.get_by_role("button", name="Copy").click()
    await expect(page.get_by_text("Webhook URL copied")).to_be_visible()
    webhook_url = await page.evaluate("navigator.clipboard.readText()")
    assert webhook_url == await page.get_by_label("Webhook URL").input_value()
    assert webhook_url.startswith(f"{suite.ingress}/hooks/")
    # Activate: saves the form and goes live, saying so.
    await page.get_by_role("button", name="Activate").click()
    await expect(page.get_by_text("Activated: streams poll on schedule")).to_be_visible()
    stored = await suite.api("GET", f"/v1/installations/{installation_id}")
    assert stored["state"] == "active"
    await shot(page, "settings")
    assert GOOD_KEY not in await page.content() and SIGNING_SECRET not in await page.content()

    # A signed delivery shows up in Deliveries (and its health on Connection).
    await deliver_until_accepted(suite, webhook_url)
    await tab(page, "Deliveries")
    await expect(page.get_by_role("cell", name="customer.created")).to_be_visible()
    await expect(page.get_by_text("accepted").first).to_be_visible()
    await page.get_by_role("link", name="Detail").first.click()
    await expect(page.get_by_role("button", name="Replay this delivery")).to_be_visible()
    await shot(page, "deliveries")
    await page.get_by_role("button", name="Replay this delivery").click()
    await expect(page.get_by_text("Delivery replayed.")).to_be_visible()
    an_hour_ago = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 3600))
    await page.get_by_label("From (UTC)").fill(an_hour_ago)
    await page.get_by_role("button", name="Replay range").click()
    await expect(page.get_by_text("Replayed 1 delivery.")).to_be_visible()
    await tab(page, "Connection")
    # The webhook-health term (the streams table, once sync serves it, has the same header).
    await expect(page.get_by_role("term").filter(has_text="Last success")).to_be_visible()
    await expect(page.get_by_text("1 in the last hour")).to_be_visible()
    await shot(page, "connection")

    # Settings edit: takes effect without a redeploy.
    await tab(page, "Settings")
    await page.get_by_label("Account label").fill("Production EU")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_text("they take effect immediately")).to_be_visible()
    stored = await suite.api("GET", f"/v1/installations/{installation_id}")
    assert stored["settings"]["account_label"] == "Production EU"

    # Secret rotation: a new revision, and no page ever shows the value.
    await tab(page, "Secrets")
    await page.get_by_label("New value for api_key").fill(ROTATED_KEY)
    await page.get_by_role("row", name="api_key").get_by_role("button", name="Rotate").click()
    await expect(page.get_by_text("Secret api_key saved")).to_be_visible()
    await expect(
        page.get_by_role("row", name="api_key").get_by_role("cell").nth(1)
    ).to_contain_text("2")
    await shot(page, "secrets")
    assert ROTATED_KEY not in await page.content()
    await tab(page, "Permissions")
    await expect(page.get_by_text("api.stripe.com")).to_be_visible()
    await shot(page, "permissions")

    # A new version deployed with the CLI, then rolled back from Versions.
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "stripe"
        shutil.copytree(ROOT / "connectors" / "stripe", directory)
        manifest = json.loads((directory / "manifest.json").read_text())
        (directory / "manifest.json").write_text(json.dumps({**manifest, "version": "1.1.0"}))
        await backfill_deploy(suite, directory)
    await tab(page, "Versions")
    await expect(page.get_by_role("row", name="1.1.0")).to_be_visible()
    await expect(page.locator(".card", has_text="Active")).to_contain_text("1.1.0")
    await shot(page, "versions")
    await page.get_by_role("row", name="1.0.0").get_by_role("link", name="Roll back").click()
    await expect(page.get_by_text("The permissions stay the same")).to_be_visible()
    await shot(page, "rollback-confirm")
    await page.get_by_role("button", name="Roll back").click()
    await expect(page.get_by_text("Rolled back")).to_be_visible()
    await expect(page.locator(".card", has_text="Active")).to_contain_text("1.0.0")

    # Logs tab renders (lines or a clear state) with its filters.
    await tab(page, "Logs")
    await expect(page.get_by_label("Level (minimum)")).to_be_visible()
    await page.get_by_role("button", name="Start live tail").click()
    # The tail is relayed by the console: live, or a clear word when the logs service cannot.
    await expect(page.locator("#live-status")).to_have_text(re.compile("Live:|not available"))
    await shot(page, "logs")

    # Disable, enable; the Installed row says so.
    await page.get_by_role("button", name="Disable").click()
    await expect(page.get_by_text("Disabled: hooks, jobs and routes stopped")).to_be_visible()
    await nav(page, "Installed")
    await expect(page.get_by_role("row", name="ledger")).to_contain_text("disabled")
    await (
        page.get_by_role("row", name="ledger")
        .get_by_role("link", name="stripe", exact=True)
        .click()
    )
    await page.get_by_role("button", name="Enable").click()
    await expect(page.get_by_text("Enabled")).to_be_visible()
    await nav(page, "Installed")
    await shot(page, "installed")
    await page.set_viewport_size({"width": 390, "height": 844})
    await shot(page, "installed-phone")
    await page.set_viewport_size({"width": 1280, "height": 900})

    # Members and Audit.
    await nav(page, "Members")
    await expect(page.get_by_text("member@example.com")).to_be_visible()
    await page.get_by_label("Email").fill("kim@example.com")
    await page.get_by_role("button", name="Add member").click()
    await expect(page.get_by_text("kim@example.com added.")).to_be_visible()
    await expect(page.get_by_role("cell", name="kim@example.com")).to_be_visible()
    await shot(page, "members")
    await nav(page, "Audit")
    await expect(page.get_by_role("heading", name="Audit")).to_be_visible()
    installed_row = page.get_by_role("row", name="ExtensionInstalled").first
    await expect(installed_row).to_contain_text("admin@example.com")  # the actor, by email
    await shot(page, "audit")

    # Uninstall: the confirmation names what is deleted and what persists.
    await page.goto(f"{suite.console}/installations/{installation_id}/settings")
    await page.get_by_role("link", name="Uninstall…").click()
    await expect(
        page.get_by_text("Custom entities it defined and their data persist")
    ).to_be_visible()
    await expect(page.get_by_text("Its secrets (api_key, webhook_secret)")).to_be_visible()
    await shot(page, "uninstall")
    await page.get_by_role("button", name="Uninstall", exact=True).click()
    await expect(page.get_by_text("Uninstalled.")).to_be_visible()
    await expect(page.get_by_role("row", name="ledger")).to_have_count(0)
    assert (await suite.api("GET", f"/v1/installations/{installation_id}"))[
        "state"
    ] == "uninstalled"

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await shot(page, "sign-in")
    await page.context.close()


async def test_member_sees_everything_read_only_without_admin_actions(browser, suite):
    installed = await suite.api(
        "POST",
        "/v1/installations",
        json={"extension_key": "stripe", "connection_name": "members-view"},
    )
    page = await signed_in(browser, suite, token_of(suite.tenant.member))
    await expect(page.get_by_role("row", name="members-view")).to_be_visible()
    await page.goto(f"{suite.console}/installations/{installed['id']}/settings")
    await expect(page.get_by_text("Read-only")).to_be_visible()
    for name in ("Disable", "Test connection", "Save settings", "Activate"):
        await expect(page.get_by_role("button", name=name)).to_have_count(0)
    await expect(page.get_by_role("link", name="Uninstall…")).to_have_count(0)
    await expect(page.get_by_label("Secret key")).to_be_disabled()
    await shot(page, "member-view")
    await tab(page, "Versions")
    await expect(page.get_by_role("link", name="Roll back…")).to_have_count(0)
    await page.goto(f"{suite.console}/extensions/catalog/stripe")
    await expect(page.get_by_text("Installing needs the workspace admin role")).to_be_visible()
    await expect(page.get_by_role("button", name="Install")).to_have_count(0)
    await page.context.close()


async def test_cross_site_form_post_is_refused(browser, suite):
    installed = await suite.api(
        "POST",
        "/v1/installations",
        json={"extension_key": "stripe", "connection_name": "csrf-target"},
    )
    target = f"{suite.console}/installations/{installed['id']}/action/uninstall"
    page = await signed_in(browser, suite, token_of(suite.tenant.admin))
    attacker = f'<form method="post" action="{target}"><button>win a prize</button></form>'

    @get("/", media_type=MediaType.HTML, sync_to_thread=False)
    def attacker_page() -> str:
        return attacker

    async with serving(Litestar([attacker_page])) as evil_site:
        # Another site (localhost is not the console's 127.0.0.1) posting the console's form.
        await page.goto(evil_site.replace("127.0.0.1", "localhost"))
        async with page.expect_response(target) as answer:
            await page.get_by_role("button", name="win a prize").click()
        response = await answer.value
    assert response.status == 403
    assert (await suite.api("GET", f"/v1/installations/{installed['id']}"))[
        "state"
    ] != "uninstalled"
    # The same action from the console's own page (with its CSRF token) goes through.
    await page.goto(f"{suite.console}/installations/{installed['id']}/uninstall")
    await page.get_by_role("button", name="Uninstall", exact=True).click()
    await expect(page.get_by_text("Uninstalled.")).to_be_visible()
    await page.context.close()


async def test_every_console_page_forbids_injected_scripts(browser, suite):
    page = await signed_in(browser, suite, token_of(suite.tenant.admin))
    for path in ("/extensions", "/extensions/catalog", "/sign-in", "/static/app.js"):
        answer = await page.goto(f"{suite.console}{path}")
        assert (
            answer is not None and "script-src 'self'" in answer.headers["content-security-policy"]
        ), path
        assert answer.headers["x-content-type-options"] == "nosniff"
    # Markup that slipped past escaping: its inline handler and inline script never run,
    # while the console's own scripts (htmx from /static) still do.
    await page.goto(f"{suite.console}/extensions")
    pwned = await page.evaluate(
        """() => new Promise((resolve) => {
            const s = document.createElement('script');
            s.textContent = 'window.pwned = 1';
            document.body.appendChild(s);
            document.body.insertAdjacentHTML(
                'beforeend', '<img id="probe" src="data:," onerror="window.pwned = 2">');
            // Listeners run in registration order: once this one ran, the inline one did
            // (or was blocked).
            document.getElementById('probe').addEventListener(
                'error', () => resolve(window.pwned ?? null));
        })"""
    )
    assert pwned is None
    assert await page.evaluate("() => typeof window.htmx === 'object'")
    await page.context.close()


async def test_oauth_connect_goes_through_the_provider_and_comes_back_to_the_page(browser, suite):
    provider = FakeOAuth()
    async with serving(provider.app()) as base:
        await deploy(suite.http, suite.registry, suite.tenant, oauth_connector(base))
        installed = await suite.api(
            "POST",
            "/v1/installations",
            json={"extension_key": "oauth-crm", "settings": {"client_id": "cid-1"}},
        )
        page = await signed_in(browser, suite, token_of(suite.tenant.admin))
        await page.goto(f"{suite.console}/installations/{installed['id']}/settings")
        await expect(page.get_by_text("Status: not connected")).to_be_visible()
        await page.get_by_label("Client secret").fill(provider.client_secret)
        await page.get_by_role("button", name="Save settings").click()
        await expect(page.get_by_text("Settings saved")).to_be_visible()
        await shot(page, "oauth-connect")
        await page.get_by_role("button", name="Connect").click()
        await expect(page.get_by_text("Connected: the provider authorized")).to_be_visible()
        await expect(page.get_by_text("Status: connected")).to_be_visible()
        assert page.url.endswith(f"/installations/{installed['id']}/settings")
    await page.context.close()


async def test_a_private_extension_without_required_settings_is_live_on_install(browser, suite):
    enrich = manifest("acme-enrich", hosts=["api.acme.test"], config={"properties": {}})
    assert (await deploy(suite.http, suite.registry, suite.tenant, enrich)).status_code == 201
    page = await signed_in(browser, suite, token_of(suite.tenant.admin))
    await nav(page, "Catalog")
    private = page.get_by_role("heading", name="Private extensions")
    await expect(private).to_be_visible()
    await page.get_by_role("link", name="Acme Enrich").click()
    await expect(
        page.get_by_text("Enrich installation.overview.panel")
    ).to_be_visible()  # its UI contribution
    await expect(page.get_by_text("Overview /overview")).to_be_visible()  # the page it adds
    await page.get_by_role("button", name="Install").click()
    await expect(page.get_by_text("Installed: version 1.0.0 is live.")).to_be_visible()
    await expect(page.locator(".meta .badge")).to_have_text("active")
    await page.context.close()
