"""Log lines at volume through the public interfaces (the topic in, HTTP out): poison lines
parked alone, free text over many lines, keyset pages under concurrent inserts, and 404 for
another workspace's installation on every installation route."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import msgspec
import pytest

from contracts.topics import DEAD_LETTERS, EXTENSION_LOGS
from tests.harness import eventually, read_topic
from tests.logs.factories import (
    installed,
    log_line,
    new_workspace,
    publish_all,
    publish_fast,
)

# The free-text test's size: large enough that the store holds many parts and granules
# (the 1,000,000-line figure belongs to bench/logs.py), small enough for CI (~15 s).
MANY = 100_000
INSTALLATION_ROUTES = ("logs", "logs/stream", "health", "secret-reads", "observation-report")


async def page(http, url: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await http.get(f"{url}/v1/extensions/helpdesk/logs", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_poison_line_is_parked_alone_and_its_batch_is_stored(infra, http, logs_url):
    workspace_id, admin = await new_workspace(infra)
    good = [log_line(workspace_id=workspace_id, message=f"good {n}") for n in range(40)]
    line = msgspec.json.decode(EXTENSION_LOGS.encode(good[0]))
    poison = [
        b'{"broken',  # not JSON
        msgspec.json.encode(line | {"log_id": "log_bad_level", "level": "verbose"}),
        msgspec.json.encode({k: v for k, v in line.items() if k != "installation_id"}),
    ]
    key = workspace_id.encode()
    records = [(key, EXTENSION_LOGS.encode(g)) for g in good[:20]]
    records += [(key, p) for p in poison]
    records += [(key, EXTENSION_LOGS.encode(g)) for g in good[20:]]
    await publish_fast(infra, EXTENSION_LOGS, records)

    stored = await eventually(
        lambda: page(http, logs_url, admin, limit=1000), lambda p: len(p["items"]) >= 40
    )
    assert sorted(item["message"] for item in stored["items"]) == sorted(g.message for g in good)

    def parked_by(ms: list[Any]) -> dict[str, list[bytes]]:
        """This workspace's letters per consumer group: another logs service on the same
        broker (a suite another test file of this worker left running) parks them too."""
        groups: dict[str, list[bytes]] = {}
        for m in ms:
            if m.key == key:
                groups.setdefault(m.consumer_group, []).append(m.value)
        return groups

    letters = await read_topic(
        infra.bootstrap_servers,
        DEAD_LETTERS,
        lambda ms: any(len(v) >= len(poison) for v in parked_by(ms).values()),
        timeout=60,
    )
    complete = {g: v for g, v in parked_by(letters).items() if len(v) >= len(poison)}
    assert complete
    for group, mine in complete.items():  # each logs service parked each poison line once
        assert sorted(mine) == sorted(poison), group
        assert group.endswith(".lines")


async def test_free_text_finds_a_rare_word_among_many_lines(infra, http, logs_url):
    """Whole words among 100,000 lines: the word in any case, never a part of a word unless
    asked for with `*`, a quoted phrase as written; pages stay exact at any size."""
    workspace_id, admin = await new_workspace(infra)
    rare = f"zq{uuid.uuid4().hex[:10]}"
    start = time.time() - 5 * 86_400
    holders = {7_777, 50_001, 93_333}
    longer = {20_000, 60_000}  # the rare word inside a longer word only
    records = []
    for n in range(MANY):
        words = f"fetched page {n} of customers"
        if n in holders:
            words += f" found {rare}!"
        if n in longer:
            words += f" found {rare}ish"
        line = log_line(
            workspace_id=workspace_id,
            message=words,
            log_id=f"log_{n:07d}",
            at=start + n * 2.0,
            installation_id=f"ins_{n % 12}",
        )
        records.append((f"ins_{n % 12}".encode(), EXTENSION_LOGS.encode(line)))
    await publish_fast(infra, EXTENSION_LOGS, records)
    # The newest line of every key (installation) stored: every line before it is too.
    newest = [f"log_{n:07d}" for n in range(MANY - 1, MANY - 13, -1)]
    await eventually(
        lambda: page(http, logs_url, admin, q=f"customers page {MANY - 1} of"),
        lambda p: len(p["items"]) == 1,
        timeout=120,
    )
    await eventually(
        lambda: page(http, logs_url, admin, q="customers", limit=12),
        lambda p: [item["log_id"] for item in p["items"]] == newest,
        timeout=120,
    )

    def newest_first(numbers: set[int]) -> list[str]:
        return [f"log_{n:07d}" for n in sorted(numbers, reverse=True)]

    cases = [
        (rare, holders),
        (rare.upper(), holders),
        (f"FOUND {rare.title()}", holders),
        (f'"found {rare}!"', holders),
        (f"{rare}*", holders | longer),
        (f"*{rare[3:]}", holders | longer),
        (f"{rare[:-2]}*", holders | longer),
        (f'"{rare}i"', longer),
    ]
    for q, numbers in cases:
        found = await page(http, logs_url, admin, q=q, limit=100)
        assert [item["log_id"] for item in found["items"]] == newest_first(numbers), q
        assert found["next_cursor"] is None
    for q in (rare[3:], rare[:-2], f"{rare}ish!", f'"{rare}!!"'):  # parts of words: nothing
        assert (await page(http, logs_url, admin, q=q, limit=100))["items"] == [], q
    # Page by page (one line, then two), whole word and wildcard: no gap, no repeat.
    for q, numbers in ((rare, holders), (f"*{rare[3:]}*", holders | longer)):
        for limit in (1, 2):
            seen: list[str] = []
            cursor: str | None = None
            for _ in range(10):
                paging = {"q": q, "limit": limit} | ({"cursor": cursor} if cursor else {})
                answer = await page(http, logs_url, admin, **paging)
                seen += [item["log_id"] for item in answer["items"]]
                cursor = answer["next_cursor"]
                if cursor is None:
                    break
            assert seen == newest_first(numbers), (q, limit)
    # A common word over many pages: every line of the newest 250, in order.
    seen = []
    cursor = None
    for _ in range(3):
        paging = {"q": "CUSTOMERS", "limit": 100} | ({"cursor": cursor} if cursor else {})
        answer = await page(http, logs_url, admin, **paging)
        seen += [item["log_id"] for item in answer["items"]]
        cursor = answer["next_cursor"]
    assert seen[:250] == [f"log_{n:07d}" for n in range(MANY - 1, MANY - 251, -1)]


async def test_keyset_pages_never_skip_or_repeat_while_lines_are_inserted(infra, http, logs_url):
    workspace_id, admin = await new_workspace(infra)
    base = time.time() - 600
    # Groups of lines share a timestamp: the log id orders them, across page boundaries too.
    old = [
        log_line(workspace_id=workspace_id, message=f"old {n}", at=base + n // 4)
        for n in range(400)
    ]
    await publish_all(infra, EXTENSION_LOGS, old)
    await eventually(
        lambda: page(http, logs_url, admin, limit=1000, q="old"), lambda p: len(p["items"]) == 400
    )
    writing = True

    async def keep_inserting() -> None:
        n = 0
        while writing:
            fresh = [log_line(workspace_id=workspace_id, message=f"new {n}.{k}") for k in range(20)]
            await publish_all(infra, EXTENSION_LOGS, fresh)
            n += 1

    writer = asyncio.create_task(keep_inserting())
    seen: list[str] = []
    cursor: str | None = None
    try:
        for _ in range(200):
            params: dict[str, Any] = {"limit": 9} | ({"cursor": cursor} if cursor else {})
            answer = await page(http, logs_url, admin, **params)
            seen += [item["log_id"] for item in answer["items"]]
            cursor = answer["next_cursor"]
            if cursor is None:
                break
            await asyncio.sleep(0.01)
    finally:
        writing = False
        await writer
    assert len(seen) == len(set(seen)), "a line was returned twice"
    expected = [ln.log_id for ln in sorted(old, key=lambda ln: (ln.at, ln.log_id), reverse=True)]
    assert [log_id for log_id in seen if log_id in {ln.log_id for ln in old}] == expected


@pytest.mark.parametrize("route", INSTALLATION_ROUTES)
async def test_another_workspaces_installation_answers_404(infra, http, logs_url, route):
    owner_id, owner = await new_workspace(infra)
    _, stranger = await new_workspace(infra)
    inst = f"ins_{uuid.uuid4().hex[:8]}"
    await installed(infra, http, logs_url, owner, owner_id, inst)
    url = f"{logs_url}/v1/installations/{inst}/{route}"
    for headers in (stranger, owner):
        if route == "logs/stream":
            async with http.stream("GET", url, headers=headers) as response:
                status = response.status_code
        else:
            status = (await http.get(url, headers=headers)).status_code
        # The owner reads it (the report: 409, the installation has no observation version).
        assert status == (404 if headers is stranger else 409 if "report" in route else 200)
    unknown = f"{logs_url}/v1/installations/ins_{uuid.uuid4().hex[:8]}/{route}"
    if route != "logs/stream":
        assert (await http.get(unknown, headers=owner)).status_code == 404


async def test_pages_are_exact_for_sparse_and_dense_filters_across_days(infra, http, logs_url):
    """A page widens its time window by the density it found so far (none in the newest
    hour: the rest of the range at once): lines few and far apart, many in the newest hour,
    or none there at all, all come newest first with no gap and no repeat at any page size."""
    workspace_id, admin = await new_workspace(infra)
    now = time.time()
    ages_h = [0.1, 0.2, 0.5, 1.5, 2, 3, 7, 13, 25, 26, 49, 75, 100, 150, 160]
    sparse = [
        log_line(
            workspace_id=workspace_id,
            message=f"needle {n}" + (" far" if age > 24 else ""),
            at=now - age * 3_600,
            log_id=f"log_s{n:03d}",
        )
        for n, age in enumerate(ages_h)
    ]
    dense = [
        log_line(workspace_id=workspace_id, message=f"hay {n}", at=now - 600 - n // 3)
        for n in range(30)
    ]
    await publish_all(infra, EXTENSION_LOGS, sparse + dense)
    await eventually(
        lambda: page(http, logs_url, admin, limit=1000), lambda p: len(p["items"]) == 45
    )
    cases = [
        ({"q": "needle"}, sparse),
        ({"q": "far"}, [ln for ln in sparse if "far" in ln.message]),
        ({}, sparse + dense),
        ({"until": now - 2.5 * 3_600}, [ln for ln in sparse if ln.at <= now - 2.5 * 3_600]),
    ]
    for params, lines in cases:
        expected = [ln.log_id for ln in sorted(lines, key=lambda ln: (ln.at, ln.log_id))][::-1]
        for limit in (1, 4, 7, 100):
            seen: list[str] = []
            cursor: str | None = None
            for _ in range(60):
                paging = params | {"limit": limit} | ({"cursor": cursor} if cursor else {})
                answer = await page(http, logs_url, admin, **paging)
                seen += [item["log_id"] for item in answer["items"]]
                cursor = answer["next_cursor"]
                if cursor is None:
                    break
            assert seen == expected, (params, limit)
