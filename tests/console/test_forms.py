"""Settings forms from a manifest schema, and the submitted form read back."""

from __future__ import annotations

from types import SimpleNamespace

from services.console.service.forms import field_errors, form_fields, read_form

SCHEMA = {
    "properties": {
        "api_key": {"type": "string", "title": "Secret key", "secret": True},
        "region": {"type": "string", "enum": ["eu", "us"], "default": "eu"},
        "backfill": {"type": "boolean", "default": True},
        "page_size": {"type": "integer", "default": 100, "description": "Rows per page."},
        "label": {"type": "string"},
    },
    "required": ["api_key", "region"],
}


def test_secret_fields_are_password_inputs_that_never_carry_a_value():
    fields = {f.name: f for f in form_fields(SCHEMA, {"api_key": "sk_live_x"}, {}, {"api_key"})}
    assert (fields["api_key"].widget, fields["api_key"].value) == ("password", None)
    assert fields["api_key"].is_set and fields["api_key"].required


def test_enums_are_selects_booleans_checkboxes_with_defaults_and_required_marks():
    fields = {f.name: f for f in form_fields(SCHEMA, {}, {})}
    assert (fields["region"].widget, fields["region"].options) == ("select", ["eu", "us"])
    assert (fields["region"].value, fields["region"].required) == ("eu", True)
    assert (fields["backfill"].widget, fields["backfill"].value) == ("checkbox", True)
    assert (fields["page_size"].widget, fields["page_size"].help) == ("number", "Rows per page.")
    assert not fields["label"].required and fields["label"].label == "Label"


def test_registry_refusals_land_next_to_their_field():
    refusal = SimpleNamespace(field="settings.page_size", message="must be >= 1", details={})
    fields = {f.name: f for f in form_fields(SCHEMA, {}, field_errors(refusal))}
    assert fields["page_size"].error == "must be >= 1"
    many = SimpleNamespace(field="settings.x", message="m", details={"errors": {"region": "bad"}})
    assert field_errors(many) == {"region": "bad"}


def test_a_submitted_form_is_typed_and_a_blank_secret_keeps_the_stored_one():
    form = {"api_key": "", "region": "us", "page_size": "50", "label": ""}
    assert read_form(SCHEMA, form) == {
        "region": "us",
        "backfill": False,
        "page_size": 50,
        "label": None,
    }
    assert read_form(SCHEMA, {"api_key": " sk_new ", "backfill": "on"})["api_key"] == "sk_new"
