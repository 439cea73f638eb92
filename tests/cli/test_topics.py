"""`backfill topics tail`: the real CLI process reading the session's real broker."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from aiokafka import AIOKafkaProducer

from contracts.records import CanonicalRecord
from contracts.topics import CANONICAL_RECORDS, DEAD_LETTERS
from services.base.kafka import create_producer, publish
from tests.cli.test_deploy import ROOT, backfill


def canonical_record(*, source_id: str, installation_id: str = "inst_cli") -> CanonicalRecord:
    return CanonicalRecord(
        idempotency_key=f"stripe:event:{source_id}:0",
        workspace_id="ws_cli",
        installation_id=installation_id,
        extension_key="stripe",
        version_id="ver_cli",
        canonical_type="customer",
        stream="customers",
        payload={"id": "cus_1", "email": "kim@example.com"},
        source="webhook",
        source_id=source_id,
        emitted_at=1.0,
    )


@pytest_asyncio.fixture
async def producer(infra) -> AsyncIterator[AIOKafkaProducer]:
    started = create_producer(infra.settings(), "test-cli-topics")
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


def source_ids(out: str) -> list[str]:
    return [json.loads(line)["source_id"] for line in out.splitlines()]


async def test_tail_from_beginning_prints_each_record_as_one_json_line(infra, producer):
    run = uuid.uuid4().hex
    installation = f"inst_{run}"  # one key, one partition: the two keep their order
    for n in (1, 2):
        await publish(
            producer,
            CANONICAL_RECORDS,
            canonical_record(source_id=f"dlv_{run}_{n}", installation_id=installation),
        )
    code, out, err = await backfill(
        "topics", "tail", CANONICAL_RECORDS.name, "--from-beginning", "--timeout", "5",
        "--bootstrap-servers", infra.bootstrap_servers,
    )  # fmt: skip
    assert code == 0, err
    mine = [s for s in source_ids(out) if run in s]
    assert mine == [f"dlv_{run}_1", f"dlv_{run}_2"]


async def test_tail_without_from_beginning_prints_only_new_records(infra, producer):
    run = uuid.uuid4().hex
    await publish(producer, CANONICAL_RECORDS, canonical_record(source_id=f"dlv_{run}_old"))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "topics", "tail", CANONICAL_RECORDS.name,
        "--count", "1", "--timeout", "30", "--bootstrap-servers", infra.bootstrap_servers,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    communicate = asyncio.ensure_future(process.communicate())
    # The tail may not be positioned yet: keep sending new records until it has printed one.
    while not communicate.done():
        await publish(producer, CANONICAL_RECORDS, canonical_record(source_id=f"dlv_{run}_new"))
        await asyncio.wait([communicate], timeout=0.5)
    out, err = communicate.result()
    assert process.returncode == 0, err.decode()
    # One record, and a new one (other tests of this worker's broker may publish too).
    [printed] = source_ids(out.decode())
    assert printed != f"dlv_{run}_old"


async def test_tail_exits_1_when_count_is_not_reached_in_time(infra):
    code, out, err = await backfill(
        "topics", "tail", DEAD_LETTERS.name, "--count", "1", "--timeout", "1",
        "--bootstrap-servers", infra.bootstrap_servers,
    )  # fmt: skip
    assert (code, out) == (1, "")
    assert f"0 of 1 message(s) on {DEAD_LETTERS.name}" in err


async def test_tail_of_an_unknown_topic_names_the_known_ones(infra):
    code, out, err = await backfill("topics", "tail", "ingest.canonical", "--timeout", "1")
    assert (code, out) == (2, "")
    assert CANONICAL_RECORDS.name in err
