"""Fail closed: a service runs extension code isolated, or refuses to start unless told not to."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.base.settings import SettingsError
from services.ingress.app import create_app
from tests.harness import free_port, serving, wait_ready
from tests.ingress.conftest import ingress_settings

# An address-space limit no interpreter fits in: the worker reports its lock-down incomplete,
# standing in for a host where a layer cannot be set up.
UNWORKABLE = {"runtime_memory_mb": 1}


def test_service_refuses_to_start_when_workers_cannot_be_locked_down(infra):
    env = {
        **infra.env(),
        "RUNTIME_MEMORY_MB": "1",
        "INGRESS_PORT": str(free_port()),
    }
    env.pop("RUNTIME_ALLOW_IN_PROCESS", None)
    started = subprocess.run(
        [sys.executable, "-m", "services.ingress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode != 0
    output = started.stderr + started.stdout
    assert "no worker could start" in output
    assert "memory limit 1 MB is below the worker's own address space" in output


async def test_in_process_fallback_when_allowed_is_loud_in_readyz(infra, http):
    settings = infra.settings(**UNWORKABLE, runtime_allow_in_process=True)
    async with serving(create_app(ingress_settings(), settings)) as url:
        await wait_ready(http, url)
        ready = (await http.get(f"{url}/readyz")).json()
    [warning] = ready["warnings"]
    assert warning.startswith("extension code runs inside this service process (not isolated)")


async def test_isolated_service_readyz_has_no_warning(infra, http):
    async with serving(create_app(ingress_settings(), infra.settings())) as url:
        await wait_ready(http, url)
        ready = (await http.get(f"{url}/readyz")).json()
    assert "warnings" not in ready


def test_in_process_on_purpose_needs_the_explicit_allowance(infra):
    with pytest.raises(SettingsError, match="RUNTIME_ALLOW_IN_PROCESS=true"):
        create_app(ingress_settings(), infra.settings(runtime_isolation=False))
