"""`/v1/extensions/{key}/logs`, its live tail, and `/v1/audit`: real broker, real store, HTTP."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from contracts.audit import AuditEvent
from contracts.topics import AUDIT_EVENTS, EXTENSION_LOGS
from tests.harness import eventually
from tests.logs.factories import installed, log_line, new_workspace, publish_all

NOW = time.time()
# One line per distinct value of every filter (messages are the lines' names).
LINES: list[dict[str, Any]] = [
    {
        "message": "L0 Ticket created for ACME",
        "level": "debug",
        "script_type": "hook",
        "entity": "ticket",
        "event": "ticket.created",
        "installation_id": "inst_a",
        "at": NOW - 50,
    },
    {
        "message": "L1 synced 10 records",
        "script_type": "job",
        "job": "nightly-sync",
        "installation_id": "inst_a",
        "version_id": "ver_2",
        "mode": "observe",
        "at": NOW - 40,
    },
    {
        "message": "L2 denied host evil.example",
        "level": "warn",
        "kind": "denial",
        "route": "/api/tickets",
        "installation_id": "inst_b",
        "at": NOW - 30,
    },
    {
        "message": "L3 boom: ticket failed",
        "level": "error",
        "kind": "error",
        "script_type": "page_action",
        "entity": "ticket",
        "installation_id": "inst_b",
        "version_id": "ver_2",
        "mode": "observe",
        "at": NOW - 20,
    },
    {
        "message": "L4 would write contact",
        "kind": "would_write",
        "script_type": "hook",
        "entity": "contact",
        "event": "contact.updated",
        "version_id": "ver_3",
        "mode": "draft",
        "session_id": "sess_1",
        "installation_id": "inst_a",
        "at": NOW - 10,
    },
]
FILTERS: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ["L4", "L3", "L2", "L1", "L0"]),
    ({"level": "warn"}, ["L3", "L2"]),
    ({"level": "info"}, ["L4", "L3", "L2", "L1"]),
    ({"script_type": "hook"}, ["L4", "L0"]),
    ({"kind": "denial"}, ["L2"]),
    ({"entity": "ticket"}, ["L3", "L0"]),
    ({"event": "contact.updated"}, ["L4"]),
    ({"route": "/api/tickets"}, ["L2"]),
    ({"job": "nightly-sync"}, ["L1"]),
    ({"installation_id": "inst_b"}, ["L3", "L2"]),
    ({"version_id": "ver_2"}, ["L3", "L1"]),
    ({"mode": "draft"}, ["L4"]),
    ({"session_id": "sess_1"}, ["L4"]),
    ({"q": "TICKET"}, ["L3", "L0"]),
    ({"q": "100%"}, []),
    # Free text is whole words (contracts/log_search.py): every term, any order, any case.
    ({"q": "tick"}, []),
    ({"q": "tick*"}, ["L3", "L0"]),
    ({"q": "*CKET"}, ["L3", "L0"]),
    ({"q": "acme ticket"}, ["L0"]),
    ({"q": "ticket zebra"}, []),
    ({"q": '"ticket CREATED"'}, ["L0"]),
    ({"q": '"created ticket"'}, []),
    ({"q": '"icket crea"'}, ["L0"]),
    ({"q": "boom:"}, ["L3"]),
    ({"q": "evil.example"}, ["L2"]),
    ({"q": "vil.example"}, []),
    ({"q": "10"}, ["L1"]),
    ({"since": NOW - 35}, ["L4", "L3", "L2"]),
    ({"until": NOW - 35}, ["L1", "L0"]),
    ({"since": NOW - 45, "until": NOW - 15}, ["L3", "L2", "L1"]),
    ({"level": "warn", "installation_id": "inst_b", "q": "ticket"}, ["L3"]),
    ({"entity": "ticket", "script_type": "hook", "event": "ticket.created"}, ["L0"]),
    ({"mode": "observe", "kind": "error", "version_id": "ver_2"}, ["L3"]),
    ({"installation_id": "inst_a", "since": NOW - 45, "script_type": "job"}, ["L1"]),
]


async def query(
    http: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    path: str = "/v1/extensions/helpdesk/logs",
    **params: Any,
) -> dict[str, Any]:
    response = await http.get(f"{url}{path}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
async def filtered(infra, http, logs_url) -> tuple[str, dict[str, str]]:
    workspace_id, admin = await new_workspace(infra)
    lines = [log_line(workspace_id=workspace_id, **fields) for fields in LINES]
    other = log_line(workspace_id=workspace_id, extension_key="crm", message="L5 other ext")
    await publish_all(infra, EXTENSION_LOGS, [*lines, other])
    await installed(infra, http, logs_url, admin, workspace_id, "inst_a", "inst_b")
    page = await eventually(lambda: query(http, logs_url, admin), lambda p: len(p["items"]) == 5)
    assert len(page["items"]) == 5
    return workspace_id, admin


@pytest.mark.parametrize(
    ("params", "expected"), FILTERS, ids=["+".join(sorted(p)) or "none" for p, _ in FILTERS]
)
async def test_each_filter_alone_and_combined_selects_exactly_its_lines(
    http, logs_url, filtered, params, expected
):
    _, admin = filtered
    page = await query(http, logs_url, admin, **params)
    assert [item["message"].split()[0] for item in page["items"]] == expected


async def test_the_installation_route_serves_the_same_filters_for_one_installation(
    http, logs_url, filtered
):
    _, admin = filtered
    page = await query(http, logs_url, admin, path="/v1/installations/inst_b/logs", level="error")
    assert [item["message"].split()[0] for item in page["items"]] == ["L3"]


async def test_another_workspace_sees_none_of_the_lines(infra, http, logs_url, filtered):
    _, stranger = await new_workspace(infra)
    assert (await query(http, logs_url, stranger))["items"] == []
    response = await http.get(f"{logs_url}/v1/installations/inst_a/logs", headers=stranger)
    assert response.status_code == 404, response.text


async def test_bad_filters_answer_400_naming_the_field(http, logs_url, filtered):
    _, admin = filtered
    for params, field in [
        ({"level": "loud"}, "level"),
        ({"cursor": "!!"}, "cursor"),
        ({"since": 10, "until": 5}, "since"),
        ({"limit": 0}, "limit"),
    ]:
        response = await http.get(
            f"{logs_url}/v1/extensions/helpdesk/logs", headers=admin, params=params
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["field"] == field


async def test_an_unauthenticated_caller_is_refused(http, logs_url):
    response = await http.get(f"{logs_url}/v1/extensions/helpdesk/logs")
    assert response.status_code == 401


async def test_pages_have_no_gap_and_no_repeat_while_lines_keep_arriving(infra, http, logs_url):
    workspace_id, admin = await new_workspace(infra)
    base = time.time() - 3600
    # Five lines share one timestamp: the log id breaks the tie.
    ats = [base + i if not 10 <= i < 15 else base + 10 for i in range(30)]
    lines = [
        log_line(workspace_id=workspace_id, message=f"old {i}", at=at) for i, at in enumerate(ats)
    ]
    await publish_all(infra, EXTENSION_LOGS, lines)
    await eventually(
        lambda: query(http, logs_url, admin, limit=100), lambda p: len(p["items"]) == 30
    )
    seen: list[str] = []
    cursor: str | None = None
    for page_no in range(20):
        params: dict[str, Any] = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        page = await query(http, logs_url, admin, **params)
        seen += [item["log_id"] for item in page["items"] if item["message"].startswith("old")]
        # Newer lines arrive between pages: they are above the cursor, never inside a page.
        fresh = [
            log_line(workspace_id=workspace_id, message=f"new {page_no}.{n}") for n in range(3)
        ]
        await publish_all(infra, EXTENSION_LOGS, fresh)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = [
        line.log_id for line in sorted(lines, key=lambda ln: (ln.at, ln.log_id), reverse=True)
    ]
    assert seen == expected


async def test_a_redelivered_line_is_stored_once(infra, http, logs_url):
    workspace_id, admin = await new_workspace(infra)
    line = log_line(workspace_id=workspace_id, message="only once")
    await publish_all(infra, EXTENSION_LOGS, [line])
    await eventually(lambda: query(http, logs_url, admin), lambda p: len(p["items"]) == 1)
    sentinel = log_line(workspace_id=workspace_id, message="sentinel", at=line.at + 1)
    await publish_all(infra, EXTENSION_LOGS, [line, line, sentinel])
    page = await eventually(lambda: query(http, logs_url, admin), lambda p: len(p["items"]) >= 2)
    assert [item["message"] for item in page["items"]] == ["sentinel", "only once"]


async def read_events(response: httpx.Response, want: int, into: list[dict[str, Any]]) -> None:
    """Collect SSE `line` events (and the `ready` event) until `want` lines arrived."""
    event: dict[str, str] = {}
    async for raw in response.aiter_lines():
        if raw == "":
            if event:
                into.append(event)
                event = {}
                if sum(1 for e in into if e.get("event") == "line") >= want:
                    return
            continue
        name, _, value = raw.partition(":")
        if name:
            event[name] = value.lstrip(" ")


async def test_the_tail_delivers_new_lines_that_match_its_filters_only(infra, http, logs_url):
    workspace_id, admin = await new_workspace(infra)
    other_workspace, _ = await new_workspace(infra)
    events: list[dict[str, Any]] = []
    params = {"kind": "error", "installation_id": "inst_t"}
    async with http.stream(
        "GET", f"{logs_url}/v1/extensions/helpdesk/logs/stream", headers=admin, params=params
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = asyncio.create_task(read_events(response, 1, events))
        await eventually(lambda: asyncio.sleep(0, events), lambda e: bool(e), timeout=10)
        assert events[0]["event"] == "ready"
        await publish_all(
            infra,
            EXTENSION_LOGS,
            [
                log_line(
                    workspace_id=workspace_id, installation_id="inst_t", message="not an error"
                ),
                log_line(
                    workspace_id=other_workspace,
                    installation_id="inst_t",
                    kind="error",
                    message="other tenant",
                ),
                log_line(
                    workspace_id=workspace_id,
                    installation_id="inst_x",
                    kind="error",
                    message="other installation",
                ),
                log_line(
                    workspace_id=workspace_id,
                    installation_id="inst_t",
                    kind="error",
                    message="the one",
                ),
            ],
        )
        await asyncio.wait_for(reader, 20)
    lines = [json.loads(e["data"]) for e in events if e.get("event") == "line"]
    assert [line["message"] for line in lines] == ["the one"]


async def test_several_tails_each_receive_the_line(infra, http, logs_url):
    workspace_id, admin = await new_workspace(infra)
    inst = f"ins_{uuid.uuid4().hex[:8]}"
    await installed(infra, http, logs_url, admin, workspace_id, inst)
    url = f"{logs_url}/v1/installations/{inst}/logs/stream"
    async with (
        http.stream("GET", url, headers=admin) as first,
        http.stream("GET", url, headers=admin) as second,
    ):
        got: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
        readers = [
            asyncio.create_task(read_events(r, 1, into))
            for r, into in zip((first, second), got, strict=True)
        ]
        await eventually(lambda: asyncio.sleep(0, got), lambda g: all(g), timeout=10)
        await publish_all(
            infra,
            EXTENSION_LOGS,
            [log_line(workspace_id=workspace_id, installation_id=inst, message="fan out")],
        )
        await asyncio.wait_for(asyncio.gather(*readers), 20)
    for events in got:
        assert [json.loads(e["data"])["message"] for e in events if e.get("event") == "line"] == [
            "fan out"
        ]


def audit_event(workspace_id: str, **fields: Any) -> AuditEvent:
    values: dict[str, Any] = {
        "event_id": f"evt_{uuid.uuid4().hex[:12]}",
        "actor": "mem_1",
        "action": "SecretRotated",
        "target": "inst_1",
        "at": time.time(),
    }
    return AuditEvent(workspace_id=workspace_id, **(values | fields))


async def test_the_audit_trail_filters_and_paginates(infra, http, logs_url):
    workspace_id, admin = await new_workspace(infra)
    other_id, stranger = await new_workspace(infra)
    base = time.time() - 100
    events = [
        audit_event(
            workspace_id, action="ExtensionInstalled", actor="mem_a", target="inst_1", at=base
        ),
        audit_event(
            workspace_id, action="SecretRotated", actor="mem_b", target="inst_1", at=base + 1
        ),
        audit_event(
            workspace_id, action="SecretRotated", actor="mem_a", target="inst_2", at=base + 2
        ),
    ]
    await publish_all(infra, AUDIT_EVENTS, [*events, events[0]])
    ours = {ev.event_id for ev in events}  # the registry also audits the new workspace
    everything = await eventually(
        lambda: query(http, logs_url, admin, path="/v1/audit"),
        lambda p: ours <= {e["event_id"] for e in p["items"]},
    )
    mine = [e for e in everything["items"] if e["event_id"] in ours]
    assert [e["event_id"] for e in mine] == [
        events[2].event_id,
        events[1].event_id,
        events[0].event_id,
    ]
    cases: list[tuple[dict[str, Any], list[AuditEvent]]] = [
        ({"action": "SecretRotated", "since": base - 1}, [events[2], events[1]]),
        ({"actor": "mem_a", "since": base - 1}, [events[2], events[0]]),
        ({"target": "inst_1", "since": base - 1}, [events[1], events[0]]),
        ({"since": base + 0.5, "until": base + 1.5}, [events[1]]),
    ]
    for params, expected in cases:
        page = await query(http, logs_url, admin, path="/v1/audit", **params)
        assert [e["event_id"] for e in page["items"]] == [e.event_id for e in expected], params
    # Bounded by `until`: the registry's own audit events of the workspace (now, if a relay
    # runs on this broker) are newer than the test's and would come first.
    window = {"since": base - 1, "until": base + 3}
    first = await query(http, logs_url, admin, path="/v1/audit", limit=1, **window)
    second = await query(
        http, logs_url, admin, path="/v1/audit", limit=1, cursor=first["next_cursor"], **window
    )
    assert [first["items"][0]["event_id"], second["items"][0]["event_id"]] == [
        events[2].event_id,
        events[1].event_id,
    ]
    # Another workspace sees none of them (only its own events, if a registry relays them).
    seen = (await query(http, logs_url, stranger, path="/v1/audit", since=base - 1))["items"]
    assert {e["workspace_id"] for e in seen} <= {other_id}


async def test_without_since_a_query_looks_back_one_week(infra, http, logs_url):
    workspace_id, admin = await new_workspace(infra)
    now = time.time()
    old = log_line(workspace_id=workspace_id, message="eight days ago", at=now - 8 * 86_400)
    recent = log_line(workspace_id=workspace_id, message="just now", at=now)
    await publish_all(infra, EXTENSION_LOGS, [old, recent])
    everything = await eventually(
        lambda: query(http, logs_url, admin, since=now - 9 * 86_400),
        lambda p: len(p["items"]) == 2,
    )
    assert [i["message"] for i in everything["items"]] == ["just now", "eight days ago"]
    assert [i["message"] for i in (await query(http, logs_url, admin))["items"]] == ["just now"]
    before = await query(http, logs_url, admin, until=now - 7 * 86_400)
    assert [i["message"] for i in before["items"]] == ["eight days ago"]
