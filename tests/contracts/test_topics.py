"""The topic registry: every topic declared once, versioned, with an example that decodes."""

from __future__ import annotations

import json
import re

import msgspec
import pytest

from contracts.topics import BY_NAME, INSTALLATION_SNAPSHOTS, STREAM_STATUS, TOPICS, Topic

REQUIRED_TOPICS = {
    "registry.installations.v1",
    "registry.audit.v1",
    "ingress.deliveries.v1",
    "ingest.canonical.v1",
    "ingest.observed.v1",
    "extensions.logs.v1",
    "sync.stream-status.v1",
}


def test_registry_declares_every_initial_topic_once():
    names = [t.name for t in TOPICS]
    assert len(names) == len(set(names))
    assert REQUIRED_TOPICS <= set(names)


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_topic_name_is_versioned_and_fully_described(topic: Topic):
    assert re.fullmatch(r"[a-z]+\.[a-z-]+\.v\d+", topic.name)
    assert topic.partitions >= 1
    assert topic.cleanup_policy in {"compact", "delete"}
    assert topic.producers and topic.consumers and topic.description and topic.key
    if topic.cleanup_policy == "delete":
        assert topic.retention_ms > 0


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_example_payload_decodes_and_round_trips(topic: Topic):
    raw = topic.example_path.read_bytes()
    message = topic.decode(raw)
    assert isinstance(message, topic.message)
    again = topic.decode(topic.encode(message))
    assert again == message
    assert json.loads(topic.encode(message)) == json.loads(raw)
    assert topic.encode_key(message)


def test_snapshot_and_status_topics_are_compacted():
    assert INSTALLATION_SNAPSHOTS.config()["cleanup.policy"] == "compact"
    assert STREAM_STATUS.config()["cleanup.policy"] == "compact"


def test_decoding_rejects_a_message_of_the_wrong_shape():
    with pytest.raises(msgspec.ValidationError):
        BY_NAME["registry.audit.v1"].decode(b'{"event_id": 3}')


def test_encoding_a_message_of_another_topic_is_refused():
    audit = BY_NAME["registry.audit.v1"]
    snapshot = INSTALLATION_SNAPSHOTS.decode(INSTALLATION_SNAPSHOTS.example_path.read_bytes())
    with pytest.raises(TypeError):
        audit.encode(snapshot)


def test_consumers_ignore_fields_added_by_newer_producers():
    raw = json.loads(BY_NAME["registry.audit.v1"].example_path.read_text())
    raw["added_in_a_later_version"] = {"x": 1}
    message = BY_NAME["registry.audit.v1"].decode(json.dumps(raw).encode())
    assert message.action == raw["action"]
