"""States are labelled: what the console shows says which version, mode, person and time it
means, offers only what can be done, and fits a phone."""

from __future__ import annotations

import time

from playwright.async_api import expect

from contracts.ids import new_id
from contracts.logs import ExtensionLogLine
from contracts.topics import EXTENSION_LOGS
from services.base.kafka import create_producer, publish
from tests.console.conftest import Suite, token_of
from tests.console.test_app import signed_in
from tests.harness import eventually


async def webhook_only(suite: Suite, name: str) -> dict:
    """A standard-webhooks connector (no streams), live with its signing secret."""
    created = await suite.api(
        "POST",
        "/v1/installations",
        json={
            "extension_key": "standard-webhooks",
            "connection_name": name,
            "settings": {"webhook_secret": "whsec_" + "A" * 32},
        },
    )
    assert created["state"] == "active", created
    return created


async def test_webhook_only_connector_pages_label_what_they_show(browser, suite: Suite):
    installed = await webhook_only(suite, new_id("hooks"))
    iid = installed["id"]

    async def rejected() -> bool:  # 404 until ingress has the installation's snapshot
        answer = await suite.http.post(installed["webhook_url"], content=b'{"type": "x"}')
        return answer.status_code == 401

    await eventually(rejected)
    page = await signed_in(browser, suite, token_of(suite.tenant.admin))

    # Connection: no empty Streams box for a connector that polls nothing.
    await page.goto(f"{suite.console}/installations/{iid}/connection")
    await expect(
        page.get_by_text("declares no polled streams: it only receives webhooks")
    ).to_be_visible()

    # A rejected (401) delivery kept no body: no Replay offered, the reason said.
    async def rejected_id() -> str | None:
        page_ = await suite.http.get(
            f"{suite.ingress}/v1/installations/{iid}/deliveries", headers=suite.tenant.admin
        )
        found = [d for d in page_.json()["deliveries"] if d["status"] == 401]
        return found[0]["delivery_id"] if found else None

    delivery = await eventually(rejected_id)
    await page.goto(f"{suite.console}/installations/{iid}/deliveries/{delivery}")
    await expect(
        page.get_by_text("Not replayable: a rejected delivery has no stored body")
    ).to_be_visible()
    await expect(page.get_by_role("button", name="Replay this delivery")).to_have_count(0)

    # Secrets: who set it, by email.
    await page.goto(f"{suite.console}/installations/{iid}/secrets")
    await expect(page.get_by_role("cell", name="admin@example.com")).to_be_visible()

    # Logs: a draft's line says draft and its version, unlike an active one.
    producer = create_producer(suite.infra.settings(), "console-labels")
    await producer.start()
    try:
        for mode, version in (("draft", "ver_draft_label"), ("active", "ver_active_label")):
            line = ExtensionLogLine(
                log_id=new_id("log"),
                at=time.time(),
                level="info",
                message=f"{mode} line of the label test",
                workspace_id=suite.tenant.id,
                installation_id=iid,
                extension_key="standard-webhooks",
                version_id=version,
                invocation_id=new_id("inv"),
                script_type="route",
                script_name="src/api/webhooks/inbound.py",
                mode=mode,  # type: ignore[arg-type]
            )
            await publish(producer, EXTENSION_LOGS, line)
    finally:
        await producer.stop()

    async def rows_shown() -> bool:
        await page.goto(f"{suite.console}/installations/{iid}/logs")
        return await page.get_by_role("row").filter(has_text="of the label test").count() == 2

    await eventually(rows_shown, timeout=30)
    draft = page.get_by_role("row").filter(has_text="draft line of the label test")
    await expect(draft).to_contain_text("draft ver_draft_label")
    active = page.get_by_role("row").filter(has_text="active line of the label test")
    await expect(active).to_contain_text("active ver_active_label")

    # Phone width: every tab stays on screen (the row used to be cut off).
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"{suite.console}/installations/{iid}/settings")
    links = page.get_by_role("navigation", name="Installation").get_by_role("link")
    for index in range(await links.count()):
        box = await links.nth(index).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    await page.context.close()


async def test_an_uninstalled_installation_offers_nothing_to_change(browser, suite: Suite):
    installed = await webhook_only(suite, new_id("gone"))
    await suite.api("DELETE", f"/v1/installations/{installed['id']}")
    page = await signed_in(browser, suite, token_of(suite.tenant.admin))
    await page.goto(f"{suite.console}/installations/{installed['id']}/settings")
    await expect(
        page.get_by_text("Uninstalled: its settings, secrets and webhook URL")
    ).to_be_visible()
    for name in ("Save settings", "Copy", "Activate", "Test connection"):
        await expect(page.get_by_role("button", name=name)).to_have_count(0)
    await page.context.close()
