"""The first-party example extension (examples/deals-guard) answering the core's writes."""

from __future__ import annotations

from pathlib import Path

from contracts.ids import new_id
from tests.ingress.conftest import Ingress
from tests.ingress.factories import deploy, installation
from tests.ingress.hook_factories import before_write, entity_write

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "deals-guard"


async def test_deals_guard_refuses_with_every_field_and_normalises_a_good_deal(ingress: Ingress):
    ws = new_id("ws")
    version = await deploy(ingress.redis, directory=EXAMPLE)
    await ingress.install(installation(version, ingress.keyring, secret=None, workspace_id=ws))
    bad = await before_write(
        ingress.http, ingress.url, ws, entity_write({"name": " ", "amount": -1, "discount": 40})
    )
    assert bad.status_code == 200 and bad.json()["allowed"] is False
    assert {(e["field"], e["hook"]) for e in bad.json()["errors"]} == {
        ("name", "deal-guard"),
        ("amount", "deal-guard"),
        ("discount", "deal-guard"),
    }
    good = await before_write(
        ingress.http,
        ingress.url,
        ws,
        entity_write({"name": "Acme", "amount": 10, "currency": "eur"}),
    )
    assert good.json()["allowed"] is True
    assert good.json()["record"] == {"name": "Acme", "amount": 10, "currency": "EUR"}
