"""Manifests written in Python: the same rules as manifest.json, errors naming the field."""

from __future__ import annotations

import pytest

from contracts.manifest import ManifestError, parse_manifest
from sdk import define_connector, define_entity, define_extension
from tests.connectors.conftest import CONNECTORS


def test_connector_defined_in_python_equals_its_json_form():
    in_code = define_connector(
        key="helpdesk",
        name="Helpdesk",
        version="0.1.0",
        permissions={
            "entities": [{"type": "ticket", "access": "write"}],
            "http": ["api.helpdesk.example"],
        },
        connection={
            "settings_schema": {"properties": {"api_key": {"type": "string", "secret": True}}},
            "test_connection": True,
        },
        streams=[{"name": "tickets", "canonical_type": "ticket", "entry": "streams/tickets.py"}],
    )
    as_json = parse_manifest(
        {
            "key": "helpdesk",
            "kind": "connector",
            "name": "Helpdesk",
            "version": "0.1.0",
            "permissions": {
                "entities": [{"type": "ticket", "access": "write"}],
                "http": ["api.helpdesk.example"],
            },
            "connection": {
                "settingsSchema": {"properties": {"api_key": {"type": "string", "secret": True}}},
                "testConnection": True,
            },
            "streams": [
                {"name": "tickets", "canonicalType": "ticket", "entry": "streams/tickets.py"}
            ],
        }
    )
    assert in_code == as_json


def test_setting_names_keep_their_underscores():
    manifest = define_connector(
        key="demo",
        name="Demo",
        version="1",
        connection={"settings_schema": {"properties": {"shop_domain": {"type": "string"}}}},
    )
    assert list(manifest.settings_schema.properties) == ["shop_domain"]


def test_connector_manifest_file_is_read_by_define_connector():
    manifest = define_connector(CONNECTORS / "stripe" / "manifest.json")
    assert manifest.key == "stripe"
    assert manifest.webhooks is not None and manifest.webhooks.auth == "stripe_signature"


def test_invalid_field_is_named():
    with pytest.raises(ManifestError) as error:
        define_extension(
            key="notes", name="Notes", version="1", permissions={"http": ["http://x.example"]}
        )
    assert error.value.field == "permissions.http[0]"


def test_extension_cannot_be_defined_as_a_connector_file():
    with pytest.raises(ManifestError) as error:
        define_extension(CONNECTORS / "github" / "manifest.json")
    assert error.value.field == "kind"


def test_defined_entity_is_writable_by_its_extension():
    note = define_entity(
        "helpdesk_note", {"body": "string", "ticket_id": {"type": "string", "required": True}}
    )
    manifest = define_extension(key="notes", name="Notes", version="1", entities=[note])
    assert manifest.writable_entities() == frozenset({"helpdesk_note"})
    assert [(f.name, f.required) for f in manifest.entities[0].fields] == [
        ("body", False),
        ("ticket_id", True),
    ]
