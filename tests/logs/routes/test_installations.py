"""Per installation: connection health, secret reads and the observation report, fed by topics."""

from __future__ import annotations

import time
import uuid
from typing import Any

from contracts.health import WebhookHealthWindow
from contracts.installations import InstallationSnapshot, VersionRef
from contracts.manifest import Manifest
from contracts.records import CanonicalRecord, ObservedRecord
from contracts.secret_reads import SecretRead
from contracts.streams import StreamStatus
from contracts.topics import (
    CANONICAL_RECORDS,
    EXTENSION_LOGS,
    INSTALLATION_SNAPSHOTS,
    OBSERVED_RECORDS,
    SECRET_READS,
    STREAM_STATUS,
    WEBHOOK_HEALTH,
)
from tests.harness import eventually
from tests.logs.factories import log_line, new_workspace, publish_all


async def get(http, url: str, headers: dict[str, str]) -> Any:
    response = await http.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def stream_status(
    workspace_id: str, installation_id: str, stream: str, **fields: Any
) -> StreamStatus:
    values: dict[str, Any] = {"extension_key": "stripe", "state": "ok", "at": time.time()}
    return StreamStatus(
        workspace_id=workspace_id,
        installation_id=installation_id,
        stream=stream,
        **(values | fields),
    )


def window(workspace_id: str, installation_id: str, **fields: Any) -> WebhookHealthWindow:
    now = time.time()
    values: dict[str, Any] = {
        "replica": "ingress-1",
        "window_start": now - 10,
        "window_end": now,
        "deliveries": 10,
        "status_2xx": 10,
    }
    return WebhookHealthWindow(
        workspace_id=workspace_id, installation_id=installation_id, **(values | fields)
    )


async def test_health_shows_the_latest_status_of_each_stream_and_webhook_counts(
    infra, http, logs_url
):
    workspace_id, admin = await new_workspace(infra)
    _, stranger = await new_workspace(infra)
    inst = f"ins_{uuid.uuid4().hex[:8]}"
    now = time.time()
    await publish_all(
        infra,
        STREAM_STATUS,
        [
            stream_status(
                workspace_id,
                inst,
                "charges",
                state="error",
                consecutive_failures=2,
                last_error="502 from provider",
                at=now - 5,
            ),
            stream_status(workspace_id, inst, "customers", state="running", at=now - 20),
            stream_status(
                workspace_id, inst, "customers", state="ok", records_last_run=40, at=now - 10
            ),
        ],
    )
    first = window(
        workspace_id,
        inst,
        window_start=now - 120,
        window_end=now - 60,
        deliveries=8,
        status_2xx=6,
        status_5xx=2,
        last_failure_reason="handler raised",
    )
    await publish_all(
        infra,
        WEBHOOK_HEALTH,
        [
            first,
            window(
                workspace_id,
                inst,
                replica="ingress-2",
                deliveries=4,
                status_2xx=3,
                status_4xx=1,
                last_success_at=now,
            ),
            first,
        ],
    )
    url = f"{logs_url}/v1/installations/{inst}/health"
    health = await eventually(
        lambda: get(http, url, admin),
        lambda h: (
            len(h["streams"]) == 2
            and h["streams"][1]["state"] == "ok"
            and h["webhook"]["last_hour"]["deliveries"] == 12
        ),
    )
    assert [(s["stream"], s["state"]) for s in health["streams"]] == [
        ("charges", "error"),
        ("customers", "ok"),
    ]
    assert health["failing_streams"] == 1
    hour = health["webhook"]["last_hour"]
    assert (hour["deliveries"], hour["status_2xx"], hour["status_4xx"], hour["status_5xx"]) == (
        12,
        9,
        1,
        2,
    )
    assert hour["last_failure_reason"] == "handler raised"
    assert hour["last_success_at"] == now
    workspace = await get(http, f"{logs_url}/v1/health", admin)
    assert [i["installation_id"] for i in workspace["installations"]] == [inst]
    assert (await get(http, url, stranger))["streams"] == []
    assert (await get(http, f"{logs_url}/v1/health", stranger))["installations"] == []


async def test_secret_reads_show_which_version_started_reading_a_secret(infra, http, logs_url):
    workspace_id, admin = await new_workspace(infra)
    _, stranger = await new_workspace(infra)
    inst = f"ins_{uuid.uuid4().hex[:8]}"
    now = time.time()

    def read(version_id: str, secret_name: str, at: float, **fields: Any) -> SecretRead:
        return SecretRead(
            workspace_id=workspace_id,
            installation_id=inst,
            extension_key="stripe",
            version_id=version_id,
            script_name="hooks/charge",
            secret_name=secret_name,
            first_read_at=at,
            last_read_at=at,
            **fields,
        )

    await publish_all(
        infra,
        SECRET_READS,
        [
            read("ver_old", "api_key", now - 100),
            read("ver_new", "api_key", now - 50),
            read("ver_new", "signing_key", now - 40, mode="observe"),
            read("ver_new", "signing_key", now - 40, mode="observe", reads=3),
        ],
    )
    url = f"{logs_url}/v1/installations/{inst}/secret-reads"
    view = await eventually(
        lambda: get(http, url, admin),
        lambda v: len(v["reads"]) == 3 and any(r["reads"] == 3 for r in v["reads"]),
    )
    assert view["versions_by_secret"] == {
        "api_key": ["ver_old", "ver_new"],
        "signing_key": ["ver_new"],
    }
    assert [(r["version_id"], r["secret_name"]) for r in view["reads"]] == [
        ("ver_new", "signing_key"),
        ("ver_new", "api_key"),
        ("ver_old", "api_key"),
    ]
    assert "value" not in str(view)
    assert (await get(http, url, stranger))["reads"] == []


def version(version_id: str, deployed_at: float) -> VersionRef:
    return VersionRef(
        version_id=version_id,
        digest="sha256:" + "0" * 64,
        label=version_id,
        deployed_at=deployed_at,
        deployed_by="mem_1",
        manifest=Manifest(key="stripe", kind="connector", name="Stripe", version="1.0.0"),
    )


def snapshot(
    workspace_id: str, inst: str, *, observation: VersionRef | None, revision: int
) -> InstallationSnapshot:
    return InstallationSnapshot(
        installation_id=inst,
        workspace_id=workspace_id,
        extension_key="stripe",
        kind="connector",
        revision=revision,
        state="active",
        active=version("ver_active", time.time() - 1000),
        observation=observation,
        updated_at=time.time(),
    )


async def test_the_observation_report_shows_a_changed_field_and_a_dropped_record_type(
    infra, http, logs_url
):
    workspace_id, admin = await new_workspace(infra)
    _, stranger = await new_workspace(infra)
    inst = f"ins_{uuid.uuid4().hex[:8]}"
    url = f"{logs_url}/v1/installations/{inst}/observation-report"
    await publish_all(
        infra, INSTALLATION_SNAPSHOTS, [snapshot(workspace_id, inst, observation=None, revision=1)]
    )
    no_candidate = await eventually(
        lambda: http.get(url, headers=admin), lambda r: r.status_code != 404
    )
    assert no_candidate.status_code == 409
    assert no_candidate.json()["error"]["code"] == "no_observation_version"
    started = time.time() - 60
    await publish_all(
        infra,
        INSTALLATION_SNAPSHOTS,
        [snapshot(workspace_id, inst, observation=version("ver_candidate", started), revision=2)],
    )
    await eventually(lambda: http.get(url, headers=admin), lambda r: r.status_code == 200)
    now = time.time()
    common: dict[str, Any] = {
        "workspace_id": workspace_id,
        "installation_id": inst,
        "extension_key": "stripe",
        "source": "webhook",
        "emitted_at": now,
    }
    customer = {
        "id": "cus_1",
        "email": "a@example.com",
        "address": {"city": "Paris", "zip": "75001"},
    }
    active = [
        CanonicalRecord(
            idempotency_key="evt_1:customer",
            canonical_type="customer",
            payload=customer,
            source_id="evt_1",
            version_id="ver_active",
            **common,
        ),
        CanonicalRecord(
            idempotency_key="evt_2:customer",
            canonical_type="customer",
            payload={"id": "cus_2", "email": "b@example.com"},
            source_id="evt_2",
            version_id="ver_active",
            **common,
        ),
        CanonicalRecord(
            idempotency_key="evt_2:invoice",
            canonical_type="invoice",
            payload={"id": "in_2", "total": 100},
            source_id="evt_2",
            version_id="ver_active",
            **common,
        ),
        CanonicalRecord(
            idempotency_key="evt_3:invoice",
            canonical_type="invoice",
            payload={"id": "in_3", "total": 5},
            source_id="evt_3",
            version_id="ver_active",
            **common,
        ),
    ]
    # The candidate changes one field (the customer's city) and writes no invoices at all.
    changed = {**customer, "address": {"city": "Lyon", "zip": "75001"}}
    candidate = [
        ObservedRecord(
            idempotency_key="evt_1:customer",
            canonical_type="customer",
            payload=changed,
            source_id="evt_1",
            version_id="ver_candidate",
            mode="observe",
            **common,
        ),
        ObservedRecord(
            idempotency_key="evt_2:customer",
            canonical_type="customer",
            payload={"id": "cus_2", "email": "b@example.com"},
            source_id="evt_2",
            version_id="ver_candidate",
            mode="observe",
            **common,
        ),
    ]
    await publish_all(infra, CANONICAL_RECORDS, [*active, active[0]])
    await publish_all(infra, OBSERVED_RECORDS, candidate)
    await publish_all(
        infra,
        EXTENSION_LOGS,
        [
            log_line(
                workspace_id=workspace_id,
                installation_id=inst,
                version_id="ver_candidate",
                mode="observe",
                kind="error",
                level="error",
                message="invoice mapper crashed",
            ),
            log_line(
                workspace_id=workspace_id,
                installation_id=inst,
                version_id="ver_candidate",
                mode="observe",
                kind="denial",
                level="warn",
                message="denied api.example.com",
            ),
            log_line(
                workspace_id=workspace_id,
                installation_id=inst,
                version_id="ver_active",
                kind="error",
                level="error",
                message="active's own error",
            ),
        ],
    )
    report = await eventually(
        lambda: get(http, url, admin),
        lambda r: (
            r["compared_active"] == 4
            and r["compared_candidate"] == 2
            and r["candidate_denials"] == 1
            and r["candidate_errors"] == 1
        ),
    )
    assert (report["active_version_id"], report["candidate_version_id"]) == (
        "ver_active",
        "ver_candidate",
    )
    assert report["only_active"] == ["evt_2:invoice", "evt_3:invoice"]
    assert report["only_candidate"] == []
    assert [
        (d["idempotency_key"], d["path"], d["active"], d["candidate"])
        for d in report["differences"]
    ] == [("evt_1:customer", "address.city", "Paris", "Lyon")]
    assert (report["keys_with_differences"], report["identical"]) == (1, 1)
    assert report["counts"] == [
        {"canonical_type": "customer", "active": 2, "candidate": 2},
        {"canonical_type": "invoice", "active": 2, "candidate": 0},
    ]
    assert sorted(line["message"] for line in report["candidate_problems"]) == [
        "denied api.example.com",
        "invoice mapper crashed",
    ]
    assert (await http.get(url, headers=stranger)).status_code == 404
