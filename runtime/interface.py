"""The runtime's narrow interface: the only thing services call to run extension code
(ingress: webhooks, routes, hooks, pages; sync: streams, jobs, connection tests; the registry:
the deploy check's `validate`).

An `Invocation` names the installation (its snapshot), the pinned version, the mode and one
entry point; `Invoker.invoke` returns an `InvocationResult`. Nothing else crosses the
boundary: the services run extension code in locked-down worker processes
(`runtime.isolated.invoker.IsolatedRuntime`, the default) or, in development only, in their
own process (`runtime.runtime.InProcessRuntime`), and the callers cannot tell which.

Who publishes what: the runtime itself publishes every log line and denial to the extension
logs topic, and in observe/draft mode the would-be records to the observed topic. Records
of the *active* version are returned in `emissions`; the caller dedupes them by idempotency
key and publishes them to the canonical topic, because only the caller knows when its
response may promise durability.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import msgspec

from contracts.entities import Actor
from contracts.installations import InstallationSnapshot, VersionRef
from contracts.logs import ScriptType
from contracts.secrets import SecretEntry
from sdk.api import HttpRequest, HttpResponse

__all__ = [
    "Emission",
    "EntryKind",
    "HttpRequest",
    "HttpResponse",
    "Invocation",
    "InvocationResult",
    "Invoker",
    "Mode",
    "Outcome",
    "SecretOpener",
]

Mode = Literal["active", "observe", "draft"]
EntryKind = Literal[
    "webhook",
    "route",
    "stream",
    "test_connection",
    "hook",
    "job",
    "page",
    "page_action",
    "ui",
    "validate",
]
# ok: it ran to the end (a hook's refusal is ok too: its answer says so); error: the code
# raised or the bundle is unusable; denied: a capability it was not granted; timeout: past
# the time limit; not_found: the version has no file for the entry point.
Outcome = Literal["ok", "error", "denied", "timeout", "not_found"]


class Invocation(msgspec.Struct, frozen=True, kw_only=True):
    """One call into extension code, fully described.

    `version` is pinned by the caller at the start of its request: a cutover published
    while the invocation runs does not switch it. `entry` is the entry point, by `kind`: a
    webhook or route path (`/webhooks/stripe`), a stream or job name, a hook's script
    (`src/hooks/guard.py`), a page's path (`/overview`), a contribution's slot, or
    `test_connection` / `validate`. `mode`: `active` writes for real; `observe` and `draft`
    run the same code with every write intercepted.
    """

    invocation_id: str
    installation: InstallationSnapshot
    version: VersionRef
    mode: Mode = "active"
    kind: EntryKind
    script_type: ScriptType = "route"
    entry: str
    request: HttpRequest | None = None
    cursor: str | None = None
    source_id: str = ""
    settings_override: dict[str, Any] | None = None
    secrets_override: dict[str, str] | None = None  # test-connection of unsaved credentials
    # The `backfill dev` session a draft invocation belongs to; carried onto its log lines.
    session_id: str | None = None
    # Hooks, pages and page actions (contracts/entities.py, contracts/ui.py): who acts, the
    # hook event or the action name, and the input (hook: entity_type, entity_id, operation,
    # record, previous; action: the form's fields). Their answer travels as `response.body`.
    actor: Actor | None = None
    event: str | None = None
    input: dict[str, Any] | None = None


class Emission(msgspec.Struct, frozen=True, kw_only=True):
    """One record the code asked to ingest (`ingest.canonical(...)`)."""

    canonical_type: str
    payload: dict[str, Any]
    idempotency_key: str
    stream: str | None = None


class InvocationResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one invocation.

    `emissions` holds the active version's records (empty in observe/draft mode, where they
    were published as observed records instead; `observed` counts those). For streams,
    `next_cursor` and `has_more` describe the page. `error` is a one-line message; the
    traceback went to the logs topic.
    """

    invocation_id: str
    outcome: Outcome
    response: HttpResponse | None = None
    emissions: list[Emission] = []
    observed: int = 0
    next_cursor: str | None = None
    has_more: bool = False
    error: str | None = None
    duration_ms: float = 0.0
    # A draft's would-be records themselves (also published as observed records), so a
    # `backfill dev` dry run can show what the code produced: empty in the other modes.
    intercepted: list[Emission] = []


class SecretOpener(Protocol):
    """Opens a sealed secret of an installation; the service hands its keyring in.

    The runtime never holds key material of its own: the service that owns the keyring
    passes this in, and (isolated) extension code only ever sees values it was granted.
    """

    def open_secret(self, installation: InstallationSnapshot, entry: SecretEntry) -> str:
        """The plaintext of `entry`; raises when it does not authenticate."""
        ...


class Invoker(Protocol):
    """What the services depend on: `runtime.runtime.Runtime` and its subclasses
    (`IsolatedRuntime` in worker processes, the default; `InProcessRuntime` in this process)."""

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        """Run one entry point with capabilities bound to the installation."""
        ...
