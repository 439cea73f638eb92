"""The restart policy of `backfill up`: backoff, readiness lines, crash loops (a fake clock).

The whole-process behaviour (kill -9 a real service under `backfill up`) is in test_up.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

import pytest

from cli.supervisor import CrashLoop, RestartPolicy, Supervisor

_pids = count(1000)


@dataclass
class Process:
    """A started process as the supervisor sees it: a pid and, once it died, an exit code."""

    pid: int = field(default_factory=lambda: next(_pids))
    returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode


@dataclass
class World:
    now: float = 0.0
    started: list[str] = field(default_factory=list)
    ready: set[str] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)
    current: dict[str, Process] = field(default_factory=dict)

    def start(self, name: str) -> Process:
        self.started.append(name)
        self.current[name] = Process()
        return self.current[name]

    def supervisor(self, **policy: float) -> Supervisor:
        supervisor = Supervisor(
            start=self.start,
            ready=lambda name: name in self.ready,
            policy=RestartPolicy(**policy),  # type: ignore[arg-type]
            say=self.lines.append,
            clock=lambda: self.now,
        )
        for name in ("registry", "ingress"):
            self.current[name] = Process()
            supervisor.adopt(name, self.current[name])
        return supervisor

    def kill(self, name: str, code: int = -9) -> None:
        self.current[name].returncode = code

    def run(self, supervisor: Supervisor, seconds: float, step: float = 0.1) -> None:
        end = self.now + seconds
        while self.now < end:
            supervisor.tick()
            self.now += step


def test_a_dead_service_is_restarted_after_a_backoff_and_reported_ready():
    world = World(now=100.0)
    supervisor = world.supervisor()
    world.kill("ingress")
    supervisor.tick()
    assert world.started == []  # not at once: after the first backoff
    assert "ingress exited with -9; restarting in 0.5s" in world.lines[0]

    world.run(supervisor, 0.7)
    assert world.started == ["ingress"]
    world.ready.add("ingress")
    world.run(supervisor, 0.3)
    assert world.lines[-1] == "backfill: ingress is ready again"
    assert supervisor.restarts == 1


def test_the_other_services_are_left_alone():
    world = World(now=100.0)
    supervisor = world.supervisor()
    registry = world.current["registry"]
    world.kill("ingress")
    world.run(supervisor, 2)
    assert world.started == ["ingress"]
    assert supervisor.services["registry"].process is registry


def test_backoff_doubles_while_a_service_keeps_dying_and_resets_once_it_was_stable():
    world = World(now=100.0)
    supervisor = world.supervisor(crash_limit=100)
    delays = []
    for _ in range(4):
        world.kill("ingress")
        supervisor.tick()
        delays.append(supervisor.services["ingress"].restart_at - world.now)  # type: ignore[operator]
        world.run(supervisor, delays[-1] + 0.2)
    assert delays == pytest.approx([0.5, 1.0, 2.0, 4.0])

    world.run(supervisor, 61)  # stable for a minute
    world.kill("ingress")
    supervisor.tick()
    assert supervisor.services["ingress"].restart_at - world.now == pytest.approx(0.5)  # type: ignore[operator]


def test_a_crash_loop_stops_supervision_naming_the_service_and_its_log():
    world = World(now=100.0)
    supervisor = world.supervisor(crash_limit=3, crash_window_s=60)
    world.kill("ingress", code=1)
    world.run(supervisor, 1)
    world.kill("ingress", code=1)
    world.run(supervisor, 2)
    world.kill("ingress", code=1)
    with pytest.raises(
        CrashLoop, match=r"ingress exited 3 times within 60s .*exit code 1.*ingress\.log"
    ):
        supervisor.tick()


def test_crashes_outside_the_window_are_not_a_loop():
    world = World(now=100.0)
    supervisor = world.supervisor(crash_limit=2, crash_window_s=10)
    world.kill("ingress")
    world.run(supervisor, 20)
    world.kill("ingress")
    world.run(supervisor, 2)
    assert world.started == ["ingress", "ingress"]
