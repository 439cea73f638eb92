"""The console reads other services' answers with the Structs of `contracts.answers`.

Each service's OpenAPI document must answer, on the route the console calls, every field of
the Struct the console decodes with: a field renamed or retyped in a service's answer fails
here, before a page shows an empty table.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import msgspec
import pytest
from litestar import Litestar, Response, get
from litestar.params import FromPath

from contracts.answers.ingress import DeliveryPage, DeliverySummary, WebhookHealth
from contracts.answers.logs import (
    AuditPage,
    Destination,
    LogPage,
    ObservationReport,
    WorkspaceHealth,
)
from contracts.answers.registry import (
    CatalogEntry,
    Installation,
    InstallationVersions,
    Me,
    Member,
    OAuthStatusView,
    PermissionSet,
    UpgradeDiff,
)
from contracts.answers.sync import CursorHistory, StreamList
from contracts.compatibility import unreadable_fields
from services.base.errors import EXCEPTION_HANDLERS, Conflict
from services.base.settings import load
from services.console.downstream import Downstream, Failure
from services.console.service import ext_pages
from services.console.service import installation as tabs
from services.console.service.viewer import Viewer
from services.console.service.workspace import sign_in
from services.console.settings import ConsoleSettings
from tests.harness import logs_store_dir, serving

INSTALLATION = "/v1/installations/{installation_id}"
READS: list[tuple[str, str, Any]] = [
    ("ingress", f"{INSTALLATION}/deliveries", DeliveryPage),
    ("ingress", f"{INSTALLATION}/webhook-health", WebhookHealth),
    ("ingress", f"{INSTALLATION}/deliveries/{{delivery_id}}", DeliverySummary),
    ("logs", f"{INSTALLATION}/observation-report", ObservationReport),
    ("logs", f"{INSTALLATION}/logs", LogPage),
    ("logs", "/v1/audit", AuditPage),
    ("logs", "/v1/health", WorkspaceHealth),
    ("logs", "/v1/alerts/destinations", list[Destination]),
    ("registry", "/v1/me", Me),
    ("registry", "/v1/members", list[Member]),
    ("registry", "/v1/installations", list[Installation]),
    ("registry", INSTALLATION, Installation),
    ("registry", f"{INSTALLATION}/versions", InstallationVersions),
    ("registry", f"{INSTALLATION}/permissions", PermissionSet),
    ("registry", f"{INSTALLATION}/upgrade-diff", UpgradeDiff),
    ("registry", f"{INSTALLATION}/oauth", OAuthStatusView),
    ("registry", "/v1/catalog", list[CatalogEntry]),
    ("registry", "/v1/catalog/{key}", CatalogEntry),
    ("sync", f"{INSTALLATION}/streams", StreamList),
    ("sync", f"{INSTALLATION}/streams/{{stream}}/cursors", CursorHistory),
]


@pytest.fixture(scope="module")
def documents(infra) -> dict[str, dict[str, Any]]:
    """Each service's OpenAPI document, from its app as `create_app` builds it."""
    found = {}
    for service in sorted({service for service, _, _ in READS}):
        module = importlib.import_module(f"services.{service}.app")
        settings_module = importlib.import_module(f"services.{service}.settings")
        cls = next(v for k, v in vars(settings_module).items() if k.endswith("Settings"))
        environ = {"ANSWERS_DATA_DIR": logs_store_dir()} if service == "logs" else {}
        app: Litestar = module.create_app(load(cls, "ANSWERS_", environ), infra.settings())
        found[service] = app.openapi_schema.to_schema()
    return found


def answer_schema(document: dict[str, Any], path: str) -> dict[str, Any]:
    """The 200 answer of GET `path` with the document's components to resolve it in."""
    item = document["paths"].get(path) or document["paths"][path.rstrip("/") + "/"]
    schema = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


@pytest.mark.parametrize(("service", "path", "answer"), READS, ids=[r[1] for r in READS])
def test_each_answer_the_console_reads_is_what_the_service_answers(
    documents, service, path, answer
):
    reader = msgspec.json.schema(answer)
    assert unreadable_fields(reader, answer_schema(documents[service], path)) == []


@pytest.mark.parametrize(
    ("service", "path", "component", "field", "answer"),
    [
        ("logs", f"{INSTALLATION}/logs", "LogPage", "items", LogPage),
        ("registry", INSTALLATION, "Installation", "extension_key", Installation),
        ("registry", "/v1/me", "Member", "role", Me),
        ("registry", "/v1/catalog/{key}", "CatalogEntry", "settings_schema", CatalogEntry),
        (
            "registry",
            f"{INSTALLATION}/versions",
            "InstallationVersions",
            "history",
            InstallationVersions,
        ),
    ],
)
def test_a_field_renamed_in_a_service_answer_is_caught(
    documents, service, path, component, field, answer
):
    document = json.loads(json.dumps(documents[service]))
    properties = document["components"]["schemas"][component]["properties"]
    properties[f"{field}_renamed"] = properties.pop(field)
    writer = answer_schema(document, path)
    unreadable = unreadable_fields(msgspec.json.schema(answer), writer)
    assert any(f.split(".")[-1] == f"{field}: removed" for f in unreadable), unreadable


async def test_an_answer_that_does_not_decode_is_a_failure_naming_the_service_not_a_guess(http):
    @get("/v1/audit", sync_to_thread=False)
    def renamed() -> dict[str, Any]:
        return {"events": [], "next_cursor": None}  # `items` renamed: nothing to guess from

    async with serving(Litestar([renamed])) as url:
        downstream = Downstream(ConsoleSettings(logs_url=url))
        try:
            reply = await downstream.call("logs", "GET", "/v1/audit", "t", answer=AuditPage)
        finally:
            await downstream.close()
    assert reply.failure is not None and reply.failure.code == "bad_answer"
    assert "items" in reply.failure.message
    assert reply.failure.banner.startswith("The logs service is not available")


async def test_an_installation_with_a_renamed_field_is_a_registry_failure_not_an_empty_page(http):
    @get("/v1/installations/{installation_id:str}", sync_to_thread=False)
    def renamed(installation_id: FromPath[str]) -> dict[str, Any]:
        answer = msgspec.to_builtins(
            Installation(
                id=installation_id,
                extension_key="stripe",
                kind="connector",
                connection_name="default",
                state="active",
                revision=1,
                active=None,
                created_at=0.0,
                updated_at=0.0,
            )
        )
        answer["key"] = answer.pop("extension_key")  # renamed: the console must not guess
        return answer

    viewer = Viewer(token="t", role="admin", email="a@b.c", member_id="mem_a", workspace="ws")
    async with serving(Litestar([renamed])) as url:
        downstream = Downstream(ConsoleSettings(registry_url=url))
        try:
            context = await tabs.page(downstream, viewer, "ins_x", "settings")
        finally:
            await downstream.close()
    assert context["installation"] is None
    assert context["failure"].code == "bad_answer" and "extension_key" in context["failure"].message


async def test_a_sign_in_whose_member_answer_has_a_renamed_field_is_a_failure_not_a_crash(http):
    @get("/v1/me", sync_to_thread=False)
    def renamed() -> dict[str, Any]:
        member = {"id": "mem_a", "email": "a@b.c", "access": "admin", "created_at": 0.0}
        workspace = {"id": "ws_a", "slug": "a", "name": "A", "created_at": 0.0}
        return {"workspace": workspace, "member": member}  # `role` renamed `access`

    async with serving(Litestar([renamed])) as url:
        downstream = Downstream(ConsoleSettings(registry_url=url))
        try:
            viewer = await sign_in(downstream, "t")
        finally:
            await downstream.close()
    assert not isinstance(viewer, Viewer)
    assert viewer.code == "bad_answer" and "role" in viewer.message


async def test_a_page_answer_that_does_not_decode_is_a_failure_not_a_crash(http):
    @get("/v1/installations/{installation_id:str}/pages/{path:str}", sync_to_thread=False)
    def renamed(installation_id: FromPath[str], path: FromPath[str]) -> dict[str, Any]:
        return {"title": "Overview", "nodes": []}  # `tree` renamed

    async with serving(Litestar([renamed])) as url:
        downstream = Downstream(ConsoleSettings(ingress_url=url))
        try:
            view = await ext_pages.render_page(downstream, "t", "ins_x", "overview", {})
        finally:
            await downstream.close()
    assert isinstance(view, ext_pages.Failed) and view.status == 502


async def test_a_refusal_is_read_in_the_one_error_shape_and_another_shape_is_not_guessed(http):
    @get("/v1/members", sync_to_thread=False)
    def refused() -> None:
        raise Conflict("that email is taken", field="email", holder="mem_b")

    @get("/v1/catalog", sync_to_thread=False)
    def codeless() -> Response[dict[str, Any]]:
        return Response({"error": {"message": "no code named"}}, status_code=409)

    app = Litestar([refused, codeless], exception_handlers=EXCEPTION_HANDLERS)  # type: ignore[arg-type]
    async with serving(app) as url:
        downstream = Downstream(ConsoleSettings(registry_url=url))
        try:
            conflict = await downstream.call("registry", "GET", "/v1/members", "t")
            other = await downstream.call("registry", "GET", "/v1/catalog", "t")
        finally:
            await downstream.close()
    assert conflict.failure == Failure(
        service="registry",
        status=409,
        code="conflict",
        message="that email is taken",
        field="email",
        details={"holder": "mem_b"},
    )
    assert other.failure is not None
    assert (other.failure.code, other.failure.message) == ("failed", "HTTP 409")
