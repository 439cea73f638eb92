"""Records travel with the invocation's final answer (`Done`), in order, however many."""

from __future__ import annotations

import socket
import threading

from runtime.isolated import protocol
from runtime.isolated.worker_main import Channel
from tests.runtime.test_isolation import attack


def _frames(data: bytes) -> list[protocol.FromWorker]:
    frames, at = [], 0
    while at < len(data):
        (size,) = protocol.HEADER.unpack_from(data, at)
        at += protocol.HEADER.size
        frames.append(protocol.from_worker.decode(data[at : at + size]))
        at += size
    return frames


def _record(n: int, size: int = 10) -> protocol.Ingest:
    return protocol.Ingest(
        canonical_type="ticket", payload={"n": n, "pad": "x" * size}, stream=None, key=f"k{n}"
    )


def _finish(records: list[protocol.Ingest]) -> list[protocol.FromWorker]:
    """What a worker's channel writes for an invocation that ingested `records`."""
    worker, parent = socket.socketpair()
    received: list[bytes] = []

    def read() -> None:
        while chunk := parent.recv(1 << 20):
            received.append(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    with worker, parent:
        channel = Channel(worker)
        for record in records:
            channel.hold_record(record)
        done = protocol.Done(outcome="ok", records=channel.take_records())  # type: ignore[arg-type]
        channel.post(done)
        channel.flush()
        worker.shutdown(socket.SHUT_WR)
        reader.join(30)
    return _frames(b"".join(received))


def test_a_handlers_records_ride_in_its_done_frame():
    [frame] = _finish([_record(n) for n in range(3)])
    assert isinstance(frame, protocol.Done)
    assert [r.key for r in frame.records] == ["k0", "k1", "k2"]


def test_records_past_the_budget_go_ahead_in_order():
    count = 3 * protocol.RECORD_BYTES // 1_000
    frames = _finish([_record(n, size=1_000) for n in range(count)])
    assert [type(f).__name__ for f in frames[:-1]] == ["Records"] * (len(frames) - 1)
    assert len(frames) >= 3
    keys = [r.key for f in frames for r in f.records]  # type: ignore[union-attr]
    assert keys == [f"k{n}" for n in range(count)]


async def test_every_record_of_a_large_invocation_reaches_the_caller_in_order(hostile):
    runtime, snapshot = hostile
    result = await runtime.invoke(attack(snapshot, "ingest_flood", records=9_000))
    assert result.outcome == "ok", result
    assert [e.idempotency_key for e in result.emissions] == [f"flood:{n}" for n in range(9_000)]
