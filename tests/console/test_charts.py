"""Charts: the Installed list, the Connection tab and the Deliveries tab draw the logs
service's activity as inline SVG (no script, no external asset), readable as text too."""

from __future__ import annotations

import time

from playwright.async_api import expect

from contracts.health import WebhookHealthWindow
from contracts.ids import new_id
from contracts.logs import ExtensionLogLine
from contracts.topics import EXTENSION_LOGS, WEBHOOK_HEALTH
from services.base.kafka import create_producer, publish_all
from tests.console.conftest import Suite, token_of
from tests.console.test_app import shot, signed_in
from tests.console.test_labels import webhook_only
from tests.harness import eventually


async def test_activity_charts_on_installed_connection_and_deliveries(browser, suite: Suite):
    installed = await webhook_only(suite, new_id("charted"))
    iid, now = installed["id"], time.time()
    windows = [
        WebhookHealthWindow(
            workspace_id=suite.tenant.id,
            installation_id=iid,
            replica="ingress-chart",
            window_start=now - hours_ago * 3600,
            window_end=now - hours_ago * 3600 + 60,
            deliveries=ok + failed,
            status_2xx=ok,
            status_5xx=failed,
        )
        for hours_ago, ok, failed in ((5, 12, 0), (3, 20, 3), (1, 8, 1), (0, 15, 0))
    ]
    errors = [
        ExtensionLogLine(
            log_id=new_id("log"),
            at=now - 3 * 3600 + n,
            level="error",
            message="handler raised",
            workspace_id=suite.tenant.id,
            installation_id=iid,
            extension_key="standard-webhooks",
            version_id="ver_chart",
            invocation_id=new_id("inv"),
            script_type="route",
            script_name="src/api/webhooks/inbound.py",
        )
        for n in range(3)
    ]
    producer = create_producer(suite.infra.settings(), "console-charts")
    await producer.start()
    try:
        await publish_all(producer, WEBHOOK_HEALTH, windows)
        await publish_all(producer, EXTENSION_LOGS, errors)
    finally:
        await producer.stop()
    page = await signed_in(browser, suite, token_of(suite.tenant.admin))
    connection = f"{suite.console}/installations/{iid}/connection"
    deliveries_chart = page.get_by_role(
        "img", name="Webhook deliveries per hour: 55 2xx, 0 4xx, 4 5xx"
    )

    errors_chart = page.get_by_role("img", name="Errors per hour: 3 error")

    async def drawn() -> bool:  # once the logs service has stored what was published
        # (health windows and log lines are consumed separately: wait for both)
        await page.goto(connection)
        return await deliveries_chart.count() == 1 and await errors_chart.count() == 1

    await eventually(drawn, timeout=30)
    await expect(errors_chart).to_be_visible()
    assert "<script" not in (await page.locator(".charts").inner_html())
    await shot(page, "chart-connection")

    await page.goto(f"{suite.console}/installations/{iid}/deliveries")
    await expect(deliveries_chart).to_be_visible()
    await shot(page, "chart-deliveries")

    await page.goto(f"{suite.console}/extensions")
    row = page.get_by_role("row").filter(has_text=installed["connection_name"])
    await expect(
        row.get_by_role("img", name="Last 24 hours: 59 deliveries, 7 failures or errors")
    ).to_be_visible()
    await shot(page, "chart-installed")
    await page.context.close()
