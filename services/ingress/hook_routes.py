"""HTTP in for hooks: the core's before-write call and `backfill trigger hook`."""

from __future__ import annotations

from litestar import post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody

from contracts.entities import EntityWrite, WriteVerdict
from services.base.auth import Principal, require_internal_token
from services.ingress.before_write import BeforeWrite
from services.ingress.hook_trigger import HookTrigger, HookTriggers, TriggeredHook


def hook_routes(before_write: BeforeWrite, triggers: HookTriggers) -> list[HTTPRouteHandler]:
    """The before-write route (internal token) and the dev session's hook trigger."""

    @post(
        "/internal/workspaces/{workspace_id:str}/entities/{entity_type:str}/before-write",
        status_code=200,
        guards=[require_internal_token],
        summary="Backfill core: may this write happen, with what changes?",
    )
    async def before_write_call(
        workspace_id: FromPath[str], entity_type: FromPath[str], data: JSONBody[EntityWrite]
    ) -> WriteVerdict:
        """Every active before_* hook's verdict, merged (docs/http-api.md)."""
        return await before_write.decide(workspace_id, entity_type, data)

    @post(
        "/v1/installations/{installation_id:str}/hooks/trigger",
        status_code=200,
        summary="Run a dev session's draft hook on a given record",
    )
    async def trigger_hook(
        installation_id: FromPath[str],
        data: JSONBody[HookTrigger],
        principal: NamedDependency[Principal],
    ) -> TriggeredHook:
        """The draft hook's answer; its lines are in Logs under the returned invocation id."""
        return await triggers.trigger(
            principal.workspace_id, principal.member_id, installation_id, data
        )

    return [before_write_call, trigger_hook]
