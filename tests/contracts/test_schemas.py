"""Committed topic schemas: the code matches the latest version, and versions only evolve compatibly."""

from __future__ import annotations

import itertools
import json
from typing import Literal

import msgspec
import pytest

from contracts.compatibility import breaking_changes, current_schema, versions
from contracts.topics import TOPICS, Topic


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_the_latest_committed_schema_is_the_message_type_of_the_code(topic: Topic):
    history = versions(topic)
    assert history, f"no committed schema for {topic.name}: run `make schemas`"
    assert history[-1] == current_schema(topic), (
        f"{topic.name} changed: run `make schemas` and commit the new version "
        f"(refused if the change is not backward compatible: "
        f"{breaking_changes(history[-1], current_schema(topic))})"
    )


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_each_committed_version_is_readable_by_the_next(topic: Topic):
    history = versions(topic)
    for number, (old, new) in enumerate(itertools.pairwise(history), start=1):
        assert breaking_changes(old, new) == [], f"{topic.name} version {number + 1}"


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_every_example_decodes_and_round_trips(topic: Topic):
    assert len(topic.examples) >= 2, "a full and a minimal example at least"
    for path in topic.examples:
        message = topic.decode(path.read_bytes())
        assert topic.decode(topic.encode(message)) == message, path.name
        assert topic.encode_key(message), path.name


class Address(msgspec.Struct, kw_only=True):
    city: str
    zip: str = ""


class Customer(msgspec.Struct, kw_only=True):
    id: str
    tier: Literal["free", "pro"] = "free"
    address: Address | None = None
    tags: list[str] = []


def schema_of(cls: type) -> dict:
    return json.loads(json.dumps(msgspec.json.schema(cls)))


def changed(**fields: tuple[object, object] | object) -> dict:
    """The schema of a `Customer` variant whose fields are replaced (a name to None removes it)."""
    annotations = dict(Customer.__annotations__)
    defaults = {
        f.name: f.default_factory() if f.default_factory is not msgspec.NODEFAULT else f.default
        for f in msgspec.structs.fields(Customer)
    }
    namespace: dict = {}
    for name, spec in fields.items():
        if spec is None:
            annotations.pop(name)
            defaults.pop(name, None)
        elif isinstance(spec, tuple):
            annotations[name], defaults[name] = spec
        else:
            annotations[name] = spec
            defaults[name] = msgspec.NODEFAULT
    specs = []
    for name, kind in annotations.items():
        default = defaults.get(name, msgspec.NODEFAULT)
        specs.append((name, kind) if default is msgspec.NODEFAULT else (name, kind, default))
    variant = msgspec.defstruct("Customer", specs, kw_only=True, namespace=namespace)
    return schema_of(variant)


OLD = schema_of(Customer)


def test_an_unchanged_type_or_a_field_added_with_a_default_is_compatible():
    assert breaking_changes(OLD, OLD) == []
    assert breaking_changes(OLD, changed(note=(str, ""))) == []
    assert breaking_changes(OLD, changed(tier=(Literal["free", "pro", "team"], "free"))) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"tags": None}, "tags: removed"),
        ({"id": int}, "id: was string, now integer"),
        ({"tags": (list[int], [])}, "tags[]: was string, now integer"),
        ({"region": str}, "region: required without a default"),
        ({"tier": (Literal["pro"], "pro")}, "tier: values ['free'] removed"),
        ({"address": (Address | int | None, None)}, None),  # widening keeps old readers fine
    ],
)
def test_a_removed_or_retyped_field_is_refused_by_name(change, reason):
    problems = breaking_changes(OLD, changed(**change))
    if reason is None:
        assert problems == []
    else:
        assert any(reason in p for p in problems), problems


def test_a_field_removed_inside_a_nested_struct_is_refused():
    class AddressWithoutZip(msgspec.Struct, kw_only=True):
        city: str

    new = changed(address=(AddressWithoutZip | None, None))
    assert breaking_changes(OLD, new) == ["address.zip: removed"]


def test_a_committed_topic_schema_that_loses_a_field_is_refused():
    topic = next(t for t in TOPICS if t.name == "registry.installations.v1")
    old = current_schema(topic)
    new = json.loads(json.dumps(old))
    del new["$defs"]["InstallationSnapshot"]["properties"]["hook_id"]
    assert breaking_changes(old, new) == ["hook_id: removed"]
