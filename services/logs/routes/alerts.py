"""Alert destinations and rules: members read, admins write."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from services.base.auth import Principal
from services.logs.schemas import (
    Attempt,
    Destination,
    DestinationCreate,
    DestinationUpdate,
    DestinationWithSecret,
    Rule,
    RuleCreate,
)
from services.logs.service.alerts.admin import AlertAdmin


class AlertDestinationsController(Controller):
    """HTTPS URLs that receive alerts signed with Standard Webhooks."""

    path = "/v1/alerts/destinations"
    tags = ["alerts"]

    @post("/", status_code=201)
    async def create_destination(
        self,
        principal: NamedDependency[Principal],
        alerts: NamedDependency[AlertAdmin],
        data: JSONBody[DestinationCreate],
    ) -> DestinationWithSecret:
        """Admin. The answer holds the signing secret: the only time it is shown."""
        principal.require_admin()
        return await alerts.create_destination(principal.workspace_id, data)

    @get("/")
    async def list_destinations(
        self, principal: NamedDependency[Principal], alerts: NamedDependency[AlertAdmin]
    ) -> list[Destination]:
        """Every destination of the workspace."""
        return await alerts.list_destinations(principal.workspace_id)

    @get("/{destination_id:str}")
    async def get_destination(
        self,
        principal: NamedDependency[Principal],
        alerts: NamedDependency[AlertAdmin],
        destination_id: FromPath[str],
    ) -> Destination:
        """One destination (never its secret)."""
        return await alerts.get_destination(principal.workspace_id, destination_id)

    @patch("/{destination_id:str}")
    async def update_destination(
        self,
        principal: NamedDependency[Principal],
        alerts: NamedDependency[AlertAdmin],
        destination_id: FromPath[str],
        data: JSONBody[DestinationUpdate],
    ) -> Destination:
        """Admin. Change URL or description; `enabled: true` re-enables a disabled one."""
        principal.require_admin()
        return await alerts.update_destination(principal.workspace_id, destination_id, data)

    @delete("/{destination_id:str}")
    async def delete_destination(
        self,
        principal: NamedDependency[Principal],
        alerts: NamedDependency[AlertAdmin],
        destination_id: FromPath[str],
    ) -> None:
        """Admin."""
        principal.require_admin()
        await alerts.delete_destination(principal.workspace_id, destination_id)

    @post("/{destination_id:str}/rotate-secret", status_code=200)
    async def rotate_secret(
        self,
        principal: NamedDependency[Principal],
        alerts: NamedDependency[AlertAdmin],
        destination_id: FromPath[str],
    ) -> DestinationWithSecret:
        """Admin. New secret (shown once); the old one keeps signing during the overlap."""
        principal.require_admin()
        return await alerts.rotate_secret(principal.workspace_id, destination_id)

    @post("/{destination_id:str}/test", status_code=200)
    async def send_test(
        self,
        principal: NamedDependency[Principal],
        alerts: NamedDependency[AlertAdmin],
        destination_id: FromPath[str],
    ) -> Attempt:
        """Admin. One signed `alert.test` POST now; the attempt it made."""
        principal.require_admin()
        return await alerts.send_test(principal.workspace_id, destination_id)

    @get("/{destination_id:str}/attempts")
    async def attempts(
        self,
        principal: NamedDependency[Principal],
        alerts: NamedDependency[AlertAdmin],
        destination_id: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[Attempt]:
        """Every delivery attempt, newest first."""
        return await alerts.attempts(principal.workspace_id, destination_id, limit)


class AlertRulesController(Controller):
    """What fires an alert, and where it goes."""

    path = "/v1/alerts/rules"
    tags = ["alerts"]

    @post("/", status_code=201)
    async def create_rule(
        self,
        principal: NamedDependency[Principal],
        alerts: NamedDependency[AlertAdmin],
        data: JSONBody[RuleCreate],
    ) -> Rule:
        """Admin. Fires at most once per `window_s`."""
        principal.require_admin()
        return await alerts.create_rule(principal.workspace_id, data)

    @get("/")
    async def list_rules(
        self, principal: NamedDependency[Principal], alerts: NamedDependency[AlertAdmin]
    ) -> list[Rule]:
        """Every rule of the workspace."""
        return await alerts.list_rules(principal.workspace_id)

    @delete("/{rule_id:str}")
    async def delete_rule(
        self,
        principal: NamedDependency[Principal],
        alerts: NamedDependency[AlertAdmin],
        rule_id: FromPath[str],
    ) -> None:
        """Admin."""
        principal.require_admin()
        await alerts.delete_rule(principal.workspace_id, rule_id)
