"""Bundles loaded from Redis by digest and imported from memory, one namespace per digest.

Each digest gets its own top-level package (`_bundle_<hex>`), so two versions of one
extension coexist in one process and an invocation that started on the old version finishes
on it. Nothing is written to disk. Bundle code imports its own files relatively
(`from ..lib import transforms`) and the platform with `from sdk import ...`.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections import OrderedDict
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from contracts.manifest import Manifest
from sdk.bundle import MANIFEST_FILE, BundleError, bundle_key, manifest_of, unpack

if TYPE_CHECKING:  # the isolated worker imports this module and must not load a Redis client
    from redis.asyncio import Redis


class BundleMissing(LookupError):
    """No bundle bytes are stored under a digest."""


class _MemoryImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads modules of registered bundles from their in-memory files."""

    def __init__(self) -> None:
        self.bundles: dict[str, dict[str, bytes]] = {}
        self.users: dict[str, int] = {}

    def acquire(self, package: str, files: dict[str, bytes]) -> None:
        """Register a bundle's files (several runtimes in one process may share one)."""
        self.bundles.setdefault(package, files)
        self.users[package] = self.users.get(package, 0) + 1

    def release(self, package: str) -> None:
        """Drop a bundle and its imported modules once its last user let go."""
        self.users[package] = self.users.get(package, 1) - 1
        if self.users[package] > 0:
            return
        # Invocations still running keep their module objects; only new imports are affected.
        self.users.pop(package, None)
        self.bundles.pop(package, None)
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            sys.modules.pop(name, None)

    def _locate(self, fullname: str) -> tuple[str, bool] | None:
        root, _, rest = fullname.partition(".")
        files = self.bundles.get(root)
        if files is None:
            return None
        relative = rest.replace(".", "/")
        if relative and f"{relative}.py" in files:
            return f"{relative}.py", False
        prefix = f"{relative}/" if relative else ""
        if any(name.startswith(prefix) for name in files):
            return f"{prefix}__init__.py", True
        return None

    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        found = self._locate(fullname)
        if found is None:
            return None
        filename, is_package = found
        spec = importlib.util.spec_from_loader(fullname, self, is_package=is_package)
        if spec is not None:
            spec.origin = f"bundle:{fullname.partition('.')[0]}/{filename}"
            spec.has_location = True
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # default module creation

    def get_source(self, fullname: str) -> str | None:
        """Source of a bundle module (tracebacks show bundle lines through linecache)."""
        found = self._locate(fullname)
        if found is None:
            return None
        files = self.bundles[fullname.partition(".")[0]]
        return files.get(found[0], b"").decode("utf-8")

    def exec_module(self, module: ModuleType) -> None:
        source = self.get_source(module.__name__) or ""
        origin = module.__spec__.origin if module.__spec__ else module.__name__
        module.__file__ = origin
        exec(compile(source, str(origin), "exec", dont_inherit=True), module.__dict__)


_IMPORTER = _MemoryImporter()
sys.meta_path.append(_IMPORTER)


@dataclass(frozen=True)
class LoadedBundle:
    """One version's code in this process: its files, manifest and package name."""

    digest: str
    package: str
    files: dict[str, bytes]
    manifest: Manifest

    def has(self, path: str) -> bool:
        """Whether the bundle holds `path` (relative, e.g. `src/api/webhooks/stripe.py`)."""
        return path in self.files

    def module(self, path: str) -> ModuleType:
        """Import (once) the module at `path` inside this bundle's namespace."""
        dotted = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        return importlib.import_module(f"{self.package}.{dotted}")


def register(digest: str, files: dict[str, bytes], manifest: Manifest) -> LoadedBundle:
    """Make a version's files importable under its own package; `unregister` undoes it."""
    package = package_of(digest)
    _IMPORTER.acquire(package, files)
    return LoadedBundle(digest, package, files, manifest)


def unregister(bundle: LoadedBundle) -> None:
    """Forget a bundle registered with `register` (its modules once the last user let go)."""
    _IMPORTER.release(bundle.package)


def package_of(digest: str) -> str:
    """The unique top-level module name of a digest's code."""
    return "_bundle_" + digest.removeprefix("sha256:")[:32]


class BundleCache:
    """Bundles by digest, loaded from Redis on first use; least recently used evicted first."""

    def __init__(self, redis: Redis, capacity: int = 64) -> None:
        self.redis = redis
        self.capacity = capacity
        self.loaded: OrderedDict[str, LoadedBundle] = OrderedDict()
        self.locks: dict[str, asyncio.Lock] = {}

    async def get(self, digest: str) -> LoadedBundle:
        """The bundle stored under `digest`; BundleMissing or BundleError when unusable."""
        if digest in self.loaded:
            self.loaded.move_to_end(digest)
            return self.loaded[digest]
        lock = self.locks.setdefault(digest, asyncio.Lock())
        async with lock:
            if digest not in self.loaded:
                # bytes: the client is built without decode_responses
                archive: bytes | None = await self.redis.get(bundle_key(digest))  # type: ignore[assignment]
                if archive is None:
                    raise BundleMissing(f"no bundle stored for {digest}")
                self._add(digest, archive)
        self.locks.pop(digest, None)
        return self.loaded[digest]

    def _add(self, digest: str, archive: bytes) -> None:
        files = unpack(archive)
        if MANIFEST_FILE not in files:
            raise BundleError(f"bundle {digest} has no {MANIFEST_FILE}")
        self.loaded[digest] = register(digest, files, manifest_of(archive))
        while len(self.loaded) > self.capacity:
            _, bundle = self.loaded.popitem(last=False)
            unregister(bundle)

    def close(self) -> None:
        """Forget every loaded bundle (modules and files)."""
        for bundle in self.loaded.values():
            unregister(bundle)
        self.loaded.clear()
