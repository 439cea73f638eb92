"""The settings form's three acts: Test connection, Save, Activate. Each does only what it says.

- **Test** runs the connector's connection test on the values in the form (over the stored
  ones) and saves nothing, pass or fail; the form comes back with what was typed, secrets
  included (they came from this very request, never from the store).
- **Save** stores the form; the message says whether the installation is live and, if not,
  which fields (by their labels) it still needs.
- **Activate** stores the form only if nothing required is missing afterwards; otherwise it
  saves nothing and names each missing field at the field.
"""

from __future__ import annotations

from typing import Any

from contracts.answers.registry import CatalogEntry, ConnectionTest, Installation
from services.console.downstream import Downstream, Failure
from services.console.service.actions import Done
from services.console.service.forms import read_form
from services.console.service.viewer import Viewer

LIVE = "streams poll on schedule and webhooks are accepted"


def labels_of(schema: dict[str, Any]) -> dict[str, str]:
    """Field name → the label the form shows (its title, else the name made readable)."""
    return {
        name: spec.get("title") or name.replace("_", " ").capitalize()
        for name, spec in (schema.get("properties") or {}).items()
    }


def named(names: list[str], labels: dict[str, str]) -> str:
    """`Secret key and Webhook signing secret`: labels, never raw keys."""
    shown = [labels.get(n, n) for n in names]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


async def save_settings(
    downstream: Downstream, viewer: Viewer, installation_id: str, form: dict[str, Any]
) -> Done:
    """Test, save or activate, by the button pressed (`intent`)."""
    intent = str(form.get("intent") or "save")
    path = f"/v1/installations/{installation_id}"
    reply = await downstream.call("registry", "GET", path, viewer.token, answer=Installation)
    if reply.failure is not None:
        return Done(ok=False, message=reply.failure.banner, failure=reply.failure)
    installation: Installation = reply.data
    key = installation.extension_key
    entry = await downstream.call(
        "registry", "GET", f"/v1/catalog/{key}", viewer.token, answer=CatalogEntry
    )
    schema = entry.data.settings_schema if entry.ok else {}
    labels = labels_of(schema)
    settings = read_form(schema, form)
    if intent == "test":
        secret = {n for n, spec in (schema.get("properties") or {}).items() if spec.get("secret")}
        return await _test(downstream, viewer, path, settings, labels, secret)
    if intent == "activate":
        typed = {name for name, value in settings.items() if value not in (None, "")}
        missing = [n for n in installation.missing_settings if n not in typed]
        if missing:
            message = f"Not activated, nothing was saved: fill in {named(missing, labels)}."
            errors = {name: "Required to activate." for name in missing}
            failure = Failure(
                service="registry",
                status=400,
                code="missing_settings",
                message=message,
                field=missing[0],
                details={"errors": errors},
            )
            return Done(ok=False, message=message, failure=failure)
    saved = await downstream.call(
        "registry",
        "PATCH",
        f"{path}/settings",
        viewer.token,
        json={"settings": settings},
        answer=Installation,
    )
    if saved.failure is not None:
        return Done(ok=False, message=saved.failure.message, failure=saved.failure)
    was_live = installation.state == "active"
    if saved.data.state == "pending":
        needed = named(saved.data.missing_settings, labels)
        return Done(ok=True, message=f"Settings saved. Not active yet: still needed: {needed}.")
    if intent == "activate" or not was_live:
        return Done(ok=True, message=f"Activated: {LIVE}.")
    return Done(ok=True, message="Settings saved; they take effect immediately.")


async def _test(
    downstream: Downstream,
    viewer: Viewer,
    path: str,
    settings: dict[str, Any],
    labels: dict[str, str],
    secret: set[str],
) -> Done:
    """The connector's verdict on the form's values; nothing is saved either way."""
    proposed = {k: v for k, v in settings.items() if v is not None}
    reply = await downstream.call(
        "registry",
        "POST",
        f"{path}/test-connection",
        viewer.token,
        json={"settings": proposed},
        answer=ConnectionTest,
    )
    if reply.failure is not None:
        return Done(ok=False, message=reply.failure.message, failure=reply.failure, keep_form=True)
    verdict: ConnectionTest = reply.data
    text = verdict.message
    if verdict.ok:
        message = (
            f"Connection OK: {text or 'connected'}. Nothing is saved until you Save or Activate."
        )
        return Done(ok=True, message=message, keep_form=True)
    message = f"Connection test failed, nothing was saved: {text or 'the provider refused'}"
    # The verdict goes next to the credential typed (else the first field): it is about it.
    credentials = [n for n in proposed if n in secret] or [n for n in labels if n in secret]
    credentials = credentials or list(labels)
    failure = Failure(
        service="registry",
        status=422,
        code="connection_test_failed",
        message=message,
        field=credentials[0] if credentials else None,
        details={"errors": {credentials[0]: message}} if credentials else {},
    )
    return Done(ok=False, message=message, failure=failure, keep_form=True)
