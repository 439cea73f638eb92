"""Settings forms rendered from a manifest's `settingsSchema` / `config`, and read back.

Secret fields are password inputs whose submitted value goes to the registry, which routes
it to the encrypted secret store; an empty secret input means "keep the stored value" and
no stored value is ever put back into a form.
"""

from __future__ import annotations

from typing import Any

import msgspec

from services.console.downstream import Failure


class Field(msgspec.Struct, frozen=True, kw_only=True):
    """One input of a settings form."""

    name: str
    label: str
    help: str
    widget: str  # text, password, number, checkbox, select, url, email
    required: bool
    value: Any
    options: list[str] = []
    error: str | None = None
    is_set: bool = False  # a secret with a stored revision


WIDGETS = {"integer": "number", "number": "number", "boolean": "checkbox"}


def form_fields(
    schema: dict[str, Any],
    values: dict[str, Any],
    errors: dict[str, str],
    stored_secrets: set[str] = frozenset(),  # type: ignore[assignment]
    also_required: set[str] = frozenset(),  # type: ignore[assignment]
    echo_secrets: bool = False,
) -> list[Field]:
    """The inputs of `schema`, filled with `values` and per-field errors.

    Secrets are never filled from the store; `echo_secrets` puts back what the admin typed
    in the submission being answered (a failed connection test must not blank it).
    `also_required`: fields the registry needs before activation beyond the schema's own
    (a connector's webhook signing secret).
    """
    required = set(schema.get("required") or []) | also_required
    fields = []
    for name, spec in (schema.get("properties") or {}).items():
        widget = WIDGETS.get(spec.get("type", "string"), "text")
        if spec.get("format") in ("url", "email"):
            widget = spec["format"]
        if spec.get("enum"):
            widget = "select"
        if spec.get("secret"):
            widget = "password"
        if spec.get("secret"):
            value = values.get(name) if echo_secrets else None
        else:
            value = values.get(name, spec.get("default"))
        fields.append(
            Field(
                name=name,
                label=spec.get("title") or name.replace("_", " ").capitalize(),
                help=spec.get("description") or "",
                widget=widget,
                required=name in required,
                value=value,
                options=[str(option) for option in spec.get("enum") or []],
                error=errors.get(name),
                is_set=name in stored_secrets,
            )
        )
    return fields


def read_form(schema: dict[str, Any], form: dict[str, Any]) -> dict[str, Any]:
    """Submitted settings typed by the schema; blank secrets are left out (kept as stored).

    Blank non-secret fields become None (remove the value); the registry validates the rest
    and names any field it refuses.
    """
    settings: dict[str, Any] = {}
    for name, spec in (schema.get("properties") or {}).items():
        kind = spec.get("type", "string")
        if kind == "boolean":
            settings[name] = form.get(name) in ("on", "true", "1")
            continue
        raw = str(form.get(name) or "").strip()
        if spec.get("secret"):
            if raw:
                settings[name] = raw
            continue
        if not raw:
            settings[name] = None
        elif kind == "integer":
            settings[name] = _number(raw, int)
        elif kind == "number":
            settings[name] = _number(raw, float)
        else:
            settings[name] = raw
    return settings


def _number(raw: str, kind: type) -> Any:
    try:
        return kind(raw)
    except ValueError:
        return raw  # the registry names the field and says what it expects


def field_errors(failure: Failure | None) -> dict[str, str]:
    """Per-field messages of a registry refusal (`settings.port` → `port`)."""
    if failure is None:
        return {}
    errors = dict(failure.details.get("errors") or {})
    if failure.field and not errors:
        errors[failure.field.removeprefix("settings.")] = failure.message
    return {name.removeprefix("settings."): str(problem) for name, problem in errors.items()}
