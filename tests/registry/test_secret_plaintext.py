"""Secrets are write-only: after a run, no API response, Kafka message, Redis value or log
line holds a plaintext (only the internal test-connection call to sync carries one)."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import TOPICS, Topic
from tests.harness import Infra
from tests.registry.factories import (
    Tenant,
    deploy,
    install,
    manifest,
    redis_dump,
    wait_outbox_drained,
)


async def _everything_on(infra: Infra, topic: Topic[Any]) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.bootstrap_servers)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        raw: list[bytes] = []
        while True:
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= end for tp, end in ends.items()):
                break
            for records in (await consumer.getmany(timeout_ms=500)).values():
                raw += [(r.key or b"") + b"|" + (r.value or b"") for r in records]
        return raw
    finally:
        await consumer.stop()


async def test_no_plaintext_in_responses_messages_redis_or_logs(
    http: httpx.AsyncClient,
    registry: str,
    tenant: Tenant,
    infra: Infra,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    plaintexts = [f"good-{secrets.token_hex(16)}" for _ in range(5)]
    api_key, signing, rotated, token, fresh = plaintexts
    responses: list[httpx.Response] = []

    async def keep(response: httpx.Response) -> httpx.Response:
        responses.append(response)
        return response

    config = {"properties": {"token": {"type": "string", "secret": True}}}
    responses.append(await deploy(http, registry, tenant, manifest("vault", config=config)))
    acme = await keep(
        await install(http, registry, tenant, "acme-crm", settings={"api_key": api_key})
    )
    iid = acme.json()["id"]
    url = f"{registry}/v1/installations/{iid}"
    await keep(
        await http.put(
            f"{url}/secrets/webhook_secret", json={"value": signing}, headers=tenant.admin
        )
    )
    await keep(
        await http.put(
            f"{url}/secrets/webhook_secret", json={"value": rotated}, headers=tenant.admin
        )
    )
    await keep(await http.post(f"{url}/test-connection", headers=tenant.admin))
    await keep(await http.get(f"{url}/secrets", headers=tenant.admin))
    await keep(await http.get(url, headers=tenant.admin))
    other = await keep(await install(http, registry, tenant, "vault", settings={"token": token}))
    other_url = f"{registry}/v1/installations/{other.json()['id']}"
    await keep(
        await http.patch(
            f"{other_url}/settings", json={"settings": {"token": fresh}}, headers=tenant.admin
        )
    )
    await keep(await http.get(f"{registry}/v1/installations", headers=tenant.admin))
    await keep(await http.delete(other_url, headers=tenant.admin))
    assert all(r.status_code < 300 for r in responses), [r.text for r in responses]
    await wait_outbox_drained(infra, tenant.id)

    messages = [m for topic in TOPICS for m in await _everything_on(infra, topic)]
    assert any(iid.encode() in m for m in messages)  # the scan sees this run's snapshots
    stored = repr(await redis_dump(infra))
    logs = caplog.text
    for plaintext in plaintexts:
        assert not any(plaintext in r.text for r in responses)
        assert not any(plaintext.encode() in m for m in messages)
        assert plaintext not in stored
        assert plaintext not in logs
