"""Admin actions: each one downstream call, its success sentence, and the refusal as is.

The console decides nothing an API does not also enforce: members never see these actions,
and the services answer 403 if a member calls them anyway.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec

from contracts.answers.ingress import ReplayBatch
from contracts.answers.logs import DestinationWithSecret
from contracts.answers.registry import ConnectionTest
from services.console.downstream import Downstream, Failure
from services.console.service.viewer import Viewer


class Done(msgspec.Struct, frozen=True, kw_only=True):
    """What happened, as the flash message the next page shows."""

    ok: bool
    message: str
    failure: Failure | None = None
    data: Any = None
    keep_form: bool = False  # answer with the submitted form again (Test connection)


# name → (service, method, path under the installation or absolute, success sentence)
ACTIONS: dict[str, tuple[str, str, str, str]] = {
    "disable": ("registry", "POST", "{i}/disable", "Disabled: hooks, jobs and routes stopped."),
    "enable": ("registry", "POST", "{i}/enable", "Enabled: the installation runs again."),
    "uninstall": ("registry", "DELETE", "{i}", "Uninstalled."),
    "rollback": ("registry", "POST", "{i}/rollback", "Rolled back to {to}."),
    "upgrade": ("registry", "POST", "{i}/upgrade", "Upgraded."),
    "promote": ("registry", "POST", "{i}/promote", "Promoted the observation version to active."),
    "put_secret": ("registry", "PUT", "{i}/secrets/{name}", "Secret {name} saved."),
    "revoke_secret": ("registry", "DELETE", "{i}/secrets/{name}", "Secret {name} revoked."),
    "rotate_webhook": ("registry", "POST", "{i}/webhook/rotate", "New webhook URL issued."),
    "retest": ("registry", "POST", "{i}/test-connection", ""),
    "replay": ("ingress", "POST", "{i}/deliveries/{delivery_id}/replay", "Delivery replayed."),
    "replay_range": ("ingress", "POST", "{i}/deliveries/replay", "Replayed {count} {deliveries}."),
    "run_stream": ("sync", "POST", "{i}/streams/{stream}/run", "Sync of {stream} started."),
    "reset_stream": ("sync", "POST", "{i}/streams/{stream}/reset", "Cursor of {stream} reset."),
    "restore_cursor": (
        "sync",
        "POST",
        "{i}/streams/{stream}/cursors/{entry_id}/restore",
        "Cursor of {stream} restored.",
    ),
    "add_destination": ("logs", "POST", "/v1/alerts/destinations", "Alert destination added."),
    "delete_destination": ("logs", "DELETE", "/v1/alerts/destinations/{id}", "Removed."),
    "test_destination": ("logs", "POST", "/v1/alerts/destinations/{id}/test", "Test alert sent."),
    "add_member": ("registry", "POST", "/v1/members", "{email} added."),
}
# The answers an action reads (the others are only checked for success).
ANSWERS: dict[str, type[Any]] = {
    "retest": ConnectionTest,
    "replay_range": ReplayBatch,
    "add_destination": DestinationWithSecret,
}


async def run(
    downstream: Downstream,
    viewer: Viewer,
    action: str,
    installation_id: str = "",
    body: Any = None,
    **params: str,
) -> Done:
    """Call the action's route; the success sentence, or the service's own message."""
    if action not in ACTIONS:
        return Done(ok=False, message=f"Unknown action {action!r}.")
    service, method, path, sentence = ACTIONS[action]
    # Every value is one path segment: `..` or `/` in a form field cannot reach another route.
    segments = {name: quote(value, safe="") for name, value in params.items()}
    path = path.format(i=f"/v1/installations/{quote(installation_id, safe='')}", **segments)
    reply = await downstream.call(
        service,  # type: ignore[arg-type]
        method,
        path,
        viewer.token,
        json=body,
        answer=ANSWERS.get(action),
    )
    if reply.failure is not None:
        return Done(ok=False, message=reply.failure.banner, failure=reply.failure)
    if isinstance(reply.data, ConnectionTest):
        ok, verdict = (
            reply.data.ok,
            reply.data.message or ("connected" if reply.data.ok else "failed"),
        )
        return Done(
            ok=ok, message=f"Connection {'OK' if ok else 'test failed'}: {verdict}", data=reply.data
        )
    count = len(reply.data.results) if isinstance(reply.data, ReplayBatch) else 0
    noun = "delivery" if count == 1 else "deliveries"
    message = sentence.format(count=count, deliveries=noun, **params)
    return Done(ok=True, message=message, data=reply.data)


INSTALLATION_ACTIONS = frozenset(
    {"disable", "enable", "uninstall", "rollback", "upgrade", "promote", "rotate_webhook", "retest"}
)


def body_of(name: str, form: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON body an installation action sends, from its form."""
    approve = form.get("approve") in ("on", "true", "1")
    if name == "rollback":
        return {"to": str(form.get("to") or ""), "approve_permissions": approve}
    if name in ("upgrade", "promote"):
        return {"approve_permissions": approve}
    return None


def params_of(form: dict[str, Any]) -> dict[str, str]:
    """Path and message parameters an installation action may take from its form."""
    return {"to": str(form.get("label") or form.get("to") or "")}


def after(name: str, installation_id: str, done: Done, form: dict[str, Any]) -> str:
    """Where the browser goes after an installation action."""
    base = f"/installations/{installation_id}"
    if name == "uninstall" and done.ok:
        return "/extensions"
    if name in ("rollback", "upgrade", "promote"):
        return f"{base}/versions"
    if name == "retest":
        return f"{base}/connection"
    return safe_back(form.get("back"), f"{base}/settings")


def safe_back(target: Any, default: str = "/extensions") -> str:
    """A local path to return to, never another origin.

    Browsers read `/\\host` and `//host` as another origin, so a backslash anywhere, a second
    leading slash, a scheme or a host make it fall back to `default` (no open redirect).
    """
    text = str(target or "")
    parts = urlsplit(text)
    local = (
        text.startswith("/")
        and not text.startswith("//")
        and "\\" not in text
        and not parts.scheme
        and not parts.netloc
        and not any(ord(c) < 32 for c in text)
    )
    return text if local else default


async def add_destination(downstream: Downstream, viewer: Viewer, form: dict[str, Any]) -> Done:
    """Add an alert destination; its signing secret is shown once, in the flash message."""
    body = {
        "url": str(form.get("url") or "").strip(),
        "description": str(form.get("description") or "").strip(),
    }
    done = await run(downstream, viewer, "add_destination", body=body)
    if not isinstance(done.data, DestinationWithSecret):
        return done
    secret = done.data.secret
    return Done(
        ok=True,
        message=f"Alert destination added. Its signing secret, shown this once: {secret}",
    )


def range_body(form: dict[str, Any]) -> dict[str, Any] | Failure:
    """A replay range from two datetime-local inputs (UTC)."""
    try:
        since = _timestamp(str(form.get("since") or ""))
        until = _timestamp(str(form.get("until") or "")) if form.get("until") else None
    except ValueError:
        return Failure(
            service="ingress", status=400, code="invalid", message="Enter a valid time range."
        )
    return {"since": since, "until": until}


def _timestamp(value: str) -> float:
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC).timestamp()
