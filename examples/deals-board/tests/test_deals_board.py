"""Local tests of the example (`python -m pytest examples/deals-board/tests`)."""

import asyncio
import sys
from pathlib import Path

import pytest

from sdk import Member, PageContext, ValidationErrors
from sdk.api import Request

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))  # the example's modules import each other relatively (`..deals`)

from src.api.deals import index as deals_route  # noqa: E402
from src.pages import board  # noqa: E402

CTX = PageContext(
    installation_id="ins_local",
    extension_key="deals-board",
    settings={"currency": "EUR", "large_deal": 10000},
    page="board",
    member=Member(id="mem_local", role="member"),
)


def test_the_board_has_a_table_a_chart_and_a_form():
    kinds = [type(node).__name__ for node in board.render(CTX)]
    assert kinds == ["Heading", "KeyValue", "Table", "Chart", "Section", "Button"]


def test_a_bad_deal_is_refused_field_by_field():
    with pytest.raises(ValidationErrors) as refused:
        board.check_deal(CTX, {"name": "x", "amount": "-5", "stage": "lost"})
    assert [e.field for e in refused.value.errors] == ["name", "amount", "stage"]


def test_the_route_filters_by_stage():
    answer = asyncio.run(
        deals_route.GET(Request(method="GET", path="/deals", query={"stage": "won"}))
    )
    assert [d["id"] for d in answer.body["deals"]] == ["d_104"]
