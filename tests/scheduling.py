"""How `make test` hands test files to its pytest-xdist workers (`--dist loadfile`).

xdist's `loadfile` sends whole files to workers, largest file first. Two things it cannot
know cost wall time here:

- Some files share an expensive fixture wider than a file: the console's and the CLI's
  package-scoped stacks (every service; Chromium) and the robustness sweeps' live suite
  (every service as a process). Spread over several workers, or interleaved with other
  files on one, each of those starts it again. `SHARED` keeps each such set together, as
  one unit of work, so it starts once.
- A few files run for a minute or more in few tests (real restarts, rebalances, crash
  storms); ordered by test count they start last and one worker ends alone with them.
  `LONG` units start first (longest-processing-time-first).

Everything else is as `loadfile`: one file per unit, bigger first.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling

# The files that use the CLI tests' package-scoped `suite` (tests/cli/conftest.py).
CLI_SUITE = (
    "test_dev.py",
    "test_operate.py",
    "test_routes.py",
    "test_trigger_hook.py",
    "test_versions.py",
)
# Sets of files that share a fixture started once per worker or per package.
SHARED = {
    "tests/console/": "tests/console/",
    "tests/robustness/test_fuzz.py": "tests/robustness (live suite)",
    "tests/robustness/test_webhook_fuzz.py": "tests/robustness (live suite)",
    "tests/robustness/test_limits.py": "tests/robustness (live suite)",
    "tests/robustness/test_isolation.py": "tests/robustness (live suite)",
    **{f"tests/cli/{name}": "tests/cli (suite)" for name in CLI_SUITE},
}
# Units (path prefixes) known to take a minute or more: handed out first.
LONG = (
    "tests/cli (suite)",
    "tests/console/",
    "tests/robustness",
    "tests/replicas/",
    "tests/sync/test_reliability.py",
    "tests/cli/test_up",
    "tests/cli/test_dev.py",
    "tests/cli/test_operate.py",
    "tests/cli/test_streams.py",
    "tests/sync/test_after_hooks_crash.py",
    "tests/docs/",
)


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its shared set, else its file."""
    path = nodeid.split("::", 1)[0]
    for prefix, unit in SHARED.items():
        if path.startswith(prefix):
            return unit
    return path


class SharedFixtureScheduling(LoadScopeScheduling):
    """`loadfile` with the shared sets above as single units, long units first."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def _assign_work_unit(self, node: Any) -> None:
        """Hand out the first long unit still queued, if any, before the rest."""
        for unit in self.workqueue:
            if unit.startswith(LONG):
                self.workqueue.move_to_end(unit, last=False)
                break
        super()._assign_work_unit(node)


def make_scheduler(config: Any, log: Any) -> SharedFixtureScheduling | None:
    """The scheduler for `--dist loadfile`; None (xdist's own) for any other mode."""
    if config.getvalue("dist") != "loadfile":
        return None
    return SharedFixtureScheduling(config, log)
