"""The console over plain HTTP: the session cookie, sign-in, and pages that survive a
downstream service being down."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from cli.embedded import free_port
from services.console.app import create_app
from services.console.settings import ConsoleSettings
from tests.console.conftest import Suite, token_of
from tests.harness import serving


async def sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """The sign-in form as a browser submits it (CSRF field from the page, cookie from GET)."""
    page = await client.get("/sign-in")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    return await client.post("/sign-in", data={"token": token, "_csrf_token": csrf.group(1)})


@asynccontextmanager
async def browser_like(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, follow_redirects=False, timeout=15) as client:
        yield client


async def test_the_token_lives_only_in_an_encrypted_httponly_lax_cookie(suite: Suite):
    token = token_of(suite.tenant.admin)
    async with browser_like(suite.console) as client:
        answer = await sign_in(client, token)
        assert (answer.status_code, answer.headers["location"]) == (303, "/extensions")
        cookie = next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith("backfill_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert token not in cookie
        page = await client.get("/extensions")
    assert page.status_code == 200 and "admin@example.com" in page.text
    assert token not in page.text


async def test_a_wrong_token_is_refused_and_a_signed_out_visit_goes_to_sign_in(suite: Suite):
    async with browser_like(suite.console) as client:
        refused = await sign_in(client, "bft_not_a_token")
        visit = await client.get("/installations/inst_x/versions")
    assert refused.status_code == 200 and "That token is not valid" in refused.text
    assert (visit.status_code, visit.headers["location"]) == (
        303,
        "/sign-in?next=/installations/inst_x/versions",
    )


async def test_pages_render_what_they_can_with_a_banner_when_services_are_down(suite: Suite):
    installed = await suite.api(
        "POST",
        "/v1/installations",
        json={"extension_key": "stripe", "connection_name": "banners"},
    )
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = ConsoleSettings(
        registry_url=suite.registry, ingress_url=down, sync_url=down, logs_url=down
    )
    async with (
        serving(create_app(settings, suite.infra.settings())) as console,
        browser_like(console) as client,
    ):
        await sign_in(client, token_of(suite.tenant.admin))
        listing = await client.get("/extensions")
        connection = await client.get(f"/installations/{installed['id']}/connection")
        audit = await client.get("/audit")
    assert listing.status_code == 200 and "banners" in listing.text
    assert "The logs service is not available right now" in listing.text
    assert connection.status_code == 200
    assert "The sync service is not available right now" in connection.text
    assert "Webhook ingress is not available right now" in connection.text
    assert audit.status_code == 200 and "The logs service is not available" in audit.text


async def test_a_members_forged_admin_action_is_refused_by_the_api_and_said_so(suite: Suite):
    installed = await suite.api(
        "POST",
        "/v1/installations",
        json={"extension_key": "stripe", "connection_name": "member-forges"},
    )
    async with browser_like(suite.console) as client:
        await sign_in(client, token_of(suite.tenant.member))
        settings_page = await client.get(f"/installations/{installed['id']}/settings")
        assert "/action/disable" not in settings_page.text  # the form is not even there
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', settings_page.text)
        assert csrf is not None
        forged = await client.post(
            f"/installations/{installed['id']}/action/disable",
            data={"_csrf_token": csrf.group(1)},
        )
        shown = await client.get(forged.headers["location"])
    assert "this action needs the admin role" in shown.text
    assert (await suite.api("GET", f"/v1/installations/{installed['id']}"))["state"] != "disabled"


@pytest.mark.parametrize(
    "target",
    ["/\\evil.example", "//evil.example", "https://evil.example/", "/\\/evil.example", "/%0a"],
)
async def test_sign_in_never_redirects_to_another_origin(suite: Suite, target: str):
    token = token_of(suite.tenant.admin)
    async with browser_like(suite.console) as client:
        page = await client.get("/sign-in", params={"next": target})
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        answer = await client.post(
            "/sign-in", data={"token": token, "_csrf_token": csrf.group(1), "next": target}
        )
    location = answer.headers["location"]
    assert location == "/extensions" or (location.startswith("/") and "\\" not in location)
    assert "evil.example" not in location


async def test_an_unknown_stream_action_is_404_not_a_server_error(suite: Suite):
    async with browser_like(suite.console) as client:
        await sign_in(client, token_of(suite.tenant.admin))
        page = await client.get("/extensions")
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        answer = await client.post(
            "/installations/inst_x/streams/customers/explode",
            data={"_csrf_token": csrf.group(1)},
        )
    assert answer.status_code == 404
