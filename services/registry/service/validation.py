"""Settings validated against a manifest's settings schema: one error per field, no side effects."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from contracts.manifest import SettingProperty, SettingsSchema

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
    re.I,
)


@dataclass
class ValidatedSettings:
    """Plain settings (defaults applied), secret values to seal, and what is still missing."""

    settings: dict[str, Any]
    secrets: dict[str, str]
    missing: list[str]
    errors: dict[str, str] = field(default_factory=dict)


def validate_settings(
    schema: SettingsSchema,
    current: dict[str, Any],
    changes: dict[str, Any],
    secrets_present: set[str],
) -> ValidatedSettings:
    """Merge `changes` into `current` (None removes) and check every field.

    Removing a required field that has a value is an error (it would silently send an
    active installation back to pending); None for one never set is just "still missing".

    Missing required fields are not errors (the installation stays pending); a value of the
    wrong type, outside its enum or range, or in a bad format is an error for that field.
    """
    merged = {k: v for k, v in current.items() if k in schema.properties}
    secret_values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, value in changes.items():
        prop = schema.properties.get(name)
        if prop is None:
            errors[name] = "is not a setting of this extension"
            continue
        if value is None:
            if prop.secret:
                errors[name] = "secret fields are revoked with DELETE .../secrets/{name}"
            elif name in schema.required and name in merged:
                errors[name] = "is required: it can be changed, not removed"
            merged.pop(name, None)
            continue
        problem = _check(prop, value)
        if problem:
            errors[name] = problem
        elif prop.secret:
            secret_values[name] = value
        else:
            merged[name] = value
    for name, prop in schema.properties.items():
        if not prop.secret and name not in merged and prop.default is not None:
            merged[name] = prop.default
    have = set(merged) | secrets_present | set(secret_values)
    missing = [name for name in schema.required if name not in have]
    return ValidatedSettings(merged, secret_values, missing, errors)


def _check(prop: SettingProperty, value: Any) -> str | None:
    kind = prop.type
    if kind == "string" and not isinstance(value, str):
        return "must be a string"
    if kind == "boolean" and not isinstance(value, bool):
        return "must be a boolean"
    if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return "must be an integer"
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return "must be a number"
    if prop.enum is not None and value not in prop.enum:
        return f"must be one of {', '.join(map(str, prop.enum))}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if prop.minimum is not None and value < prop.minimum:
            return f"must be at least {prop.minimum:g}"
        if prop.maximum is not None and value > prop.maximum:
            return f"must be at most {prop.maximum:g}"
    if isinstance(value, str) and prop.format:
        return _check_format(prop.format, value)
    return None


def _check_format(fmt: str, value: str) -> str | None:
    if fmt == "uri":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return "must be an http(s) URL"
    elif fmt == "email" and not _EMAIL.match(value):
        return "must be an email address"
    elif fmt == "hostname" and not _HOSTNAME.match(value):
        return "must be a host name"
    elif fmt == "regex":
        try:
            re.compile(value)
        except re.error as error:
            return f"must be a regular expression ({error})"
    return None
