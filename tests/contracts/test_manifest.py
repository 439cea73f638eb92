"""The manifest schema: strict decoding and errors that name the offending field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from contracts.manifest import ManifestError, manifest_to_json, parse_manifest


def connector(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "key": "acme-crm",
        "kind": "connector",
        "name": "Acme CRM",
        "version": "1.2.0",
        "permissions": {
            "entities": [{"type": "contact", "access": "write"}, {"type": "deal"}],
            "http": ["api.acme.test"],
            "secrets": ["api_key", "webhook_secret"],
        },
        "connection": {
            "settingsSchema": {
                "properties": {
                    "api_key": {"type": "string", "secret": True},
                    "region": {"type": "string", "enum": ["eu", "us"], "default": "eu"},
                },
                "required": ["api_key"],
            },
            "testConnection": True,
        },
        "webhooks": {"endpoint": "/webhooks/acme", "auth": "standard_webhooks"},
        "streams": [
            {"name": "contacts", "canonicalType": "contact", "entry": "streams/contacts.py"}
        ],
        "pages": [{"path": "/acme", "title": "Acme"}],
        "ui": [{"slot": "installation.overview.panel", "title": "Acme deals", "page": "/acme"}],
        "entities": [{"name": "acme_deal", "fields": [{"name": "amount", "type": "number"}]}],
    }
    base.update(overrides)
    return base


def test_a_complete_connector_manifest_parses():
    manifest = parse_manifest(connector())
    assert manifest.settings_schema.properties["api_key"].secret
    assert manifest.writable_entities() == {"contact", "acme_deal"}
    assert "deal" in manifest.readable_entities()
    assert parse_manifest(manifest_to_json(manifest)) == manifest


def test_manifest_json_is_canonical_for_digests():
    assert manifest_to_json(parse_manifest(connector())) == manifest_to_json(
        parse_manifest(dict(reversed(list(connector().items()))))
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m.pop("key"), "key"),
        (lambda m: m.update(key="Bad Key"), "key"),
        (lambda m: m.update(kind="plugin"), "kind"),
        (
            lambda m: m["permissions"].update(http=["https://api.acme.test/x"]),
            "permissions.http[0]",
        ),
        (lambda m: m["permissions"].update(secrets=["Bad-Name"]), "permissions.secrets[0]"),
        (
            lambda m: m["permissions"]["entities"][0].update(access="admin"),
            "permissions.entities[0].access",
        ),
        (lambda m: m.update(unexpected=1), "unexpected"),
        (
            lambda m: m["connection"]["settingsSchema"].update(required=["nope"]),
            "connection.settingsSchema.required[0]",
        ),
        (
            lambda m: m["connection"]["settingsSchema"]["properties"]["api_key"].update(
                type="integer"
            ),
            "connection.settingsSchema.properties.api_key.type",
        ),
        (lambda m: m["webhooks"].update(auth="magic"), "webhooks.auth"),
        (lambda m: m["webhooks"].update(endpoint="webhooks/acme"), "webhooks.endpoint"),
        (lambda m: m["streams"].append(dict(m["streams"][0])), "streams[1].name"),
    ],
)
def test_invalid_manifest_error_names_the_field(change, field):
    manifest = copy.deepcopy(connector())
    change(manifest)
    with pytest.raises(ManifestError) as error:
        parse_manifest(manifest)
    assert error.value.field == field, str(error.value)


def test_extensions_may_not_use_connector_signature_schemes():
    manifest = connector(kind="extension", connection=None, streams=[])
    manifest["webhooks"] = {"endpoint": "/hooks/in", "auth": "stripe_signature"}
    with pytest.raises(ManifestError) as error:
        parse_manifest(manifest)
    assert error.value.field == "webhooks.auth"


def test_extension_routes_may_use_api_key_or_public():
    manifest = connector(kind="extension", connection=None, streams=[])
    manifest["webhooks"] = {"endpoint": "/hooks/in", "auth": "api_key"}
    assert parse_manifest(manifest).webhooks.auth == "api_key"


def test_malformed_json_is_a_manifest_error():
    with pytest.raises(ManifestError):
        parse_manifest(b"{not json")
