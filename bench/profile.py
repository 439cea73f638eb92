"""The CPU split of a sampled server (`bench/profiled.py`): `python -m bench.profile FILE...`.

`python -m bench.ingress --profile FILE` runs the isolated ingress under the sampler, cuts
its samples into phases around every load it receives (`Phases`), and prints the split of
the closed-loop and the fixed-rate phases at the end. Each sample is charged to the area of
the innermost frame of its stack, where frames of the generic standard library (not asyncio)
are charged to their caller: C code and helpers count for the code that called them.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# (area, fragments of a code path), first match wins; None: charge the caller instead
AREAS: list[tuple[str | None, tuple[str, ...]]] = [
    (None, ("bench/profiled.py",)),
    ("redis client", ("/redis/", "hiredis")),
    ("aiokafka", ("/aiokafka/", "/kafka/")),
    ("uvicorn + httptools", ("/uvicorn/", "httptools", "/h11/")),
    ("litestar + prometheus", ("/litestar/", "/prometheus_client/")),
    ("runtime/isolated (parent side)", ("/runtime/isolated/",)),
    ("runtime (scope, invocation)", ("/runtime/",)),
    ("extension code + sdk", ("/connectors/", "/sdk/")),
    ("ingress: signatures", ("/services/ingress/signatures.py", "/services/ingress/signing_keys")),
    ("ingress: other", ("/services/ingress/",)),
    ("dedupe (services/base/dedupe)", ("/services/base/dedupe/",)),
    ("services/base, contracts", ("/services/base/", "/contracts/")),
    ("event loop + asyncio", ("/asyncio/", "uvloop")),
    ("logging", ("/logging/",)),
    ("msgspec", ("msgspec",)),
    ("other libraries", ("site-packages",)),
]


def area_of(path: str) -> str | None:
    """The area of a frame's file; None for the generic standard library."""
    for area, fragments in AREAS:
        if any(fragment in path for fragment in fragments):
            return area
    return None


def split(paths: list[Path]) -> Counter[str]:
    """Samples per area over the given files."""
    areas: Counter[str] = Counter()
    for path in paths:
        for stack, count in json.loads(path.read_text())["stacks"]:
            area = next(
                (a for frame in stack if (a := area_of(frame.rsplit(":", 1)[0])) is not None),
                "other (standard library)",
            )
            areas[area] += count
    return areas


def top(paths: list[Path], count: int = 15) -> list[tuple[int, str]]:
    """The innermost functions (outside the generic standard library) with the most samples."""
    functions: Counter[str] = Counter()
    for path in paths:
        for stack, n in json.loads(path.read_text())["stacks"]:
            frame = next((f for f in stack if area_of(f.rsplit(":", 1)[0])), "?:?")
            file, name = frame.rsplit(":", 1)
            functions[f"{'/'.join(file.split('/')[-2:])} {name}"] += n
    return [(n, name) for name, n in functions.most_common(count)]


def report(title: str, paths: list[Path], cpu_us: float | None) -> None:
    """Print the split: share of samples, and µs of CPU per request when `cpu_us` is known."""
    areas = split(paths)
    total = sum(areas.values()) or 1
    print(f"\n  CPU split, {title} ({total:,} samples)")
    for area, n in areas.most_common():
        each = f"   ≈ {cpu_us * n / total:4.0f} µs/request" if cpu_us else ""
        print(f"    {area:<32} {n / total:6.1%}{each}")
    print("  innermost functions")
    for n, name in top(paths):
        print(f"    {n / total:6.1%}  {name}")


class Phases:
    """Cuts a sampled server's samples into labelled phases (SIGUSR1 to `bench.profiled`)."""

    def __init__(self, pid: int, path: str) -> None:
        self.pid = pid
        self.path = path
        self.files: list[tuple[str, Path]] = []

    def cut(self, label: str) -> None:
        """Samples so far belong to `label`."""
        target = Path(f"{self.path}.{len(self.files)}")
        target.unlink(missing_ok=True)  # an earlier run's
        os.kill(self.pid, signal.SIGUSR1)
        self.files.append((label, target))
        deadline = time.monotonic() + 10
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    @contextmanager
    def around(self, label: str) -> Iterator[None]:
        """The samples of the block are `label`'s."""
        self.cut("between")
        yield
        self.cut(label)

    def of(self, label: str) -> list[Path]:
        """Every file of `label`."""
        return [path for name, path in self.files if name == label]


if __name__ == "__main__":
    report("given files", [Path(p) for p in sys.argv[1:]], None)
