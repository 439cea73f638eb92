"""Draft deliveries: a `backfill dev` session's own webhook URL runs the draft version only.

`POST /hooks/<hook_id>/dev/<session_id>` is the URL `backfill dev` prints. It runs the
installation's draft version, and only when `session_id` is the session the draft was
deployed for (`draft_session_id` on the snapshot; compared in constant time): a provider
posting to the installation's real URL never reaches a draft, and a stale session's URL
stops working as soon as a newer session deploys. The signature is verified exactly as for
the real URL (same secret), so a draft never runs for an unauthenticated request. Draft
writes are intercepted by the runtime (would-writes on `ingest.observed.v1`, never
canonical); nothing is persisted for replay, deduplicated or added to the delivery history.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import msgspec

from contracts.ids import new_id
from runtime.interface import HttpRequest, Invoker
from runtime.invocations import new_invocation
from services.base.draft_access import reachable_draft
from services.base.errors import error_body
from services.base.snapshots import SnapshotView
from services.ingress.signatures import SignatureError
from services.ingress.signing_keys import SigningKeys


class DraftAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """What the dev session sees: the handler's answer plus what the draft would have done."""

    version_id: str
    invocation_id: str
    outcome: str
    status: int
    response: object = None
    would_write: int = 0
    error: str | None = None
    duration_ms: float = 0.0


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, msgspec.json.encode(error_body(code, message))


NO_DRAFT = _error(404, "not_found", "no draft for this dev session at this URL")


class DraftRunner:
    """Runs an installation's draft version for its dev session's deliveries."""

    def __init__(self, view: SnapshotView, keys: SigningKeys, invoker: Invoker) -> None:
        self.view = view
        self.keys = keys
        self.invoker = invoker

    async def receive(
        self, hook_id: str, session_id: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        """(status, JSON body): the draft's answer, 401 unsigned, 404 for any other session."""
        snapshot = self.view.by_hook_id(hook_id)
        if snapshot is None or snapshot.state in ("uninstalled", "disabled"):
            return NO_DRAFT
        draft = reachable_draft(snapshot, session_id)
        if draft is None:
            return NO_DRAFT
        webhooks = draft.manifest.webhooks
        if webhooks is None:
            return _error(404, "not_found", "the draft declares no webhook endpoint")
        try:
            self.keys.verify(snapshot, webhooks, body, headers, time.time())
        except SignatureError as error:
            return _error(401, "invalid_signature", f"the delivery did not authenticate: {error}")
        invocation = new_invocation(
            snapshot,
            draft,
            kind="webhook",
            entry=webhooks.endpoint,
            mode="draft",
            script_type="route",
            request=HttpRequest(
                method="POST", path=webhooks.endpoint, headers=dict(headers), body=body
            ),
            source_id=new_id("dlv"),
        )
        result = await self.invoker.invoke(invocation)
        response = result.response
        status = response.status if result.outcome == "ok" and response is not None else 500
        answer = DraftAnswer(
            version_id=draft.version_id,
            invocation_id=invocation.invocation_id,
            outcome=result.outcome,
            status=status,
            response=response.body if response is not None else None,
            would_write=result.observed,
            error=result.error,
            duration_ms=result.duration_ms,
        )
        return status, msgspec.json.encode(answer)
