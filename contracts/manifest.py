"""The extension manifest: what an extension or connector is, needs and may do.

A manifest is authored as JSON (camelCase keys, as in Backfill's TypeScript SDK) or built in
Python with the SDK. `parse_manifest` is the only way in: it decodes strictly (unknown keys
are errors) and then checks the rules a schema cannot express. Every error names its field.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

from contracts.manifest_rules import (
    ManifestError,
    _field_of,
    _require,
    check_scripts,
)

KEY_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"
SECRET_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
HOST_PATTERN = re.compile(
    r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^localhost$"
)
ENTITY_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"

SettingType = Literal["string", "integer", "number", "boolean"]
SettingFormat = Literal["uri", "email", "hostname", "regex"]
ConnectorAuth = Literal[
    "stripe_signature", "standard_webhooks", "shopify_hmac", "github_sha256", "slack_v0"
]
RouteAuth = Literal["api_key", "public"]
HookEvent = Literal["before_save", "before_delete", "after_save", "after_delete"]
TRANSACTIONAL_EVENTS: frozenset[str] = frozenset({"before_save", "before_delete"})
HookFailure = Literal["fail_closed", "fail_open"]
MemberRole = Literal["member", "admin"]
# The console places an extension's UI contributions may target (docs/extensions.md).
UISlot = Literal["installation.overview.panel", "installed.row.action", "installed.list.column"]


class _Spec(msgspec.Struct, frozen=True, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """Manifest parts: strict (a typo is an error, not a silently ignored key)."""


class EntityAccess(_Spec, frozen=True, kw_only=True):
    """Access to one entity type; `write` implies read."""

    type: str = msgspec.field(name="type")
    access: Literal["read", "write"] = "read"


class Permissions(_Spec, frozen=True, kw_only=True):
    """Everything the extension's code may reach. Nothing else is allowed."""

    entities: list[EntityAccess] = []
    http: list[str] = []
    secrets: list[str] = []


class SettingProperty(_Spec, frozen=True, kw_only=True):
    """One field of a settings form."""

    type: SettingType = "string"
    title: str = ""
    description: str = ""
    default: Any = None
    enum: list[Any] | None = None
    format: SettingFormat | None = None
    secret: bool = False
    minimum: float | None = None
    maximum: float | None = None


class SettingsSchema(_Spec, frozen=True, kw_only=True):
    """A flat JSON-Schema-like object: the form the console renders and the API validates."""

    properties: dict[str, SettingProperty] = {}
    required: list[str] = []


class Connection(_Spec, frozen=True, kw_only=True):
    """Connector connection setup: its settings form and whether it can test credentials."""

    settings_schema: SettingsSchema = SettingsSchema()
    test_connection: bool = False


class Webhooks(_Spec, frozen=True, kw_only=True):
    """The single signed webhook endpoint of a connector (or a plain route of an extension)."""

    endpoint: str
    auth: ConnectorAuth | RouteAuth
    secret: str = "webhook_secret"


class Stream(_Spec, frozen=True, kw_only=True):
    """A polled stream: a `fetch(ctx, cursor)` entry point run on a schedule."""

    name: str
    canonical_type: str
    entry: str
    every_seconds: int = 300


class Job(_Spec, frozen=True, kw_only=True):
    """A scheduled script: `entry` exports `run(ctx)`, called every `everySeconds`."""

    name: str
    entry: str
    every_seconds: int = 3600


class OAuth(_Spec, frozen=True, kw_only=True):
    """An OAuth2 authorization-code connection (PKCE) managed by the platform."""

    authorize_url: str
    token_url: str
    scopes: list[str] = []
    client_id_setting: str = "client_id"
    client_secret: str = "client_secret"


class Hook(_Spec, frozen=True, kw_only=True):
    """Code run on writes of one entity type: `entry` exports one function per event.

    `before_save` / `before_delete` are transactional: Backfill's core waits for them (ingress
    runs them) and the writer sees their validation errors. `after_save` / `after_delete` run
    in the background (sync, fed by `entities.changes.v1`). `onError` says what a crash or a
    timeout of a transactional hook does to the write: `fail_closed` (the default) refuses it,
    `fail_open` lets it through; either way the error is in Logs. `timeoutMs` bounds one call.
    """

    entity: str
    events: list[HookEvent]
    entry: str
    name: str = ""
    on_error: HookFailure = "fail_closed"
    timeout_ms: int = 1000
    priority: int = 100

    @property
    def hook_name(self) -> str:
        """What Logs calls this hook: `name`, else the entry file's stem."""
        return self.name or self.entry.rsplit("/", 1)[-1].removesuffix(".py")


class PageAction(_Spec, frozen=True, kw_only=True):
    """A button or form on a page: the page's entry exports `actions[name]`; `role` gates it."""

    name: str
    role: MemberRole = "member"


class Page(_Spec, frozen=True, kw_only=True):
    """A page the extension adds: `entry` exports `render(ctx)` returning a component tree.

    `path` is one URL segment under the installation; `nav` lists it in the console's
    navigation; `role` is the least role that may see it; `actions` the page actions it runs.
    """

    path: str
    title: str
    entry: str = ""
    nav: bool = False
    role: MemberRole = "member"
    actions: list[PageAction] = []

    @property
    def segment(self) -> str:
        """The page's URL segment under its installation (`path` without a leading slash)."""
        return self.path.strip("/")

    @property
    def entry_file(self) -> str:
        """The bundle file that renders it: `entry`, else `src/pages/<segment>.py`."""
        return self.entry or f"src/pages/{self.segment}.py"


class UIContribution(_Spec, frozen=True, kw_only=True):
    """A component tree the extension places in a named console slot.

    `entry` exports `render(ctx)` (the same component set as pages); `page` optionally links
    the contribution to one of the extension's pages; `role` gates it like a page.
    """

    slot: UISlot
    title: str
    entry: str = ""
    page: str = ""
    action: str = ""
    role: MemberRole = "member"


class EntityField(_Spec, frozen=True, kw_only=True):
    """One field of a custom entity type."""

    name: str
    type: Literal["string", "integer", "number", "boolean", "datetime", "json"] = "string"
    required: bool = False


class EntityDefinition(_Spec, frozen=True, kw_only=True):
    """A custom entity type the extension defines (`define_entity`)."""

    name: str
    fields: list[EntityField] = []


class Manifest(_Spec, frozen=True, kw_only=True):
    """What one version of an extension or connector is, needs and may do."""

    key: str
    kind: Literal["extension", "connector"]
    name: str
    version: str
    description: str = ""
    permissions: Permissions = Permissions()
    pages: list[Page] = []
    ui: list[UIContribution] = []
    config: SettingsSchema | None = None
    connection: Connection | None = None
    webhooks: Webhooks | None = None
    streams: list[Stream] = []
    jobs: list[Job] = []
    oauth: OAuth | None = None
    entities: list[EntityDefinition] = []
    hooks: list[Hook] = []

    @property
    def settings_schema(self) -> SettingsSchema:
        """The form this install is configured with: `connection.settingsSchema` or `config`."""
        if self.connection is not None:
            return self.connection.settings_schema
        return self.config or SettingsSchema()

    def writable_entities(self) -> frozenset[str]:
        """Entity types the code may write: declared with write access or defined here."""
        granted = {e.type for e in self.permissions.entities if e.access == "write"}
        return frozenset(granted | {d.name for d in self.entities})

    def readable_entities(self) -> frozenset[str]:
        """Entity types the code may read."""
        return frozenset({e.type for e in self.permissions.entities}) | self.writable_entities()


def parse_manifest(data: bytes | str | dict[str, Any]) -> Manifest:
    """Decode and check a manifest; raise ManifestError naming the first offending field."""
    try:
        if isinstance(data, dict):
            manifest = msgspec.convert(data, Manifest)
        else:
            manifest = msgspec.json.decode(data, type=Manifest)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        field, message = _field_of(error)
        raise ManifestError(field, message) from None
    check_manifest(manifest)
    return manifest


def manifest_to_json(manifest: Manifest) -> bytes:
    """The canonical JSON of a manifest (camelCase, sorted keys): stable for digests."""
    return msgspec.json.encode(msgspec.to_builtins(manifest), order="sorted")


def check_manifest(m: Manifest) -> None:
    """The rules a schema cannot express; raise ManifestError naming the field."""
    _require(re.match(KEY_PATTERN, m.key) is not None, "key", f"must match {KEY_PATTERN}")
    _require(bool(m.version.strip()), "version", "must not be empty")
    for i, host in enumerate(m.permissions.http):
        _require(
            HOST_PATTERN.match(host) is not None,
            f"permissions.http[{i}]",
            f"{host!r} is not a bare host name (no scheme, port or path)",
        )
    for i, name in enumerate(m.permissions.secrets):
        _require(
            re.match(SECRET_NAME_PATTERN, name) is not None,
            f"permissions.secrets[{i}]",
            f"{name!r} must match {SECRET_NAME_PATTERN}",
        )
    for i, ent in enumerate(m.permissions.entities):
        _require(
            re.match(ENTITY_PATTERN, ent.type) is not None,
            f"permissions.entities[{i}].type",
            f"{ent.type!r} must match {ENTITY_PATTERN}",
        )
    _check_schema(m.settings_schema, "connection.settingsSchema" if m.connection else "config")
    if m.kind == "extension":
        _require(m.connection is None, "connection", "only connectors declare a connection")
        _require(not m.streams, "streams", "only connectors declare streams")
        _require(m.oauth is None, "oauth", "only connectors declare oauth")
        if m.webhooks is not None:
            _require(
                m.webhooks.auth in ("api_key", "public"),
                "webhooks.auth",
                "signature schemes are for connectors; extensions use api_key or public",
            )
    if m.webhooks is not None:
        _require(
            m.webhooks.endpoint.startswith("/") and ".." not in m.webhooks.endpoint,
            "webhooks.endpoint",
            "must be an absolute path such as /webhooks/stripe",
        )
    seen: set[str] = set()
    for i, stream in enumerate(m.streams):
        _require(stream.name not in seen, f"streams[{i}].name", "duplicate stream name")
        seen.add(stream.name)
        _require(stream.every_seconds >= 1, f"streams[{i}].everySeconds", "must be at least 1")
    jobs: set[str] = set()
    for i, job in enumerate(m.jobs):
        _require(job.name not in jobs | seen, f"jobs[{i}].name", "duplicate stream or job name")
        jobs.add(job.name)
        _require(job.every_seconds >= 1, f"jobs[{i}].everySeconds", "must be at least 1")
        _require(".." not in job.entry.split("/"), f"jobs[{i}].entry", "must stay in the bundle")
    check_scripts(m)
    for i, definition in enumerate(m.entities):
        _require(
            re.match(ENTITY_PATTERN, definition.name) is not None,
            f"entities[{i}].name",
            f"{definition.name!r} must match {ENTITY_PATTERN}",
        )


def _check_schema(schema: SettingsSchema, where: str) -> None:
    for i, name in enumerate(schema.required):
        _require(
            name in schema.properties,
            f"{where}.required[{i}]",
            f"{name!r} is not a declared property",
        )
    for name, prop in schema.properties.items():
        if prop.enum is not None:
            _require(bool(prop.enum), f"{where}.properties.{name}.enum", "must not be empty")
        if prop.secret:
            _require(
                prop.type == "string",
                f"{where}.properties.{name}.type",
                "secret fields are strings",
            )
