"""docker-compose.yml stays deployable: every service wired, every registry topic created."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from contracts.topics import TOPICS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = {"registry": 8001, "ingress": 8002, "sync": 8003, "logs": 8004, "console": 8000}


def test_kafka_is_apache_kafka_in_kraft_mode_without_auto_topic_creation():
    kafka = COMPOSE["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert "controller" in env["KAFKA_PROCESS_ROLES"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "healthcheck" in kafka


VALKEY_NODES = ("valkey-1", "valkey-2", "valkey-3")


@pytest.mark.parametrize("node", VALKEY_NODES)
def test_valkey_runs_as_a_cluster_node_with_append_only_file(node):
    valkey = COMPOSE["services"][node]
    command = " ".join(valkey["command"])
    assert "--appendonly yes" in command and "--cluster-enabled yes" in command
    assert "healthcheck" in valkey


def test_the_cluster_is_formed_once_and_every_service_waits_for_it():
    init = COMPOSE["services"]["valkey-init"]
    script = " ".join(init["command"])
    assert "--cluster create" in script and all(f"hosts {n}" in script for n in VALKEY_NODES)
    assert set(init["depends_on"]) == set(VALKEY_NODES)
    for name in SERVICES:
        waits = COMPOSE["services"][name]["depends_on"]["valkey-init"]
        assert waits["condition"] == "service_completed_successfully"


def test_ingress_and_sync_run_two_replicas_behind_the_balancer():
    balancer = COMPOSE["services"]["balancer"]
    config = COMPOSE["configs"]["balancer"]["content"]
    for name in ("ingress", "sync"):
        assert COMPOSE["services"][name]["deploy"]["replicas"] == 2
        assert "ports" not in COMPOSE["services"][name]  # replicas share no host port
        assert f"server {name}:{SERVICES[name]} resolve" in config
        assert f"{SERVICES[name]}:{SERVICES[name]}" in balancer["ports"]


@pytest.mark.parametrize(("name", "port"), SERVICES.items())
def test_each_service_gets_the_settings_it_needs(name, port):
    service = COMPOSE["services"][name]
    env = service["environment"]
    assert service["command"] == ["python", "-m", f"services.{name}"]
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["KAFKA_ENABLE_IDEMPOTENCE"] == "true"  # real Kafka supports InitProducerId
    assert env["REDIS_URL"] == "redis+cluster://" + ",".join(f"{n}:6379" for n in VALKEY_NODES)
    assert "SECRETS_KEYRING" in env
    assert env[f"{name.upper()}_HOST"] == "0.0.0.0"
    assert env[f"{name.upper()}_PORT"] == str(port)
    assert f"127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"])
    assert service["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"


def test_console_is_pointed_at_every_api():
    env = COMPOSE["services"]["console"]["environment"]
    for name in ("registry", "ingress", "sync", "logs"):
        host = "balancer" if name in ("ingress", "sync") else name  # replicated: round-robin
        assert env[f"CONSOLE_{name.upper()}_URL"] == f"http://{host}:{SERVICES[name]}"


def test_topic_init_step_creates_every_registry_topic():
    init = COMPOSE["services"]["kafka-init"]
    assert init["command"][:3] == ["backfill", "topics", "create"]
    listed = subprocess.run(
        [sys.executable, "-m", "cli.main", "topics", "list"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    names = {line.split("\t")[0] for line in listed.splitlines()}
    assert names == {t.name for t in TOPICS}


def test_image_contains_every_top_level_package():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("contracts", "services", "sdk", "runtime", "connectors", "cli"):
        assert f"COPY {package} ./{package}" in dockerfile
        assert (ROOT / package / "__init__.py").exists()


def test_topic_documentation_matches_the_registry():
    from cli.topics import topics_markdown

    assert (ROOT / "docs" / "topics.md").read_text() == topics_markdown()


@pytest.mark.parametrize("name", ["ingress", "sync"])
def test_services_running_extension_code_may_unshare_without_added_capabilities(name):
    service = COMPOSE["services"][name]
    profile = ROOT / "seccomp-runtime.json"
    assert f"seccomp=./{profile.name}" in service["security_opt"]
    assert service["cap_drop"] == ["ALL"]
    assert "RUNTIME_ALLOW_IN_PROCESS" not in service["environment"]
    rules = json.loads(profile.read_text())
    denied = {name for rule in rules["syscalls"] for name in rule["names"]}
    assert rules["defaultAction"] == "SCMP_ACT_ALLOW"
    assert not denied & {"unshare", "clone", "landlock_create_ruleset", "landlock_restrict_self"}
    assert {"mount", "ptrace", "bpf", "kexec_load"} <= denied


def test_logs_store_is_the_official_clickhouse_server():
    clickhouse = COMPOSE["services"]["clickhouse"]
    assert clickhouse["image"].startswith("clickhouse/clickhouse-server:")
    assert "healthcheck" in clickhouse
    logs = COMPOSE["services"]["logs"]
    assert logs["environment"]["LOGS_CLICKHOUSE_URL"].startswith("http://backfill:")
    assert "@clickhouse:8123/" in logs["environment"]["LOGS_CLICKHOUSE_URL"]
    assert logs["depends_on"]["clickhouse"]["condition"] == "service_healthy"
