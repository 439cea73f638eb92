"""The tail hub: fan-out by filter, and a slow subscriber dropped instead of growing memory."""

from __future__ import annotations

from services.logs.service.queries import LogFilter
from services.logs.service.tail import TailHub
from tests.logs.factories import log_line


async def test_each_subscriber_gets_the_lines_its_filter_matches():
    hub = TailHub(queue_size=10)
    errors = hub.subscribe(LogFilter(workspace_id="ws_a", kind="error"))
    everything = hub.subscribe(LogFilter(workspace_id="ws_a"))
    other = hub.subscribe(LogFilter(workspace_id="ws_b"))
    hub.publish(
        [
            log_line(workspace_id="ws_a", message="info"),
            log_line(workspace_id="ws_a", kind="error", message="err"),
        ]
    )
    assert [(await everything.next(0.1)).message, (await everything.next(0.1)).message] == [
        "info",
        "err",
    ]
    assert (await errors.next(0.1)).message == "err"
    assert await errors.next(0.01) is None
    assert await other.next(0.01) is None


async def test_a_subscriber_that_cannot_keep_up_is_dropped_and_the_others_are_not():
    hub = TailHub(queue_size=3)
    slow = hub.subscribe(LogFilter(workspace_id="ws_a"))
    fast = hub.subscribe(LogFilter(workspace_id="ws_a"))
    for n in range(5):
        hub.publish([log_line(workspace_id="ws_a", message=f"line {n}")])
        assert (await fast.next(0.1)).message == f"line {n}"
    assert slow.dropped and slow.queue.qsize() == 3
    assert hub.count == 1 and hub.dropped_total == 1
    # What was queued before the drop is still handed out, then the tail ends.
    assert [(await slow.next(0.1)).message for _ in range(3)] == ["line 0", "line 1", "line 2"]
    assert await slow.next(0.1) is None


async def test_a_closed_tail_receives_nothing_more():
    hub = TailHub(queue_size=3)
    tail = hub.subscribe(LogFilter(workspace_id="ws_a"))
    hub.unsubscribe(tail)
    hub.publish([log_line(workspace_id="ws_a")])
    assert hub.count == 0 and tail.queue.empty()
