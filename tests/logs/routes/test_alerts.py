"""Alert destinations and rules: signed deliveries to a real local receiver, retries, rotation."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from contracts.health import WebhookHealthWindow
from contracts.streams import StreamStatus
from contracts.topics import EXTENSION_LOGS, STREAM_STATUS, WEBHOOK_HEALTH
from tests.harness import eventually
from tests.logs.alert_receiver import (
    create_destination,
    create_rule,
    verified,
)
from tests.logs.factories import (
    log_line,
    new_workspace,
    new_workspace_with_member,
    publish_all,
    running_logs,
)


@pytest_asyncio.fixture(scope="module")
async def logs_url(infra, http) -> AsyncIterator[str]:
    """Development settings: local receivers allowed; fast retries; a 3 s retry horizon."""
    async with running_logs(
        infra,
        http,
        alert_allow_private_targets=True,
        alert_retry_base_s=0.05,
        alert_retry_horizon_s=3.0,
        alert_poll_s=0.05,
        alert_rules_cache_s=0.0,
    ) as url:
        yield url


async def test_an_alert_fires_once_per_window_signed_and_retried_through_500s(
    infra, http, logs_url, receiver
):
    workspace_id, admin = await new_workspace(infra)
    path = f"errors-{uuid.uuid4().hex[:6]}"
    receiver.plans[path] = [500, 500]
    destination_id, secret = await create_destination(
        http, logs_url, admin, f"{receiver.url}/{path}"
    )
    assert secret.startswith("whsec_")
    await create_rule(
        http,
        logs_url,
        admin,
        type="extension_errors",
        destination_id=destination_id,
        window_s=3600,
        params={"extension_key": "helpdesk"},
    )
    await publish_all(
        infra,
        EXTENSION_LOGS,
        [
            log_line(workspace_id=workspace_id, kind="error", level="error", message=f"boom {n}")
            for n in range(3)
        ],
    )
    await publish_all(
        infra,
        EXTENSION_LOGS,
        [log_line(workspace_id=workspace_id, kind="error", level="error", message="boom again")],
    )
    # A later rule to another destination: once its alert arrived, the error lines were all
    # evaluated (same installation, same partition, earlier offsets) and their alert queued.
    marker = f"{path}-marker"
    marker_id, _ = await create_destination(http, logs_url, admin, f"{receiver.url}/{marker}")
    await create_rule(http, logs_url, admin, type="denials", destination_id=marker_id)
    await publish_all(
        infra,
        EXTENSION_LOGS,
        [log_line(workspace_id=workspace_id, kind="denial", level="warn", message="denied")],
    )
    await eventually(lambda: _async(receiver.bodies(marker)), bool)
    received = lambda: _async(receiver.received.get(path, []))  # noqa: E731 (queued, then its 500s)
    await eventually(received, lambda r: bool(r) and r[-1][2] == 200)
    requests = receiver.received[path]
    error_alerts = [
        (h, body, status)
        for h, body, status in requests
        if json.loads(body)["rule_type"] == "extension_errors"
    ]
    assert len(error_alerts) == len(requests)
    assert [status for _, _, status in error_alerts] == [500, 500, 200]
    assert len({h["webhook-id"] for h, _, _ in error_alerts}) == 1
    assert all(verified(h, body, [secret]) for h, body, _ in requests)
    assert not verified(error_alerts[0][0], error_alerts[0][1], ["whsec_" + "A" * 32])
    alert = json.loads(error_alerts[-1][1])
    assert alert["type"] == "alert.fired" and alert["workspace_id"] == workspace_id
    assert alert["details"]["extension_key"] == "helpdesk"
    attempts = (
        await http.get(
            f"{logs_url}/v1/alerts/destinations/{destination_id}/attempts", headers=admin
        )
    ).json()
    mine = [a for a in attempts if a["alert_id"] == alert["alert_id"]]
    assert [(a["attempt"], a["status_code"], a["ok"]) for a in reversed(mine)] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert mine[-1]["next_attempt_at"] is not None and mine[0]["next_attempt_at"] is None


async def _async(value: Any) -> Any:
    return value


def status(workspace_id: str, **fields: Any) -> StreamStatus:
    values: dict[str, Any] = {
        "installation_id": "inst_s",
        "extension_key": "stripe",
        "stream": "charges",
        "state": "error",
        "at": time.time(),
    }
    return StreamStatus(workspace_id=workspace_id, **(values | fields))


async def test_stream_webhook_and_test_connection_rules_fire(infra, http, logs_url, receiver):
    workspace_id, admin = await new_workspace(infra)
    path = f"ops-{uuid.uuid4().hex[:6]}"
    destination_id, secret = await create_destination(
        http, logs_url, admin, f"{receiver.url}/{path}"
    )
    for rule in [
        {"type": "stream_failing", "params": {"runs": 3}},
        {"type": "stream_stuck", "params": {"intervals": 2}},
        {"type": "webhook_5xx_rate", "params": {"threshold": 0.2, "min_deliveries": 5}},
        {"type": "test_connection_failed", "params": {}},
    ]:
        await create_rule(
            http, logs_url, admin, destination_id=destination_id, window_s=3600, **rule
        )
    now = time.time()
    await publish_all(
        infra,
        STREAM_STATUS,
        [
            status(workspace_id, consecutive_failures=2),  # not yet N runs
            status(
                workspace_id,
                consecutive_failures=3,
                last_run_at=now - 60,
                next_run_at=now + 240,
                last_success_at=now - 400,
            ),
            status(
                workspace_id,
                stream="customers",
                state="ok",
                last_run_at=now - 10,
                next_run_at=now + 50,
                last_success_at=now - 500,
            ),
        ],
    )
    await publish_all(
        infra,
        WEBHOOK_HEALTH,
        [
            WebhookHealthWindow(
                workspace_id=workspace_id,
                installation_id="inst_s",
                replica="r1",
                window_start=now - 10,
                window_end=now,
                deliveries=10,
                status_2xx=9,
                status_5xx=1,
            ),
            WebhookHealthWindow(
                workspace_id=workspace_id,
                installation_id="inst_s",
                replica="r1",
                window_start=now - 5,
                window_end=now,
                deliveries=10,
                status_2xx=5,
                status_5xx=5,
            ),
        ],
    )
    await publish_all(
        infra,
        EXTENSION_LOGS,
        [
            log_line(
                workspace_id=workspace_id,
                kind="platform",
                script_type="job",
                message="connection check",
                attrs={"event": "test_connection_ok"},
            ),
            log_line(
                workspace_id=workspace_id,
                kind="platform",
                script_type="job",
                message="test connection failed: 401",
                attrs={"event": "test_connection_failed"},
            ),
        ],
    )
    bodies = await eventually(lambda: _async(receiver.bodies(path)), lambda b: len(b) >= 4)
    assert sorted(b["rule_type"] for b in bodies) == [
        "stream_failing",
        "stream_stuck",
        "test_connection_failed",
        "webhook_5xx_rate",
    ]
    by_type = {b["rule_type"]: b["details"] for b in bodies}
    assert by_type["stream_failing"]["consecutive_failures"] == 3
    assert by_type["stream_stuck"]["stream"] == "customers"
    assert by_type["webhook_5xx_rate"]["status_5xx"] == 5
    assert all(verified(h, body, [secret]) for h, body, _ in receiver.received[path])


async def test_a_rotated_secret_overlaps_with_the_old_one_and_the_test_button_signs_with_both(
    infra, http, logs_url, receiver
):
    _, admin = await new_workspace(infra)
    path = f"rotate-{uuid.uuid4().hex[:6]}"
    destination_id, old = await create_destination(http, logs_url, admin, f"{receiver.url}/{path}")
    rotated = await http.post(
        f"{logs_url}/v1/alerts/destinations/{destination_id}/rotate-secret", headers=admin
    )
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["destination"]["secret_versions"] == 2
    shown = (
        await http.get(f"{logs_url}/v1/alerts/destinations/{destination_id}", headers=admin)
    ).json()
    assert old not in json.dumps(shown) and new not in json.dumps(shown)
    attempt = await http.post(
        f"{logs_url}/v1/alerts/destinations/{destination_id}/test", headers=admin
    )
    assert attempt.status_code == 200 and attempt.json()["ok"] is True
    headers, body, _ = receiver.received[path][-1]
    assert json.loads(body)["type"] == "alert.test"
    assert len(headers["webhook-signature"].split()) == 2
    assert verified(headers, body, [old]) and verified(headers, body, [new])


async def test_a_persistently_failing_destination_is_disabled_and_audited(
    infra, http, logs_url, receiver
):
    workspace_id, admin = await new_workspace(infra)
    path = f"down-{uuid.uuid4().hex[:6]}"
    receiver.plans[path] = [503] * 1000
    destination_id, _ = await create_destination(http, logs_url, admin, f"{receiver.url}/{path}")
    await create_rule(
        http, logs_url, admin, type="denials", destination_id=destination_id, window_s=3600
    )
    await publish_all(
        infra,
        EXTENSION_LOGS,
        [log_line(workspace_id=workspace_id, kind="denial", message="denied")],
    )
    url = f"{logs_url}/v1/alerts/destinations/{destination_id}"
    disabled = await eventually(
        lambda: _json(http.get(url, headers=admin)), lambda d: not d["enabled"], timeout=120
    )
    assert disabled["enabled"] is False and "failed attempts" in disabled["disabled_reason"]
    audit = await eventually(
        lambda: _json(
            http.get(
                f"{logs_url}/v1/audit", headers=admin, params={"action": "AlertDestinationDisabled"}
            )
        ),
        lambda p: bool(p["items"]),
    )
    assert audit["items"][0]["target"] == destination_id
    attempts = await _json(http.get(f"{url}/attempts", headers=admin))
    assert len(attempts) >= 2 and not any(a["ok"] for a in attempts)
    reenabled = await http.patch(url, headers=admin, json={"enabled": True})
    assert reenabled.json()["enabled"] is True and reenabled.json()["disabled_reason"] is None


async def _json(request: Any) -> Any:
    response = await request
    assert response.status_code == 200, response.text
    return response.json()


async def test_members_read_but_cannot_change_alerts(infra, http, logs_url, receiver):
    _, admin, member = await new_workspace_with_member(infra)
    _, stranger = await new_workspace(infra)
    destination_id, _ = await create_destination(http, logs_url, admin, f"{receiver.url}/members")
    base = f"{logs_url}/v1/alerts/destinations"
    assert (await http.get(f"{base}/{destination_id}", headers=member)).status_code == 200
    assert (await http.get(f"{logs_url}/v1/alerts/rules", headers=member)).status_code == 200
    for method, url, body in [
        ("POST", base, {"url": f"{receiver.url}/members"}),
        ("PATCH", f"{base}/{destination_id}", {"description": "x"}),
        ("DELETE", f"{base}/{destination_id}", None),
        ("POST", f"{base}/{destination_id}/rotate-secret", None),
        ("POST", f"{base}/{destination_id}/test", None),
        (
            "POST",
            f"{logs_url}/v1/alerts/rules",
            {"type": "denials", "destination_id": destination_id},
        ),
    ]:
        response = await http.request(method, url, headers=member, json=body)
        assert response.status_code == 403, (method, url, response.text)
    assert (
        await http.get(f"{logs_url}/v1/alerts/destinations/{destination_id}", headers=stranger)
    ).status_code == 404
    assert (await http.get(f"{logs_url}/v1/alerts/destinations", headers=stranger)).json() == []
    missing = await http.post(
        f"{logs_url}/v1/alerts/rules",
        headers=admin,
        json={"type": "denials", "destination_id": "dst_nope"},
    )
    assert missing.status_code == 404
    bad = await http.post(
        f"{logs_url}/v1/alerts/rules",
        headers=admin,
        json={"type": "everything", "destination_id": destination_id},
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "type"


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url"])
async def test_a_destination_url_must_be_http_s(infra, http, logs_url, url):
    _, admin = await new_workspace(infra)
    response = await http.post(
        f"{logs_url}/v1/alerts/destinations", headers=admin, json={"url": url}
    )
    assert response.status_code == 400 and response.json()["error"]["field"] == "url"
