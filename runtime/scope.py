"""The capabilities of one invocation, enforcing exactly what the manifest grants.

Every refusal raises `PermissionDenied` into the extension code and is recorded as a
`denial` log line first, so catching it cannot hide it. Log lines, emissions and observed
records are collected here; the runtime publishes them (awaiting acks) before `invoke`
returns. Secret values opened in this scope are redacted from every log line it records.

Bounds, whatever the code does: at most `max_lines` lines per invocation, every kind counted
(denials and errors too), then one `platform` line saying so and nothing more; each message
cut at `MAX_MESSAGE_CHARS`, entity and event at `MAX_FIELD_CHARS`, attributes above
`MAX_ATTRS_BYTES` replaced by a marker; at most `max_records` records ingested (the next one
is denied: a denial line, `PermissionDenied` in the code).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from contracts.entities import field_problems
from contracts.ids import new_id
from contracts.installations import InstallationSnapshot
from contracts.logs import ExtensionLogLine, LogKind, LogLevel
from contracts.manifest import EntityDefinition, Manifest
from contracts.records import ObservedRecord, RecordSource
from runtime.interface import Emission, Invocation, SecretOpener
from runtime.outbound import Answer, OutboundHttp
from runtime.secret_reads import SecretReadAudit
from sdk.errors import PermissionDenied

_SOURCES: dict[str, RecordSource] = {"webhook": "webhook", "stream": "stream"}
MAX_LINES = 1_000
MAX_RECORDS = 10_000
MAX_MESSAGE_CHARS = 8_192
MAX_FIELD_CHARS = 256
MAX_ATTRS_BYTES = 16_384


class InvocationScope:
    """One invocation's bound capabilities and everything it produced."""

    def __init__(
        self,
        *,
        invocation: Invocation,
        manifest: Manifest,
        keyring: SecretOpener,
        outbound: OutboundHttp,
        script_name: str,
        secret_reads: SecretReadAudit | None = None,
        max_lines: int = MAX_LINES,
        max_records: int = MAX_RECORDS,
        definitions: Mapping[str, EntityDefinition] | None = None,
    ) -> None:
        self.invocation = invocation
        self.installation: InstallationSnapshot = invocation.installation
        self.manifest = manifest
        self.writable = manifest.writable_entities()  # checked once per record
        self.keyring = keyring
        self.outbound = outbound
        self.script_name = script_name
        self.secret_reads = secret_reads
        self.lines: list[ExtensionLogLine] = []
        self.emissions: list[Emission] = []
        self.observed: list[ObservedRecord] = []
        self.entity: str | None = None
        self.event: str | None = invocation.event
        self.closed = False
        self.max_lines = max_lines
        self.max_records = max_records
        self.dropped_lines = 0
        self._opened: set[str] = set()
        self._settings = _settings_of(invocation, manifest)
        # The workspace's `define_entity` types (the caller's view), else this version's own.
        self.definitions = definitions or {d.name: d for d in manifest.entities}

    # -- capabilities ---------------------------------------------------------------------

    @property
    def settings(self) -> Mapping[str, Any]:
        """Settings of the installation (or the unsaved ones under test), defaults filled in."""
        return self._settings

    def log(self, level: LogLevel, message: str, attrs: dict[str, Any]) -> None:
        """Record one line of the extension's own logging."""
        self.record(level, message, attrs=attrs)

    def annotate(self, **fields: str | None) -> None:
        """Set `entity` / `event` for the lines that follow."""
        if "entity" in fields:
            self.entity = fields["entity"]
        if "event" in fields:
            self.event = fields["event"]

    def secret(self, name: str) -> str | None:
        """Plaintext of a declared secret (None when unset)."""
        self._check_open()
        if name not in self.manifest.permissions.secrets:
            self.deny("secret", name, "not declared in permissions.secrets")
        if self.secret_reads is not None:
            self.secret_reads.saw(
                self.installation,
                version_id=self.invocation.version.version_id,
                mode=self.invocation.mode,
                script_name=self.script_name,
                secret_name=name,
            )
        override = self.invocation.secrets_override
        if override is not None and name in override:
            value: str | None = override[name]
        else:
            entry = self.installation.secrets.get(name)
            if entry is None:
                return None
            try:
                value = self.keyring.open_secret(self.installation, entry)
            except Exception as error:  # whatever the opener raises, the line says which secret
                self.record("error", f"secret {name!r} could not be opened: {error}", kind="error")
                raise
        if value:
            self._opened.add(value)
        return value

    def ingest(
        self, canonical_type: str, payload: dict[str, Any], stream: str | None, key: str
    ) -> dict[str, Any]:
        """Accept one record (active), or intercept it as would-be work (observe/draft)."""
        self._check_open()
        if canonical_type not in self.writable:
            self.deny("ingest", canonical_type, "entity type is not declared writable")
        if canonical_type in self.installation.write_protected_entities:
            self.deny("ingest", canonical_type, "entity type is write-protected in this workspace")
        if len(self.emissions) + len(self.observed) >= self.max_records:
            self.deny("ingest", canonical_type, f"record limit of {self.max_records} reached")
        payload = msgspec.to_builtins(payload, str_keys=True)
        for problem in field_problems(self.definitions.get(canonical_type), payload)[:1]:
            reason = f"field {problem.field!r} {problem.message} (define_entity)"
            self.deny("ingest", canonical_type, reason)
        mode = self.invocation.mode
        if mode == "active":
            self.emissions.append(
                Emission(
                    canonical_type=canonical_type,
                    payload=payload,
                    idempotency_key=key,
                    stream=stream,
                )
            )
            return {"idempotency_key": key, "status": "accepted"}
        self.observed.append(
            ObservedRecord(
                idempotency_key=key,
                workspace_id=self.installation.workspace_id,
                installation_id=self.installation.installation_id,
                extension_key=self.installation.extension_key,
                version_id=self.invocation.version.version_id,
                mode=mode,
                canonical_type=canonical_type,
                stream=stream,
                payload=payload,
                source=_SOURCES.get(self.invocation.kind, "route"),
                source_id=self.invocation.source_id,
                emitted_at=time.time(),
            )
        )
        self.record(
            "info",
            f"would write {canonical_type} {key}",
            kind="would_write",
            entity=canonical_type,
            attrs={"idempotency_key": key, "stream": stream, "mode": mode},
        )
        return {"idempotency_key": key, "status": "observed"}

    async def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        """An HTTPS request to a declared host, retried on 429/5xx."""
        return (await self.fetch(method, url, options)).response()

    async def fetch(self, method: str, url: str, options: dict[str, Any]) -> Answer:
        """`request`'s answer as it came (status, headers, decoded body)."""
        self._check_open()
        target, refusal = await self.outbound.check(url, self.manifest.permissions.http)
        if refusal is not None:
            self.deny("http", refusal[0], refusal[1])
        assert target is not None
        return await self.outbound.send(method, url, target, options)

    # -- recording ------------------------------------------------------------------------

    def deny(self, capability: str, target: str, reason: str) -> None:
        """Log the refusal, then raise it into the extension code."""
        self.record(
            "warn",
            f"denied {capability} {target!r}: {reason}",
            kind="denial",
            entity=target if capability == "ingest" else None,
            attrs={"capability": capability, "target": target, "reason": reason},
        )
        raise PermissionDenied(capability, target, reason)

    def record(
        self,
        level: LogLevel,
        message: str,
        *,
        kind: LogKind = "log",
        entity: str | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        """Append one log line carrying the invocation's full context (within the bounds)."""
        if len(self.lines) >= self.max_lines:
            self.dropped_lines += 1
            if self.dropped_lines == 1:
                self._append(
                    "warn",
                    f"log line limit of {self.max_lines} per invocation reached: "
                    "further lines dropped",
                    "platform",
                    None,
                    {},
                )
            return
        clean = msgspec.to_builtins(attrs or {}, str_keys=True, enc_hook=repr)
        message, clean = self._redact(str(message), clean)
        message = message[:MAX_MESSAGE_CHARS]  # after redaction: no half secret survives
        if len(msgspec.json.encode(clean)) > MAX_ATTRS_BYTES:
            clean = {"truncated": f"attributes above {MAX_ATTRS_BYTES} bytes were dropped"}
        self._append(level, message, kind, entity, clean)

    def _append(
        self,
        level: LogLevel,
        message: str,
        kind: LogKind,
        entity: str | None,
        clean: dict[str, Any],
    ) -> None:
        invocation = self.invocation
        entity = entity or self.entity
        self.lines.append(
            ExtensionLogLine(
                log_id=new_id("log"),
                at=time.time(),
                level=level,
                message=message,
                kind=kind,
                workspace_id=self.installation.workspace_id,
                installation_id=self.installation.installation_id,
                extension_key=self.installation.extension_key,
                version_id=invocation.version.version_id,
                invocation_id=invocation.invocation_id,
                script_type=script_type_of(invocation),
                script_name=self.script_name,
                entity=entity[:MAX_FIELD_CHARS] if entity else None,
                event=self.event[:MAX_FIELD_CHARS] if self.event else None,
                route=invocation.entry if invocation.kind in ROUTED_KINDS else None,
                job=invocation.entry if invocation.kind in ("stream", "job") else None,
                attrs=clean,
                mode=invocation.mode,
                session_id=invocation.session_id
                or (self.installation.draft_session_id if invocation.mode == "draft" else None),
            )
        )

    def redact(self, text: str | None) -> str | None:
        """`text` with every secret value this invocation opened (or was handed) replaced.

        Error messages leave the runtime in `InvocationResult.error` (stream status, draft
        answers); they are built from the extension's exceptions and may quote a secret.
        """
        if not text:
            return text
        for value in self._opened | self._handed():
            text = text.replace(value, "[redacted]")
        return text

    def _handed(self) -> set[str]:
        # Unsaved credentials under test: redacted even if the code never asked for them.
        override = self.invocation.secrets_override or {}
        return {value for value in override.values() if value}

    def _redact(self, message: str, attrs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        secrets = self._opened | self._handed()
        if not secrets:
            return message, attrs
        encoded = msgspec.json.encode(attrs).decode()
        for value in secrets:
            message = message.replace(value, "[redacted]")
            encoded = encoded.replace(msgspec.json.encode(value).decode()[1:-1], "[redacted]")
        return message, msgspec.json.decode(encoded)

    def _check_open(self) -> None:
        # Code that outlived its time limit must not act on the finished invocation.
        if self.closed:
            raise RuntimeError("this invocation has ended (time limit reached)")


# Kinds whose log lines carry `route`: webhooks and API routes (the route path), pages,
# page actions and UI contributions (the page path; `event` is `render` or the action).
ROUTED_KINDS = ("webhook", "route", "page", "page_action", "ui")


def script_type_of(invocation: Invocation) -> Any:
    """Streams are jobs in the Logs tab unless the caller said otherwise."""
    if invocation.kind in ("stream", "job") and invocation.script_type == "route":
        return "job"
    if invocation.kind == "hook" and invocation.script_type == "route":
        return "hook"
    return invocation.script_type


def _settings_of(invocation: Invocation, manifest: Manifest) -> dict[str, Any]:
    values = {
        name: prop.default
        for name, prop in manifest.settings_schema.properties.items()
        if prop.default is not None and not prop.secret
    }
    given = invocation.settings_override
    values.update(invocation.installation.settings if given is None else given)
    return values
