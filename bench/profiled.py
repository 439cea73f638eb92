"""Run a module under a CPU sampler until SIGTERM: `python -m bench.profiled FILE MODULE`.

Every `INTERVAL_S` of the process's CPU time (`ITIMER_PROF`) the stack the main thread is
running is counted; C code (uvloop, hiredis, sockets) is charged to the Python frame that
called it. At the end the counted stacks are written to FILE as JSON (`bench/profile.py`
reads them); SIGUSR1 writes what was counted so far to `FILE.<n>` (n = 0, 1, ...) and starts
over, so a bench can cut the run into phases. Sampling costs far less than cProfile's
per-call hooks, so the split is not skewed toward code that makes many small calls.

uvicorn re-raises the signal it stopped on once it has shut down, which would end the
process before the file is written; here that re-raise ends the run normally instead.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
from collections import Counter
from types import FrameType

INTERVAL_S = 0.001
DEPTH = 60


def main() -> None:
    """Sample `MODULE` run as `__main__`; write FILE however it ends."""
    path, module = sys.argv[1], sys.argv[2]
    sys.argv = [module]
    stacks: Counter[tuple[str, ...]] = Counter()

    def sample(signum: int, frame: FrameType | None) -> None:
        names: list[str] = []
        while frame is not None and len(names) < DEPTH:
            code = frame.f_code
            names.append(f"{code.co_filename}:{code.co_name}")
            frame = frame.f_back
        stacks[tuple(names)] += 1

    def write(target: str) -> None:
        with open(f"{target}.partial", "w") as out:
            json.dump({"interval_s": INTERVAL_S, "stacks": list(stacks.items())}, out)
        os.replace(f"{target}.partial", target)  # whoever waits for it reads it whole
        stacks.clear()

    phases = iter(range(1_000))

    def cut(signum: int, frame: FrameType | None) -> None:
        write(f"{path}.{next(phases)}")

    def stopped(signum: int) -> None:
        raise SystemExit(0)

    signal.raise_signal = stopped
    signal.signal(signal.SIGPROF, sample)
    signal.signal(signal.SIGUSR1, cut)
    signal.setitimer(signal.ITIMER_PROF, INTERVAL_S, INTERVAL_S)
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        write(path)


if __name__ == "__main__":
    main()
