"""Services fail fast on bad configuration, naming the variable, port or package at fault."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from services.base.settings import InfraSettings, SettingsError, load
from services.registry.settings import RegistrySettings


def run_service(name: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"services.{name}"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_are_read_from_prefixed_variables():
    settings = load(RegistrySettings, "REGISTRY_", {"REGISTRY_PORT": "9100", "PORT": "1"})
    assert settings.port == 9100


def test_shared_settings_parse_booleans():
    infra = load(InfraSettings, "", {"KAFKA_ENABLE_IDEMPOTENCE": "true"})
    assert infra.kafka_enable_idempotence is True


def test_malformed_setting_error_names_the_variable():
    with pytest.raises(SettingsError) as error:
        load(RegistrySettings, "REGISTRY_", {"REGISTRY_PORT": "eighty"})
    assert "REGISTRY_PORT" in error.value.message
    assert "eighty" in error.value.message


@pytest.mark.parametrize("service", ["registry", "ingress", "sync", "logs", "console"])
def test_service_with_malformed_port_stops_at_start_naming_the_variable(service):
    variable = f"{service.upper()}_PORT"
    result = run_service(service, **{variable: "not-a-port"})
    assert result.returncode == 2
    assert variable in result.stderr


def test_service_on_a_port_in_use_names_the_port_and_setting():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_service("logs", LOGS_PORT=str(port))
    assert result.returncode == 2
    assert str(port) in result.stderr
    assert "LOGS_PORT" in result.stderr
