"""Connector tests reuse the runtime fixtures (real Valkey, real broker) and read fixtures."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.conftest import keyring, producer, redis  # noqa: F401 - shared fixtures

CONNECTORS = Path(__file__).resolve().parents[2] / "connectors"


def fixture_bytes(name: str) -> bytes:
    """A provider payload (`<connector>/<event>.json`) shipped in `connectors/<connector>/fixtures`
    (`backfill trigger` sends the same files)."""
    connector, _, event = name.partition("/")
    return (CONNECTORS / connector / "fixtures" / event).read_bytes()
