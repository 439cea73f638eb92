"""The first-party example `examples/deals-board`, deployed and run through the platform."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.harness import Infra
from tests.ingress.ext_stack import running_stack

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "deals-board"


async def test_deals_board_route_page_and_validating_action(
    infra: Infra, http: httpx.AsyncClient
) -> None:
    async with running_stack(infra, http) as stack:
        deployed = await stack.deploy(EXAMPLE)
        assert deployed.status_code in (200, 201), deployed.text
        installation = await stack.install("deals-board")
        key = {"authorization": f"Bearer {(await stack.api_key(installation))['secret']}"}
        won = await http.get(stack.ext(installation, "/deals?stage=won"), headers=key)
        assert [d["id"] for d in won.json()["deals"]] == ["d_104"]
        missing = await http.get(stack.ext(installation, "/deals/d_999"), headers=key)
        assert missing.status_code == 404
        assert (await http.get(stack.ext(installation, "/health"))).json() == {"ok": True}

        base = f"{stack.ingress}/v1/installations/{installation}/pages/board"
        view = await http.get(base, headers=stack.tenant.member)
        assert [n["type"] for n in view.json()["tree"]] == [
            "heading",
            "key_value",
            "table",
            "chart",
            "section",
            "button",
        ]
        refused = await http.post(
            f"{base}/actions/check_deal",
            json={"input": {"name": "x", "amount": "0", "stage": "lost"}},
            headers=stack.tenant.member,
        )
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == ["name", "amount", "stage"]
        accepted = await http.post(
            f"{base}/actions/check_deal",
            json={"input": {"name": "Hooli", "amount": "1200", "stage": "lead"}},
            headers=stack.tenant.member,
        )
        assert accepted.json()["message"] == "Hooli looks right: 1,200 at lead"
        reset = await http.post(
            f"{base}/actions/reset_pipeline", json={"input": {}}, headers=stack.tenant.member
        )
        assert reset.status_code == 403
