"""The ingress API: webhook URL, delivery history, replay and webhook health, per workspace."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

from contracts.ids import new_id
from contracts.topics import CANONICAL_RECORDS, WEBHOOK_HEALTH
from services.ingress.signatures import sign_standard_webhooks
from tests.harness import eventually, read_topic
from tests.ingress.conftest import Ingress
from tests.ingress.factories import changed, deploy, installation, sealed, signed, stripe_event

CONNECTORS = Path(__file__).resolve().parents[2] / "connectors"


async def active_install(ingress: Ingress, **fields):  # type: ignore[no-untyped-def]
    version = await deploy(ingress.redis)
    return await ingress.install(installation(version, ingress.keyring, **fields))


async def history_of(ingress: Ingress, snapshot, until, timeout: float = 10) -> list[dict]:  # type: ignore[no-untyped-def]
    """Poll the history API (history writes of refusals are asynchronous) until `until` holds."""
    path = f"/v1/installations/{snapshot.installation_id}/deliveries"
    found: list[dict] = []

    async def listed() -> bool:
        response = await ingress.api("GET", path, snapshot.workspace_id)
        assert response.status_code == 200, response.text
        found[:] = response.json()["deliveries"]
        return bool(until(found))

    try:
        await eventually(listed, timeout=timeout)
    except AssertionError:
        pass  # callers assert on what the history holds by then
    return found


class TestWebhookEndpoint:
    async def test_installation_webhook_url_names_its_unguessable_hook_id(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        response = await ingress.api(
            "GET", f"/v1/installations/{snapshot.installation_id}/webhook", snapshot.workspace_id
        )
        assert response.status_code == 200
        assert response.json()["path"] == f"/hooks/{snapshot.hook_id}"
        assert response.json()["auth"] == "stripe_signature"
        assert len(snapshot.hook_id) >= 3 + 26  # prefix + ≥128 random bits in base32


class TestHistory:
    async def test_history_shows_status_event_type_outcome_duplicate_flag_and_version(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        event = stripe_event("customer.created")
        await ingress.deliver(snapshot, *signed(event))
        await ingress.deliver(snapshot, *signed(event))
        await ingress.deliver(snapshot, *signed(stripe_event("mystery.happened")))
        await ingress.deliver(snapshot, *signed(stripe_event(), secret="whsec_wrong"))

        found = await history_of(ingress, snapshot, lambda ds: len(ds) >= 4)

        by_outcome = {d["outcome"]: d for d in found}
        assert set(by_outcome) == {"accepted", "duplicate", "ignored", "rejected"}
        assert by_outcome["accepted"]["event_type"] == "customer.created"
        assert by_outcome["accepted"]["event_id"] == event["id"]
        assert by_outcome["accepted"]["status"] == 202
        assert by_outcome["accepted"]["duplicate"] is False
        assert by_outcome["accepted"]["version_id"] == snapshot.active.version_id
        assert by_outcome["duplicate"]["duplicate"] is True
        assert by_outcome["rejected"]["status"] == 401
        assert by_outcome["rejected"]["reason"] == "no_matching_signature"
        assert [d["received_at"] for d in found] == sorted(
            (d["received_at"] for d in found), reverse=True
        )

    async def test_history_shows_a_standard_webhooks_deliverys_webhook_id_as_its_event_id(
        self, ingress: Ingress
    ) -> None:
        version = await deploy(ingress.redis, directory=CONNECTORS / "standard-webhooks")
        secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
        snapshot = await ingress.install(
            installation(
                version,
                ingress.keyring,
                secret=secret,
                settings={"event_mapping": "invoice.paid=invoice"},
            )
        )
        body = b'{"type": "invoice.paid", "data": {"id": "in_1", "amount": 4200}}'
        message_id, at = new_id("msg"), int(time.time())
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(at),
            "webhook-signature": sign_standard_webhooks(message_id, at, body, secret),
            "content-type": "application/json",
        }

        answer = await ingress.deliver(snapshot, body, headers)
        found = await history_of(ingress, snapshot, lambda ds: len(ds) >= 1)

        assert answer.status_code == 202, answer.text
        assert [(d["event_id"], d["event_type"]) for d in found] == [(message_id, "invoice.paid")]

    async def test_delivery_confirmed_after_its_answer_shows_in_history_and_its_retry_is_duplicate(
        self, ingress: Ingress
    ) -> None:
        # The confirm runs after the 202: were it lost, the retry would wait out the pending
        # claim (longer than the dedupe wait in these settings) and be answered 503.
        snapshot = await active_install(ingress)
        event = stripe_event("customer.created")

        first = await ingress.deliver(snapshot, *signed(event))
        [accepted] = await history_of(ingress, snapshot, lambda ds: len(ds) >= 1)
        retry = await ingress.deliver(snapshot, *signed(event))
        found = await history_of(ingress, snapshot, lambda ds: len(ds) >= 2)

        assert (first.status_code, retry.status_code) == (202, 202)
        assert (accepted["outcome"], accepted["records"]) == ("accepted", 1)
        assert sorted((d["outcome"], d["records"]) for d in found) == [
            ("accepted", 1),
            ("duplicate", 0),
        ]

    async def test_another_workspaces_installation_is_404(self, ingress: Ingress) -> None:
        snapshot = await active_install(ingress)
        for path in ("deliveries", "webhook-health", "webhook"):
            response = await ingress.api(
                "GET", f"/v1/installations/{snapshot.installation_id}/{path}", "ws_other"
            )
            assert response.status_code == 404

    async def test_history_needs_a_bearer_token(self, ingress: Ingress) -> None:
        snapshot = await active_install(ingress)
        response = await ingress.http.get(
            f"{ingress.url}/v1/installations/{snapshot.installation_id}/deliveries"
        )
        assert response.status_code == 401


class TestReplay:
    async def test_replay_rechecks_the_signature_and_dedupes_its_records(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        event = stripe_event("customer.created")
        await ingress.deliver(snapshot, *signed(event))
        [delivery] = await history_of(ingress, snapshot, lambda ds: len(ds) >= 1)

        response = await ingress.api(
            "POST",
            f"/v1/installations/{snapshot.installation_id}/deliveries/{delivery['delivery_id']}/replay",
            snapshot.workspace_id,
        )

        assert response.status_code == 200, response.text
        result = response.json()
        assert result["signature"] == "valid"
        assert result["mode"] == "active"
        assert result["records"] == [
            {
                "idempotency_key": f"stripe:event:{event['id']}:0",
                "canonical_type": "customer",
                "duplicate": True,
            }
        ]

    async def test_replay_uses_the_secret_active_on_arrival_even_after_it_was_rotated_away(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        await ingress.deliver(snapshot, *signed(stripe_event("customer.created")))
        [delivery] = await history_of(ingress, snapshot, lambda ds: len(ds) >= 1)
        new_secret = sealed(
            ingress.keyring,
            "whsec_rotated",
            workspace_id=snapshot.workspace_id,
            installation_id=snapshot.installation_id,
            revision=2,
        )
        await ingress.install(changed(snapshot, secrets={"webhook_secret": new_secret}))

        response = await ingress.api(
            "POST",
            f"/v1/installations/{snapshot.installation_id}/deliveries/{delivery['delivery_id']}/replay",
            snapshot.workspace_id,
        )

        assert response.json()["signature"] == "valid"

    async def test_replay_lost_record_publishes_it_again(self, ingress: Ingress) -> None:
        snapshot = await active_install(ingress)
        event = stripe_event("customer.created")
        await ingress.deliver(snapshot, *signed(event))
        [delivery] = await history_of(ingress, snapshot, lambda ds: len(ds) >= 1)
        key = f"stripe:event:{event['id']}:0"
        # a downstream consumer lost it and an operator cleared the key to re-ingest
        await ingress.redis.delete(f"{{i:{snapshot.installation_id}}}:dedupe:{key}")

        response = await ingress.api(
            "POST",
            f"/v1/installations/{snapshot.installation_id}/deliveries/{delivery['delivery_id']}/replay",
            snapshot.workspace_id,
        )

        assert response.json()["records"][0]["duplicate"] is False
        seen = await read_topic(
            ingress.infra.bootstrap_servers,
            CANONICAL_RECORDS,
            until=lambda ms: len([m for m in ms if m.idempotency_key == key]) >= 2,
        )
        replayed = [m for m in seen if m.idempotency_key == key][-1]
        assert replayed.source == "replay" and replayed.source_id == delivery["delivery_id"]

    async def test_replay_through_a_chosen_version_runs_it_observed(self, ingress: Ingress) -> None:
        snapshot = await active_install(ingress)
        candidate = await deploy(ingress.redis, label="3.0.0-rc")
        await ingress.install(changed(snapshot, pending_upgrade=candidate))
        await ingress.deliver(snapshot, *signed(stripe_event("customer.created")))
        [delivery] = await history_of(ingress, snapshot, lambda ds: len(ds) >= 1)

        response = await ingress.api(
            "POST",
            f"/v1/installations/{snapshot.installation_id}/deliveries/{delivery['delivery_id']}/replay",
            snapshot.workspace_id,
            json={"version_id": candidate.version_id},
        )

        result = response.json()
        assert result["mode"] == "observe"
        assert result["version_id"] == candidate.version_id
        assert result["observed"] == 1
        assert result["records"] == []

    async def test_replay_by_time_range_replays_stored_deliveries_oldest_first(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        since = time.time()
        events = [stripe_event("customer.created") for _ in range(3)]
        for event in events:
            await ingress.deliver(snapshot, *signed(event))
        await ingress.deliver(snapshot, *signed(stripe_event(), secret="whsec_wrong"))

        response = await ingress.api(
            "POST",
            f"/v1/installations/{snapshot.installation_id}/deliveries/replay",
            snapshot.workspace_id,
            json={"since": since},
        )

        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [r["records"][0]["idempotency_key"] for r in results] == [
            f"stripe:event:{e['id']}:0" for e in events
        ]
        assert all(r["signature"] == "valid" for r in results)

    async def test_rejected_delivery_cannot_be_replayed(self, ingress: Ingress) -> None:
        snapshot = await active_install(ingress)
        await ingress.deliver(snapshot, *signed(stripe_event(), secret="whsec_wrong"))
        [delivery] = await history_of(ingress, snapshot, lambda ds: len(ds) >= 1)

        response = await ingress.api(
            "POST",
            f"/v1/installations/{snapshot.installation_id}/deliveries/{delivery['delivery_id']}/replay",
            snapshot.workspace_id,
        )

        assert response.status_code == 409


class TestWebhookHealth:
    async def test_health_counts_status_classes_rate_and_last_success(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        for _ in range(3):
            await ingress.deliver(snapshot, *signed(stripe_event()))
        await ingress.deliver(snapshot, *signed(stripe_event(), secret="whsec_wrong"))
        await ingress.deliver(snapshot, *signed(stripe_event("test.crash")))
        path = f"/v1/installations/{snapshot.installation_id}/webhook-health"

        async def all_counted() -> dict | None:
            health = (await ingress.api("GET", path, snapshot.workspace_id)).json()
            return health if health["total"] >= 5 else None

        health = await eventually(all_counted, timeout=10, what="five deliveries counted")

        assert (health["status_2xx"], health["status_4xx"], health["status_5xx"]) == (3, 1, 1)
        assert health["last_hour"] == 5
        assert health["deliveries_per_minute"] == 1.0
        assert health["last_success_at"] is not None
        assert health["last_failure_reason"] == "handler_failed"

    async def test_health_windows_are_published_for_the_logs_service(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        for _ in range(2):
            await ingress.deliver(snapshot, *signed(stripe_event()))
        await ingress.deliver(snapshot, *signed(stripe_event("test.crash")))

        def mine(windows: list) -> list:  # type: ignore[type-arg]
            return [w for w in windows if w.installation_id == snapshot.installation_id]

        windows = await read_topic(
            ingress.infra.bootstrap_servers,
            WEBHOOK_HEALTH,
            until=lambda seen: sum(w.deliveries for w in mine(seen)) >= 3,
        )
        windows = mine(windows)
        assert {w.workspace_id for w in windows} == {snapshot.workspace_id}
        assert sum(w.status_2xx for w in windows) == 2
        assert sum(w.status_5xx for w in windows) == 1
        assert max(w.last_success_at or 0 for w in windows) > 0
        assert all(w.window_start <= w.window_end for w in windows)


async def deliveries_counted(ingress: Ingress, status: int) -> float:
    """`litestar_requests_total` of `POST /hooks/{hook_id}` with `status`, from /metrics."""
    response = await ingress.http.get(f"{ingress.url}/metrics")
    wanted = {
        "app_name": "ingress",
        "method": "POST",
        "path": "/hooks/{hook_id}",
        "status_code": str(status),
    }
    for line in response.text.splitlines():
        name, _, rest = line.partition("{")
        if name == "litestar_requests_total":
            labels, _, value = rest.rpartition("} ")
            if dict(re.findall(r'(\w+)="([^"]*)"', labels)) == wanted:
                return float(value)
    return 0.0


class TestDeliveryEndpoint:
    async def test_deliveries_are_counted_in_metrics_by_status(self, ingress: Ingress) -> None:
        snapshot = await active_install(ingress)
        before = [await deliveries_counted(ingress, status) for status in (202, 401)]

        await ingress.deliver(snapshot, *signed(stripe_event("customer.created")))
        await ingress.deliver(snapshot, *signed(stripe_event(), secret="whsec_wrong"))

        after = [await deliveries_counted(ingress, status) for status in (202, 401)]
        assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1]

    async def test_body_past_the_size_limit_is_413_and_never_handled(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        body, headers = signed(stripe_event("customer.created"))

        response = await ingress.deliver(snapshot, body + b" " * 10_000_000, headers)

        assert response.status_code == 413
        assert response.json()["error"]["message"] == "Request Entity Too Large"
        # Had it been handled, its refusal would be recorded before this later delivery.
        await ingress.deliver(snapshot, *signed(stripe_event("customer.created")))
        found = await history_of(ingress, snapshot, lambda ds: len(ds) >= 1)
        assert [d["outcome"] for d in found] == ["accepted"]

    async def test_other_methods_on_a_hook_url_are_answered_by_the_app(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)

        response = await ingress.http.get(f"{ingress.url}/hooks/{snapshot.hook_id}")

        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"
