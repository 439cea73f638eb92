"""Watermark cursors: the watermark moves only when a sweep ends."""

from __future__ import annotations

import json

from sdk import Sweep


def test_a_page_within_a_sweep_keeps_the_watermark_and_carries_the_highest_stamp() -> None:
    sweep = Sweep.parse(json.dumps({"since": 10}), "after")

    page = sweep.page([{"id": "a"}], [12, None, 11], following="a")

    assert page.has_more
    assert json.loads(page.next_cursor or "") == {"after": "a", "since": 10, "top": 12}


def test_the_end_of_a_sweep_moves_the_watermark_to_the_highest_stamp_seen() -> None:
    sweep = Sweep.parse(json.dumps({"after": "a", "since": 10, "top": 12}), "after")

    page = sweep.page([], [11], following=None)

    assert not page.has_more
    assert json.loads(page.next_cursor or "") == {"since": 12}
    assert sweep.position == "a"


def test_a_sweep_that_saw_nothing_keeps_its_watermark() -> None:
    page = Sweep.parse(json.dumps({"since": "2024-01-01"}), "next").page([], [], None)

    assert json.loads(page.next_cursor or "") == {"since": "2024-01-01"}
