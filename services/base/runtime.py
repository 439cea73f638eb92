"""Builds the runtime a service runs extension code with: isolated unless explicitly not.

Fail closed: the isolated runtime's pool starts before the service serves anything (an
`Infrastructure` start check). If workers cannot be locked down on this host the service
stops with the reason, unless `RUNTIME_ALLOW_IN_PROCESS=true` (development only), in which
case it runs extension code in-process, logs that at CRITICAL and shows it in `/readyz`.
`RUNTIME_ISOLATION=false` (in-process on purpose, e.g. the bench's baseline) needs the same
explicit allowance.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from runtime.interface import SecretOpener
from runtime.isolated.invoker import IsolatedRuntime
from runtime.runtime import InProcessRuntime, Runtime
from services.base.infrastructure import Infrastructure
from services.base.settings import SettingsError

log = logging.getLogger(__name__)
IN_PROCESS_WARNING = "extension code runs inside this service process (not isolated)"


def build_runtime(
    infra: Infrastructure,
    keyring: SecretOpener,
    *,
    time_limit_s: float,
    host_overrides: Mapping[str, str] | None = None,
    workers: int | None = None,
    start_early: bool = True,
) -> Runtime:
    """The service's runtime, registered to start (or refuse to) before the service serves.

    `start_early=False` (the registry's deploy check) starts the pool at its first
    invocation instead; an isolation failure then fails that invocation, never silently.
    """
    settings = infra.settings
    common = {
        "redis": infra.redis,
        "keyring": keyring,
        "producer": lambda: infra.producer,
        "time_limit_s": time_limit_s,
        "host_overrides": host_overrides,
        "secret_read_interval_s": settings.runtime_secret_read_interval_s,
    }
    if not settings.runtime_isolation:
        if not settings.runtime_allow_in_process:
            raise SettingsError(
                "invalid setting RUNTIME_ISOLATION=false: in-process extension code also "
                "needs RUNTIME_ALLOW_IN_PROCESS=true (development only)"
            )
        log.critical("EXTENSION CODE RUNS INSIDE THIS SERVICE PROCESS (RUNTIME_ISOLATION=false)")
        infra.readiness.warnings.append(f"{IN_PROCESS_WARNING}: RUNTIME_ISOLATION=false")
        return InProcessRuntime(**common)  # type: ignore[arg-type]
    runtime = IsolatedRuntime(
        **common,  # type: ignore[arg-type]
        workers=workers or settings.runtime_workers,
        pipeline_depth=settings.runtime_pipeline_depth,
        memory_mb=settings.runtime_memory_mb,
        allow_in_process=settings.runtime_allow_in_process,
    )

    async def start() -> None:
        await runtime.start()
        if not runtime.isolated:
            infra.readiness.warnings.append(f"{IN_PROCESS_WARNING}: {runtime.unavailable}")

    if start_early:
        infra.start_checks.append(start)
    return runtime
