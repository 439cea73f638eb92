"""Pages, page actions and UI contributions through ingress's HTTP API, as the console calls it."""

from __future__ import annotations

import httpx
import msgspec

from contracts.ui import PageView
from tests.harness import Infra, eventually
from tests.ingress.ext_stack import FIXTURE, Stack, bundle_of, stack_fixture  # noqa: F401 (`stack`)
from tests.registry.factories import new_tenant


def pages_url(stack: Stack, installation: str, rest: str = "") -> str:
    return f"{stack.ingress}/v1/installations/{installation}/pages{rest}"


async def test_a_page_renders_every_component_for_the_member(stack: Stack) -> None:
    installation = await stack.install()
    answer = await stack.http.get(
        pages_url(stack, installation, "/board"), headers=stack.tenant.member
    )
    assert answer.status_code == 200, answer.text
    view = msgspec.json.decode(answer.content, type=PageView)  # the console's typed decode
    types = [n["type"] for n in answer.json()["tree"]]
    assert types == ["heading", "text", "key_value", "table", "badge", "link", "chart", "section"]
    assert answer.json()["tree"][1]["text"] == "Signed in as member"
    section = answer.json()["tree"][-1]
    assert [c["type"] for c in section["children"]] == ["form", "button"]
    assert view.page.title == "Board" and view.page.nav is True and view.mode == "active"


async def test_pages_are_listed_by_role_and_admin_pages_refused_to_members(stack: Stack) -> None:
    installation = await stack.install()
    as_member = await stack.http.get(pages_url(stack, installation), headers=stack.tenant.member)
    assert [p["path"] for p in as_member.json()] == ["board", "hostile", "unsafe-link", "slow"]
    as_admin = await stack.http.get(pages_url(stack, installation), headers=stack.tenant.admin)
    assert "admin-only" in [p["path"] for p in as_admin.json()]
    refused = await stack.http.get(
        pages_url(stack, installation, "/admin-only"), headers=stack.tenant.member
    )
    assert refused.status_code == 403


async def test_form_action_validation_errors_name_their_fields(stack: Stack) -> None:
    installation = await stack.install()
    url = pages_url(stack, installation, "/board/actions/add_order")
    refused = await stack.http.post(
        url, json={"input": {"customer": "", "amount": "-1"}}, headers=stack.tenant.member
    )
    assert refused.status_code == 422, refused.text
    errors = {e["field"]: e["message"] for e in refused.json()["errors"]}
    assert errors == {
        "customer": "Customer is required",
        "amount": "Amount must be more than zero",
    }
    done = await stack.http.post(
        url, json={"input": {"customer": "Acme", "amount": "12"}}, headers=stack.tenant.member
    )
    assert done.status_code == 200
    assert done.json()["ok"] is True and done.json()["message"] == "Order for Acme added (12)"


async def test_a_member_cannot_run_an_admin_only_action(stack: Stack) -> None:
    installation = await stack.install()
    url = pages_url(stack, installation, "/board/actions/purge")
    refused = await stack.http.post(url, json={"input": {}}, headers=stack.tenant.member)
    assert refused.status_code == 403
    allowed = await stack.http.post(url, json={"input": {}}, headers=stack.tenant.admin)
    assert allowed.status_code == 200 and allowed.json()["message"] == "Purged"
    undeclared = await stack.http.post(
        pages_url(stack, installation, "/board/actions/render"), json={}, headers=stack.tenant.admin
    )
    assert undeclared.status_code == 404


async def test_a_javascript_link_is_refused_before_it_reaches_the_console(stack: Stack) -> None:
    installation = await stack.install()
    answer = await stack.http.get(
        pages_url(stack, installation, "/unsafe-link"), headers=stack.tenant.member
    )
    assert answer.status_code == 502
    assert "tree[0].href" in answer.json()["error"]["message"]


async def test_ui_contributions_render_for_their_slots(stack: Stack) -> None:
    installation = await stack.install()
    panel = await stack.http.get(
        f"{stack.ingress}/v1/ui/installation.overview.panel", headers=stack.tenant.member
    )
    mine = [c for c in panel.json() if c["installation_id"] == installation]
    assert [c["title"] for c in mine] == ["Orders today"]  # "Admin stats" is for admins
    assert mine[0]["tree"][0]["type"] == "key_value"
    as_admin = await stack.http.get(
        f"{stack.ingress}/v1/ui/installation.overview.panel", headers=stack.tenant.admin
    )
    titles = [c["title"] for c in as_admin.json() if c["installation_id"] == installation]
    assert titles == ["Orders today", "Admin stats"]
    row = await stack.http.get(
        f"{stack.ingress}/v1/ui/installed.row.action", headers=stack.tenant.member
    )
    link = next(c for c in row.json() if c["installation_id"] == installation)["tree"][0]
    assert link == {
        "type": "link",
        "label": "Open board",
        "href": f"/installations/{installation}/pages/board",
    }
    unknown = await stack.http.get(f"{stack.ingress}/v1/ui/nowhere", headers=stack.tenant.member)
    assert unknown.status_code == 404


async def test_another_workspace_sees_no_page_of_this_one(
    stack: Stack, infra: Infra, http: httpx.AsyncClient
) -> None:
    installation = await stack.install()
    other = await new_tenant(infra, http, stack.registry, "elsewhere")
    answer = await http.get(pages_url(stack, installation, "/board"), headers=other.admin)
    assert answer.status_code == 404
    slots = await http.get(
        f"{stack.ingress}/v1/ui/installation.overview.panel", headers=other.admin
    )
    assert slots.json() == []


async def test_a_page_past_the_time_limit_answers_504(stack: Stack) -> None:
    installation = await stack.install()
    slow = await stack.http.get(
        pages_url(stack, installation, "/slow"), headers=stack.tenant.member
    )
    assert slow.status_code == 504
    board = await stack.http.get(
        pages_url(stack, installation, "/board"), headers=stack.tenant.member
    )
    assert board.status_code == 200


async def test_a_drafts_pages_and_routes_are_for_its_developer_session_only(stack: Stack) -> None:
    installation = await stack.install()
    session = "s" * 32
    draft = bundle_of(FIXTURE, version="1.1.0-draft", name="Routes and pages (draft)")
    deployed = await stack.http.post(
        f"{stack.registry}/v1/extensions/routes-pages/versions",
        params={"mode": "draft", "session": session},
        content=draft,
        headers={**stack.tenant.admin, "content-type": "application/gzip"},
    )
    assert deployed.status_code in (200, 201), deployed.text
    url = pages_url(stack, installation, "/board")

    async def draft_rendered() -> httpx.Response | None:
        answer = await stack.http.get(url, params={"session": session}, headers=stack.tenant.admin)
        return answer if answer.status_code == 200 else None

    mine = await eventually(draft_rendered, timeout=20, what="the draft page")
    assert mine.json()["mode"] == "draft"
    assert mine.json()["version_id"] == deployed.json()["version_id"]
    member = await stack.http.get(url, params={"session": session}, headers=stack.tenant.member)
    assert member.status_code == 404  # not the developer
    wrong = await stack.http.get(url, params={"session": "x" * 32}, headers=stack.tenant.admin)
    assert wrong.status_code == 404
    active = await stack.http.get(url, headers=stack.tenant.admin)
    assert active.json()["mode"] == "active"
    dev_route = f"{stack.ingress}/ext/{installation}/_dev/{session}/status"
    assert (await stack.http.get(dev_route)).status_code == 200
    other_session = f"{stack.ingress}/ext/{installation}/_dev/{'x' * 32}/status"
    assert (await stack.http.get(other_session)).status_code == 404


async def test_page_actions_are_logged_as_page_action_with_page_route_and_event(
    stack: Stack,
) -> None:
    installation = await stack.install()
    done = await stack.http.post(
        pages_url(stack, installation, "/board/actions/add_order"),
        json={"input": {"customer": "Initech", "amount": "3"}},
        headers=stack.tenant.member,
    )
    assert done.status_code == 200

    async def lines() -> list[dict[str, object]]:
        answer = await stack.http.get(
            f"{stack.logs}/v1/extensions/routes-pages/logs",
            params={
                "installation_id": installation,
                "script_type": "page_action",
                "route": "/board",
            },
            headers=stack.tenant.admin,
        )
        items = answer.json()["items"]
        assert items, "no line yet"
        return list(items)

    [line] = await eventually(lines, timeout=20, what="page action log lines")
    assert line["message"] == "order added" and line["event"] == "add_order"
