"""`make test`'s xdist scheduler: shared-fixture files stay on one worker, long units first."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.scheduling import SharedFixtureScheduling, unit_of

COLLECTION = [
    "tests/base/test_keys.py::test_a",
    "tests/base/test_keys.py::test_b",
    "tests/base/test_keys.py::test_c",
    "tests/console/test_app.py::test_a",
    "tests/base/test_kafka.py::test_a",
    "tests/console/test_forms.py::test_a",
    "tests/cli/test_up_restart.py::test_a",
    "tests/robustness/test_fuzz.py::test_a[logs]",
    "tests/robustness/test_limits.py::test_a",
    "tests/robustness/test_crash_matrix.py::test_a",
]


class Worker:
    """What the scheduler calls on an xdist worker: records what it was sent."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.sent: list[str] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.extend(COLLECTION[i] for i in indices)

    def shutdown(self) -> None:
        self.shutting_down = True


def scheduled(workers: int) -> list[Worker]:
    config: Any = SimpleNamespace(
        getvalue=lambda name: {"tx": [f"{workers}*popen"], "dist": "loadfile"}.get(name),
        option=SimpleNamespace(loadscopereorder=True),
    )
    scheduler = SharedFixtureScheduling(config)
    nodes = [Worker(f"gw{n}") for n in range(workers)]
    for node in nodes:
        scheduler.add_node(node)  # type: ignore[arg-type]
        scheduler.add_node_collection(node, COLLECTION)  # type: ignore[arg-type]
    scheduler.schedule()
    return nodes


def test_files_sharing_a_wider_fixture_are_one_unit_and_others_one_per_file() -> None:
    assert unit_of("tests/console/test_app.py::t") == unit_of("tests/console/test_forms.py::t")
    assert unit_of("tests/robustness/test_fuzz.py::t[x]") == unit_of(
        "tests/robustness/test_limits.py::t"
    )
    assert (
        unit_of("tests/robustness/test_crash_matrix.py::t")
        == "tests/robustness/test_crash_matrix.py"
    )
    assert unit_of("tests/base/test_keys.py::test_a") == "tests/base/test_keys.py"
    assert unit_of("tests/cli/test_dev.py::t") == unit_of("tests/cli/test_operate.py::t")
    assert unit_of("tests/cli/test_up.py::t") == "tests/cli/test_up.py"  # its own suite


@pytest.mark.parametrize("workers", [2, 4])
def test_a_shared_set_runs_on_one_worker_and_long_units_are_handed_out_first(workers: int) -> None:
    nodes = scheduled(workers)
    [console] = [n for n in nodes if any("tests/console/" in t for t in n.sent)]
    assert {t for t in COLLECTION if t.startswith("tests/console/")} <= set(console.sent)
    live = {
        "tests/robustness/test_fuzz.py::test_a[logs]",
        "tests/robustness/test_limits.py::test_a",
    }
    assert sum(1 for n in nodes if live & set(n.sent)) == 1
    # The first unit each worker got is a long one (the console set, robustness, a restart).
    firsts = [n.sent[0] for n in nodes]
    assert all(
        t.startswith(("tests/console/", "tests/robustness", "tests/cli/test_up")) for t in firsts
    )
