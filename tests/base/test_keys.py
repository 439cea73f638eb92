"""The Redis key layout keeps each installation's and each workspace's keys in one cluster slot,
and REDIS_URL names one node or a cluster."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from redis.crc import key_slot

from services.base.keys import cluster_nodes, installation_key, workspace_key
from services.base.secrets_crypto import Keyring
from services.base.settings import SettingsError


def test_every_key_of_one_installation_or_workspace_hashes_to_one_slot() -> None:
    for make in (installation_key, workspace_key):
        slots = {key_slot(make("ins_01", *parts).encode()) for parts in [("a",), ("b", "c"), ()]}
        assert len(slots) == 1
    spread = {key_slot(installation_key(f"ins_{i}", "dedupe").encode()) for i in range(200)}
    assert len(spread) > 100  # installations spread over the slots (and so over the nodes)


def test_redis_url_names_one_node_or_the_seed_nodes_of_a_cluster() -> None:
    assert cluster_nodes("redis://127.0.0.1:16379/0") is None
    assert cluster_nodes("redis+cluster://a:7000, b:7001") == [("a", 7000), ("b", 7001)]
    with pytest.raises(SettingsError, match="REDIS_URL: seed node 'b' is not host:port"):
        cluster_nodes("redis+cluster://a:7000,b")


def test_a_service_with_a_malformed_cluster_url_stops_naming_the_setting() -> None:
    env = {
        **os.environ,
        "REDIS_URL": "redis+cluster://127.0.0.1:7000,nowhere",
        "SECRETS_KEYRING": Keyring.generate_entry("v1"),
    }
    argv = [sys.executable, "-m", "services.registry"]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "invalid setting REDIS_URL: seed node 'nowhere' is not host:port" in result.stderr
