"""Connector tests reuse the runtime fixtures (real Valkey, real broker) and read fixtures."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.conftest import keyring, producer, redis  # noqa: F401 - shared fixtures

FIXTURES = Path(__file__).parent / "fixtures"
CONNECTORS = Path(__file__).resolve().parents[2] / "connectors"


def fixture_bytes(name: str) -> bytes:
    """A provider payload written after the provider's documented shape."""
    return (FIXTURES / name).read_bytes()
