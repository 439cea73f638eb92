"""The sync bench's baselines, each run as its own process by `bench/sync.py`.

Both fetch every page of the local Stripe-like list API and produce one canonical record per
customer to `ingest.canonical.v1` with aiokafka (acks=all), a page at a time, with nothing
else: no runtime, no dedupe, no cursor. They differ in how:

- `httpx`: the issue's baseline. httpx fetches, each record is its own `producer.send`.
- `lean`: what the sync process itself now does for a page: aiohttp fetches, the page's
  records go as one producer batch. The cheapest straightforward Python path known here.

Prints one JSON line: records, CPU seconds of this process, wall seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx
from aiokafka import AIOKafkaProducer

from contracts.records import CanonicalRecord
from contracts.topics import CANONICAL_RECORDS
from services.base.kafka import create_producer
from services.base.settings import InfraSettings

PAGE = 100
Fetch = Callable[[dict[str, str]], Awaitable[dict[str, Any]]]


def record_of(obj: dict[str, Any]) -> CanonicalRecord:
    return CanonicalRecord(
        idempotency_key=f"bench:customer:{obj['id']}:{obj['created']}",
        workspace_id="ws_bench",
        installation_id="ins_baseline",
        extension_key="bench",
        version_id="ver_bench",
        canonical_type="customer",
        stream="customers",
        payload=obj,
        source="stream",
        source_id="baseline",
        emitted_at=time.time(),
    )


async def one_by_one(producer: AIOKafkaProducer, page: list[dict[str, Any]]) -> None:
    acks = [await CANONICAL_RECORDS.send(producer, record_of(obj)) for obj in page]
    await asyncio.gather(*acks)


async def as_batch(producer: AIOKafkaProducer, page: list[dict[str, Any]]) -> None:
    batch = producer.create_batch()
    for obj in page:
        record = record_of(obj)
        value, key = CANONICAL_RECORDS.encode(record), CANONICAL_RECORDS.encode_key(record)
        batch.append(key=key, value=value, timestamp=None)  # 100 records fit in one batch
    await (await producer.send_batch(batch, CANONICAL_RECORDS.name, partition=0))


async def sweep(fetch: Fetch, producer: AIOKafkaProducer, lean: bool) -> int:
    records, after = 0, ""
    while True:
        params = {"limit": str(PAGE)}
        if after:
            params["starting_after"] = after
        body = await fetch(params)
        await (as_batch if lean else one_by_one)(producer, body["data"])
        records += len(body["data"])
        if not body["has_more"]:
            return records
        after = body["data"][-1]["id"]


async def baseline(bootstrap: str, url: str, client: str) -> dict[str, float]:
    producer = create_producer(InfraSettings(kafka_bootstrap_servers=bootstrap), "bench-base")
    await producer.start()
    cpu, wall = time.process_time(), time.monotonic()
    if client == "httpx":
        async with httpx.AsyncClient(timeout=15) as http:

            async def fetch_httpx(params: dict[str, str]) -> dict[str, Any]:
                answer: dict[str, Any] = (await http.get(url, params=params)).json()
                return answer

            records = await sweep(fetch_httpx, producer, lean=False)
    else:
        async with aiohttp.ClientSession() as session:

            async def fetch_aiohttp(params: dict[str, str]) -> dict[str, Any]:
                async with session.get(url, params=params) as response:
                    answer: dict[str, Any] = json.loads(await response.read())
                    return answer

            records = await sweep(fetch_aiohttp, producer, lean=True)
    result = {
        "records": records,
        "cpu_s": time.process_time() - cpu,
        "wall_s": time.monotonic() - wall,
    }
    await producer.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.sync_baseline")
    parser.add_argument("--url", required=True)
    parser.add_argument("--client", choices=["httpx", "lean"], default="httpx")
    parser.add_argument("--customers", type=int, default=20_000)  # the provider's; for the log
    args = parser.parse_args()
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    result = asyncio.run(baseline(bootstrap, f"{args.url}/v1/customers", args.client))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
