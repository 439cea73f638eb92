"""The webhook pipeline through `POST /hooks/{hook_id}` against the real broker and Valkey."""

from __future__ import annotations

import asyncio
import hashlib
import time

from contracts.topics import CANONICAL_RECORDS, OBSERVED_RECORDS, WEBHOOK_DELIVERIES
from tests.harness import read_topic
from tests.ingress.conftest import Ingress
from tests.ingress.factories import (
    changed,
    deploy,
    installation,
    sealed,
    signed,
    stripe_event,
)


def records_of(installation_id: str):  # type: ignore[no-untyped-def]
    return lambda msgs: [m for m in msgs if m.installation_id == installation_id]


async def canonical(ingress: Ingress, installation_id: str, until) -> list:  # type: ignore[no-untyped-def]
    seen = await read_topic(
        ingress.infra.bootstrap_servers,
        CANONICAL_RECORDS,
        until=lambda msgs: until([m for m in msgs if m.installation_id == installation_id]),
    )
    return [m for m in seen if m.installation_id == installation_id]


async def deliveries(ingress: Ingress, installation_id: str, until) -> list:  # type: ignore[no-untyped-def]
    seen = await read_topic(
        ingress.infra.bootstrap_servers,
        WEBHOOK_DELIVERIES,
        until=lambda msgs: until([m for m in msgs if m.installation_id == installation_id]),
    )
    return [m for m in seen if m.installation_id == installation_id]


async def active_install(ingress: Ingress, **fields):  # type: ignore[no-untyped-def]
    version = await deploy(ingress.redis)
    return await ingress.install(installation(version, ingress.keyring, **fields))


class TestAcceptedDelivery:
    async def test_signed_event_is_answered_202_after_raw_delivery_and_record_are_on_kafka(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        event = stripe_event("customer.created")
        body, headers = signed(event)

        response = await ingress.deliver(snapshot, body, headers)

        assert response.status_code == 202
        assert response.json()["eventId"] == event["id"]
        records = await canonical(ingress, snapshot.installation_id, lambda rs: len(rs) >= 1)
        assert [r.idempotency_key for r in records] == [f"stripe:event:{event['id']}:0"]
        assert records[0].canonical_type == "customer"
        assert records[0].version_id == snapshot.active.version_id
        assert records[0].workspace_id == snapshot.workspace_id
        raw = await deliveries(ingress, snapshot.installation_id, lambda ds: len(ds) >= 1)
        assert raw[0].status == "accepted"
        assert raw[0].body == body
        assert raw[0].headers["stripe-signature"] == headers["stripe-signature"]
        assert raw[0].secret_revision == 1
        assert records[0].source_id == raw[0].delivery_id

    async def test_event_splitting_into_two_records_publishes_both(self, ingress: Ingress) -> None:
        snapshot = await active_install(ingress)
        event = stripe_event("invoice.paid")

        response = await ingress.deliver(snapshot, *signed(event))

        assert response.status_code == 202
        records = await canonical(ingress, snapshot.installation_id, lambda rs: len(rs) >= 2)
        assert sorted(r.idempotency_key for r in records) == [
            f"stripe:event:{event['id']}:0",
            f"stripe:event:{event['id']}:1",
        ]

    async def test_unknown_event_type_is_202_ignored_with_known_flag(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)

        unknown = await ingress.deliver(snapshot, *signed(stripe_event("mystery.happened")))
        known = await ingress.deliver(snapshot, *signed(stripe_event("balance.available")))

        assert unknown.status_code == 202
        assert unknown.json()["ignored"] is True and unknown.json()["known"] is False
        assert known.status_code == 202 and known.json()["known"] is True

    async def test_redelivered_event_yields_one_record_and_its_second_202_says_duplicate(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        event = stripe_event("customer.created")

        first = await ingress.deliver(snapshot, *signed(event))
        second = await ingress.deliver(snapshot, *signed(event))

        assert (first.status_code, second.status_code) == (202, 202)
        key = f"stripe:event:{event['id']}:0"
        assert first.json()["results"] == [{"idempotency_key": key, "status": "accepted"}]
        assert second.json()["results"] == [{"idempotency_key": key, "status": "duplicate"}]
        await deliveries(ingress, snapshot.installation_id, lambda ds: len(ds) >= 2)
        records = await canonical(ingress, snapshot.installation_id, lambda rs: len(rs) >= 1)
        assert len(records) == 1

    async def test_concurrent_distinct_and_repeated_events_each_yield_exactly_one_record(
        self, ingress: Ingress
    ) -> None:
        # Claims and (deferred) confirms of concurrent deliveries share Redis round trips.
        snapshot = await active_install(ingress)
        events = [stripe_event("customer.created") for _ in range(20)]
        signed_events = [signed(e) for e in events]

        answers = await asyncio.gather(
            *(ingress.deliver(snapshot, *s) for s in signed_events + signed_events)
        )
        retries = await asyncio.gather(*(ingress.deliver(snapshot, *s) for s in signed_events))

        assert [a.status_code for a in answers + retries] == [202] * 60
        marker = stripe_event("customer.created")  # published after: proves we read far enough
        assert (await ingress.deliver(snapshot, *signed(marker))).status_code == 202
        wanted = {f"stripe:event:{e['id']}:0" for e in [*events, marker]}
        records = await canonical(
            ingress,
            snapshot.installation_id,
            lambda rs: wanted <= {r.idempotency_key for r in rs},
        )
        assert sorted(r.idempotency_key for r in records) == sorted(wanted)  # once each


class TestRefusals:
    async def test_unknown_hook_id_is_404(self, ingress: Ingress) -> None:
        body, headers = signed(stripe_event())
        response = await ingress.http.post(
            f"{ingress.url}/hooks/hk_nope", content=body, headers=headers
        )
        assert response.status_code == 404

    async def test_uninstalled_installation_is_410(self, ingress: Ingress) -> None:
        snapshot = await active_install(ingress)
        gone = await ingress.install(changed(snapshot, state="uninstalled"))

        response = await ingress.deliver(gone, *signed(stripe_event()))

        assert response.status_code == 410

    async def test_bad_signature_is_401_with_reason_and_recorded_without_body(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        body, headers = signed(stripe_event(), secret="whsec_someone_else")

        response = await ingress.deliver(snapshot, body, headers)

        assert response.status_code == 401
        assert response.json()["error"]["reason"] == "no_matching_signature"
        raw = await deliveries(ingress, snapshot.installation_id, lambda ds: len(ds) >= 1)
        assert raw[0].status == "rejected"
        assert raw[0].reason == "no_matching_signature"
        assert raw[0].body is None
        assert raw[0].body_sha256 == hashlib.sha256(body).hexdigest()

    async def test_handler_never_runs_for_a_delivery_that_does_not_authenticate(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        forged, headers = signed(stripe_event(), secret="whsec_forged")
        await ingress.deliver(snapshot, forged, headers)
        marker = stripe_event()
        await ingress.deliver(snapshot, *signed(marker))

        records = await canonical(ingress, snapshot.installation_id, lambda rs: len(rs) >= 1)

        assert [r.idempotency_key for r in records] == [f"stripe:event:{marker['id']}:0"]

    async def test_stale_timestamp_is_401(self, ingress: Ingress) -> None:
        snapshot = await active_install(ingress)
        response = await ingress.deliver(snapshot, *signed(stripe_event(), at=time.time() - 3600))
        assert response.status_code == 401
        assert response.json()["error"]["reason"] == "timestamp_too_old"

    async def test_missing_signature_header_is_401_not_500(self, ingress: Ingress) -> None:
        snapshot = await active_install(ingress)
        response = await ingress.deliver(snapshot, b"{}", {"content-type": "application/json"})
        assert response.status_code == 401
        assert response.json()["error"]["reason"] == "missing_header"

    async def test_malformed_json_is_400(self, ingress: Ingress) -> None:
        snapshot = await active_install(ingress)
        response = await ingress.deliver(snapshot, *signed(b'{"id": "evt_1", "type": '))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "malformed_payload"

    async def test_installation_without_a_webhook_secret_rejects_every_delivery(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress, secret=None)
        response = await ingress.deliver(snapshot, *signed(stripe_event()))
        assert response.status_code == 401
        assert response.json()["error"]["reason"] == "no_secret_configured"

    async def test_failing_handler_is_500_so_the_provider_retries_and_the_body_is_kept(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        body, headers = signed(stripe_event("test.crash"))

        response = await ingress.deliver(snapshot, body, headers)

        assert response.status_code == 500
        raw = await deliveries(ingress, snapshot.installation_id, lambda ds: len(ds) >= 1)
        assert raw[0].status == "accepted" and raw[0].body == body


class TestSecretRotation:
    async def test_previous_secret_is_accepted_while_rotating_and_refused_after(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        iid, ws = snapshot.installation_id, snapshot.workspace_id
        old = snapshot.secrets["webhook_secret"]
        rotating = msgspec_replace(old, valid_until=time.time() + 3600)
        rotated = await ingress.install(
            changed(
                snapshot,
                secrets={
                    "webhook_secret": sealed(
                        ingress.keyring,
                        "whsec_new",
                        workspace_id=ws,
                        installation_id=iid,
                        revision=2,
                    )
                },
                rotating_secrets={"webhook_secret": rotating},
            )
        )

        with_new = await ingress.deliver(rotated, *signed(stripe_event(), secret="whsec_new"))
        with_old = await ingress.deliver(rotated, *signed(stripe_event()))
        expired = await ingress.install(
            changed(
                rotated,
                rotating_secrets={
                    "webhook_secret": msgspec_replace(old, valid_until=time.time() - 1)
                },
            )
        )
        with_old_after = await ingress.deliver(expired, *signed(stripe_event()))

        assert (with_new.status_code, with_old.status_code) == (202, 202)
        assert with_old_after.status_code == 401
        raw = await deliveries(
            ingress, iid, lambda ds: len([d for d in ds if d.status == "accepted"]) >= 2
        )
        assert sorted(d.secret_revision for d in raw if d.status == "accepted") == [1, 2]


def msgspec_replace(struct, **fields):  # type: ignore[no-untyped-def]
    import msgspec

    return msgspec.structs.replace(struct, **fields)


class TestVersions:
    async def test_handler_runs_on_the_version_active_when_the_delivery_arrived(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        newer = await deploy(ingress.redis, label="2.0.0")
        event = stripe_event("test.slow", delay=1.0)

        request = asyncio.create_task(ingress.deliver(snapshot, *signed(event)))
        await asyncio.sleep(0.3)
        await ingress.install(changed(snapshot, active=newer))
        response = await request

        assert response.status_code == 202
        records = await canonical(ingress, snapshot.installation_id, lambda rs: len(rs) >= 1)
        assert records[0].version_id == snapshot.active.version_id != newer.version_id

    async def test_observation_version_runs_in_shadow_with_its_writes_intercepted(
        self, ingress: Ingress
    ) -> None:
        version = await deploy(ingress.redis)
        candidate = await deploy(ingress.redis, label="1.1.0-rc")
        snapshot = await ingress.install(
            installation(version, ingress.keyring, observation=candidate)
        )
        event = stripe_event("customer.created")

        response = await ingress.deliver(snapshot, *signed(event))

        assert response.status_code == 202
        observed = await read_topic(
            ingress.infra.bootstrap_servers,
            OBSERVED_RECORDS,
            until=lambda msgs: any(m.installation_id == snapshot.installation_id for m in msgs),
        )
        mine = [m for m in observed if m.installation_id == snapshot.installation_id]
        assert mine[0].version_id == candidate.version_id and mine[0].mode == "observe"
        records = await canonical(ingress, snapshot.installation_id, lambda rs: len(rs) >= 1)
        assert {r.version_id for r in records} == {version.version_id}


class TestHeldDeliveries:
    async def test_disabled_installation_holds_deliveries_and_processes_them_in_order_on_enable(
        self, ingress: Ingress
    ) -> None:
        snapshot = await active_install(ingress)
        disabled = await ingress.install(changed(snapshot, state="disabled"))
        events = [stripe_event("customer.created") for _ in range(3)]

        answers = [await ingress.deliver(disabled, *signed(e)) for e in events]

        assert [a.status_code for a in answers] == [202, 202, 202]
        assert all(a.json() == {"status": "held"} for a in answers)
        raw = await deliveries(ingress, snapshot.installation_id, lambda ds: len(ds) >= 3)
        assert {d.status for d in raw} == {"held"}
        await ingress.install(changed(disabled, state="active"))
        records = await canonical(ingress, snapshot.installation_id, lambda rs: len(rs) >= 3)
        assert [r.idempotency_key for r in records] == [f"stripe:event:{e['id']}:0" for e in events]
        path = f"/v1/installations/{snapshot.installation_id}/deliveries"
        history = (await ingress.api("GET", path, snapshot.workspace_id)).json()["deliveries"]
        assert sorted(d["event_id"] for d in history) == sorted(e["id"] for e in events)
