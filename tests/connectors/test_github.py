"""The GitHub connector: event catalog on realistic deliveries, Link-header streams, test connection."""

from __future__ import annotations

import pytest
from litestar import Litestar, Request, Response, get

from tests.connectors.conftest import CONNECTORS, fixture_bytes
from tests.harness import serving
from tests.runtime.conftest import make_runtime
from tests.runtime.factories import call, deploy_directory, installation, webhook

DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def headers(event: str) -> dict[str, str]:
    return {
        "x-github-event": event,
        "x-github-delivery": DELIVERY,
        "user-agent": "GitHub-Hookshot/5b1e3a4",
    }


async def deliver(redis, keyring, producer, event: str, fixture: str):
    runtime = make_runtime(redis, keyring, producer)
    snapshot = installation(await deploy_directory(redis, CONNECTORS / "github"))
    result = await runtime.invoke(
        webhook(snapshot, fixture_bytes(f"github/{fixture}.json"), headers=headers(event))
    )
    await runtime.close()
    return result


@pytest.mark.parametrize(
    ("event", "fixture", "canonical_type"),
    [
        ("issues", "issues.opened", "issue"),
        ("pull_request", "pull_request.closed", "pull_request"),
        ("push", "push", "push"),
    ],
)
async def test_catalogued_event_becomes_one_record_keyed_by_delivery(
    infra, redis, keyring, producer, event, fixture, canonical_type
):
    result = await deliver(redis, keyring, producer, event, fixture)
    [emission] = result.emissions
    assert emission.canonical_type == canonical_type
    assert emission.idempotency_key == f"github:event:{DELIVERY}:0"


async def test_issue_transform_keeps_number_labels_and_repository(infra, redis, keyring, producer):
    result = await deliver(redis, keyring, producer, "issues", "issues.opened")
    issue = result.emissions[0].payload
    assert (issue["number"], issue["state"], issue["author"]) == (347, "open", "monalisa")
    assert issue["labels"] == ["bug"]
    assert issue["repository"] == "octo-org/hello-world"


async def test_merged_pull_request_is_marked_merged(infra, redis, keyring, producer):
    result = await deliver(redis, keyring, producer, "pull_request", "pull_request.closed")
    pr = result.emissions[0].payload
    assert (pr["merged"], pr["head"], pr["base"]) == (True, "fix/safari-login", "main")


async def test_push_lists_its_commits(infra, redis, keyring, producer):
    result = await deliver(redis, keyring, producer, "push", "push")
    push = result.emissions[0].payload
    assert push["ref"] == "refs/heads/main"
    assert [c["sha"][:7] for c in push["commits"]] == ["0d1a26e"]


async def test_ping_is_a_known_ignored_event(infra, redis, keyring, producer):
    result = await deliver(redis, keyring, producer, "ping", "ping")
    assert result.emissions == []
    assert result.response is not None and result.response.body["known"] is True


def fake_github(issues: list[dict]) -> Litestar:
    """`GET /repos/{owner}/{repo}/issues` with `per_page` and `Link: <…>; rel="next"` paging."""
    seen: list[str] = []

    @get("/repos/octo-org/hello-world/issues", sync_to_thread=False)
    def list_issues(request: Request) -> Response:
        seen.append(str(request.url.query))
        if request.headers.get("authorization") != "Bearer github_pat_11ABCDEFG":
            return Response({"message": "Bad credentials"}, status_code=401)
        page = int(request.query_params.get("page", 1))
        since = request.query_params.get("since")
        ordered = [i for i in issues if not since or i["updated_at"] >= since]
        chunk = ordered[(page - 1) * 2 : page * 2]
        link = {}
        if page * 2 < len(ordered):
            base = f"https://{request.headers['host']}/repos/octo-org/hello-world/issues"
            link = {
                "link": f'<{base}?per_page=2&page={page + 1}>; rel="next", <{base}?page=9>; rel="last"'
            }
        return Response(chunk, headers=link)

    app = Litestar([list_issues])
    app.state.seen = seen
    return app


def issue(n: int, *, pull: bool = False) -> dict:
    item = {
        "id": 2326671900 + n,
        "number": n,
        "title": f"Issue {n}",
        "state": "open",
        "updated_at": f"2024-05-29T14:0{n}:00Z",
        "user": {"login": "monalisa"},
    }
    if pull:
        item["pull_request"] = {
            "url": f"https://api.github.com/repos/octo-org/hello-world/pulls/{n}"
        }
    return item


async def test_issues_stream_follows_link_next_and_skips_pull_requests(
    infra, redis, keyring, producer
):
    app = fake_github([issue(1), issue(2, pull=True), issue(3), issue(4)])
    async with serving(app) as provider:
        runtime = make_runtime(
            redis, keyring, producer, host_overrides={"api.github.com": provider}
        )
        version = await deploy_directory(redis, CONNECTORS / "github")
        snapshot = installation(
            version,
            keyring=keyring,
            secrets={"token": "github_pat_11ABCDEFG"},
            settings={"repository": "octo-org/hello-world"},
        )
        numbers, cursor, runs = [], None, 0
        while True:
            result = await runtime.invoke(call(snapshot, "stream", "issues", cursor=cursor))
            assert result.outcome == "ok", result.error
            numbers += [e.payload["number"] for e in result.emissions]
            cursor, runs = result.next_cursor, runs + 1
            if not result.has_more:
                break
        await runtime.close()
    assert (numbers, runs) == ([1, 3, 4], 2)
    assert "page=2" in app.state.seen[1]


async def test_link_to_another_host_is_denied(infra, redis, keyring, producer):
    runtime = make_runtime(redis, keyring, producer)
    snapshot = installation(
        await deploy_directory(redis, CONNECTORS / "github"),
        settings={"repository": "octo-org/hello-world"},
    )
    cursor = '{"next": "https://evil.example.com/repos/octo-org/hello-world/issues?page=2"}'
    result = await runtime.invoke(call(snapshot, "stream", "issues", cursor=cursor))
    await runtime.close()
    assert result.outcome == "denied"
