"""Service supervision for `backfill up`: a service that dies is restarted, the rest keep running.

A dead service is restarted after an exponential backoff (0.5 s doubling to 30 s; a service
that stayed up a minute starts again from 0.5 s), with one log line per exit and one when it
is ready again. The broker and Valkey are never touched by a service's death: the embedded
broker keeps its topics in memory, so stopping it would lose every record. A service that
crashes `crash_limit` times within `crash_window_s` is a crash loop: the supervisor reports
it with the log file to read and stops the suite, instead of restarting forever.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Child(Protocol):
    """What the supervisor needs of a started process (subprocess.Popen has it)."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...


@dataclass
class RestartPolicy:
    """When to restart a service that exited, and when to give up (a crash loop)."""

    first_delay_s: float = 0.5
    max_delay_s: float = 30.0
    stable_after_s: float = 60.0
    crash_limit: int = 5
    crash_window_s: float = 60.0

    def delay(self, consecutive_crashes: int) -> float:
        """Backoff before restart number `consecutive_crashes` (1-based)."""
        return min(self.max_delay_s, self.first_delay_s * 2 ** max(0, consecutive_crashes - 1))


class CrashLoop(RuntimeError):
    """A service kept dying: the message names it, how often, and its log file."""


@dataclass
class Supervised:
    """One service under supervision: its current process and crash history."""

    name: str
    process: Child
    started_at: float
    crashes: deque[float] = field(default_factory=deque)
    consecutive: int = 0
    restart_at: float | None = None
    awaiting_ready: bool = False


class Supervisor:
    """Restarts services that exit; never stops the infrastructure because of them.

    `start(name)` spawns a service's process; `ready(name)` says whether its `/readyz` is
    green; `say(line)` reports to the person running the suite. `tick()` is called from the
    supervisor's loop (every ~0.2 s) and raises CrashLoop when a service keeps dying.
    """

    def __init__(
        self,
        start: Callable[[str], Child],
        ready: Callable[[str], bool],
        policy: RestartPolicy | None = None,
        say: Callable[[str], None] | None = None,
        log_of: Callable[[str], str] = lambda name: f"{name}.log",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._start = start
        self._ready = ready
        self.policy = policy or RestartPolicy()
        self._say = say or (lambda line: print(line, file=sys.stderr, flush=True))
        self._log_of = log_of
        self._clock = clock
        self.services: dict[str, Supervised] = {}
        self.restarts = 0

    def adopt(self, name: str, process: Child) -> None:
        """Supervise a service that was started (and is ready) already."""
        self.services[name] = Supervised(name, process, self._clock())

    def tick(self) -> None:
        """Notice exits, restart what is due, report services that became ready again."""
        now = self._clock()
        for service in self.services.values():
            if service.restart_at is None and service.process.poll() is not None:
                self._on_exit(service, now)
            elif service.restart_at is not None and now >= service.restart_at:
                service.restart_at = None
                service.process = self._start(service.name)
                service.started_at = now
                service.awaiting_ready = True
                self.restarts += 1
                self._say(f"backfill: {service.name} restarted (pid {service.process.pid})")
            elif service.awaiting_ready and self._ready(service.name):
                service.awaiting_ready = False
                self._say(f"backfill: {service.name} is ready again")

    def _on_exit(self, service: Supervised, now: float) -> None:
        if now - service.started_at >= self.policy.stable_after_s:
            service.consecutive = 0  # it ran long enough: this is a fresh failure, not a loop
        service.consecutive += 1
        service.crashes.append(now)
        while service.crashes and now - service.crashes[0] > self.policy.crash_window_s:
            service.crashes.popleft()
        code = service.process.returncode
        if len(service.crashes) >= self.policy.crash_limit:
            raise CrashLoop(
                f"{service.name} exited {len(service.crashes)} times within "
                f"{self.policy.crash_window_s:.0f}s (last exit code {code}); stopping the "
                f"suite — see {self._log_of(service.name)}"
            )
        delay = self.policy.delay(service.consecutive)
        service.restart_at = now + delay
        service.awaiting_ready = False
        self._say(
            f"backfill: {service.name} exited with {code}; restarting in {delay:.1f}s "
            f"(attempt {service.consecutive}); broker, valkey and the other services keep running"
        )
