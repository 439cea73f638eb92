"""HTTP in: API keys of an installation's routes (admin, audited; the secret shown once)."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from contracts.routes import ApiKey, ApiKeyIssued
from services.base.auth import Principal
from services.registry.schemas import ApiKeyCreate, ApiKeyRotate
from services.registry.service.api_keys import ApiKeyService


class ApiKeyController(Controller):
    """`/v1/installations/{id}/api-keys`: bearer keys of the installation's `api_key` routes."""

    path = "/v1/installations/{installation_id:str}/api-keys"
    tags = ["api keys"]

    @get("/")
    async def list_api_keys(
        self,
        principal: NamedDependency[Principal],
        api_keys: NamedDependency[ApiKeyService],
        installation_id: FromPath[str],
    ) -> list[ApiKey]:
        """Keys listed by prefix (never the key), revoked ones marked."""
        return await api_keys.list_keys(principal, installation_id)

    @post("/", status_code=201)
    async def create_api_key(
        self,
        principal: NamedDependency[Principal],
        api_keys: NamedDependency[ApiKeyService],
        installation_id: FromPath[str],
        data: JSONBody[ApiKeyCreate],
    ) -> ApiKeyIssued:
        """A new key: the only answer that shows its secret."""
        return await api_keys.create(principal, installation_id, data.name)

    @post("/{key_id:str}/rotate", status_code=201)
    async def rotate_api_key(
        self,
        principal: NamedDependency[Principal],
        api_keys: NamedDependency[ApiKeyService],
        installation_id: FromPath[str],
        key_id: FromPath[str],
        data: JSONBody[ApiKeyRotate | None] = None,
    ) -> ApiKeyIssued:
        """A replacement key; the old one keeps working `overlap_seconds` (default 0)."""
        overlap = data.overlap_seconds if data else 0
        return await api_keys.rotate(principal, installation_id, key_id, overlap)

    @delete("/{key_id:str}", status_code=200)
    async def revoke_api_key(
        self,
        principal: NamedDependency[Principal],
        api_keys: NamedDependency[ApiKeyService],
        installation_id: FromPath[str],
        key_id: FromPath[str],
    ) -> ApiKey:
        """Revoke at once: the next call with it is 401."""
        return await api_keys.revoke(principal, installation_id, key_id)
