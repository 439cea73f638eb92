"""Deploy-time validation of a bundle: every script compiles, every entry point imports and
exports what the platform will call.

Runs as the `validate` invocation kind, so in the isolated runtime the imports happen in a
locked-down worker, exactly where the code will later run (module-level code that reaches
for something its manifest does not grant fails here too). The answer is a list of
`Problem`s (file, line, message) in `response.body["problems"]`; empty means deployable.

Extending it: an entry kind is one row of `REQUIRED_EXPORTS` (what its file must export)
and one function in `ENTRY_LISTERS` that lists a manifest's entries of that kind with the
candidate files `runtime.entrypoints` would load for them.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from contracts.installations import InstallationSnapshot, VersionRef
from contracts.manifest import Manifest
from runtime.interface import Invoker
from runtime.invocations import new_invocation
from runtime.loader import LoadedBundle
from sdk.bundle import MANIFEST_FILE

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CONNECTION_FILES = ("src/connection.py", "src/test_connection.py")


def route_candidates(route: str) -> list[str]:
    """The files that may serve a webhook or route path, in the order they are tried."""
    path = route.strip("/")
    return [f"src/api/{path}.py", f"src/api/{path}/index.py"]


def script_candidates(entry: str) -> list[str]:
    """The files a manifest `entry` (stream, job, hook) may name: bundle- or `src/`-relative."""
    return [entry, f"src/{entry}"]


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """Why a bundle cannot be deployed: the bundle file, the line (0: none) and a message."""

    file: str
    line: int = 0
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Entry:
    """One entry point a manifest declares: its kind, name and where its file may be."""

    kind: str
    name: str
    candidates: tuple[str, ...]


# kind → (exports the file must have, whether one of them is enough, what to say when none).
REQUIRED_EXPORTS: dict[str, tuple[tuple[str, ...], bool, str]] = {
    "webhook": (("POST",), True, "POST (the webhook handler, e.g. POST = api(receive))"),
    "route": (HTTP_METHODS, False, "a handler named after an HTTP method (GET, POST, …)"),
    "stream": (("fetch",), True, "fetch(ctx, cursor)"),
    "job": (("run",), True, "run(ctx)"),
    "test_connection": (("test_connection",), True, "test_connection(ctx)"),
}


def _webhook(manifest: Manifest, files: dict[str, bytes]) -> Iterable[Entry]:
    if manifest.webhooks is not None:
        endpoint = manifest.webhooks.endpoint
        yield Entry("webhook", endpoint, tuple(route_candidates(endpoint)))


def _streams(manifest: Manifest, files: dict[str, bytes]) -> Iterable[Entry]:
    for stream in manifest.streams:
        yield Entry("stream", stream.name, tuple(script_candidates(stream.entry)))


def _jobs(manifest: Manifest, files: dict[str, bytes]) -> Iterable[Entry]:
    for job in manifest.jobs:
        yield Entry("job", job.name, tuple(script_candidates(job.entry)))


def _connection(manifest: Manifest, files: dict[str, bytes]) -> Iterable[Entry]:
    declared = manifest.connection is not None and manifest.connection.test_connection
    if declared or any(name in files for name in CONNECTION_FILES):
        yield Entry("test_connection", "test_connection", CONNECTION_FILES)


ENTRY_LISTERS: list[Callable[[Manifest, dict[str, bytes]], Iterable[Entry]]] = [
    _webhook,
    _streams,
    _jobs,
    _connection,
]


def entries_of(manifest: Manifest, files: dict[str, bytes]) -> list[Entry]:
    """Every entry point the manifest declares (and a connection test the bundle ships)."""
    return [entry for lister in ENTRY_LISTERS for entry in lister(manifest, files)]


def validate_bundle(bundle: LoadedBundle) -> list[Problem]:
    """Compile every script, then import each entry file and check its exports."""
    problems = [p for name in sorted(bundle.files) if (p := _compile(bundle, name))]
    broken = {p.file for p in problems}
    for entry in entries_of(bundle.manifest, bundle.files):
        path = next((c for c in entry.candidates if _safe(c) and bundle.has(c)), None)
        if path is None:
            problems.append(
                Problem(
                    file=entry.candidates[0],
                    message=f"{entry.kind} {entry.name!r}: the file is missing",
                )
            )
            continue
        if path in broken:
            continue
        try:
            module = bundle.module(path)
        except BaseException as error:  # the code's own failure at import: report, go on
            problems.append(_import_problem(bundle, path, error))
            broken.add(path)
            continue
        exports, all_needed, wanted = REQUIRED_EXPORTS[entry.kind]
        have = [name for name in exports if callable(getattr(module, name, None))]
        if (all_needed and len(have) < len(exports)) or not have:
            problems.append(
                Problem(file=path, message=f"{entry.kind} {entry.name!r}: exports no {wanted}")
            )
    return problems


def _safe(path: str) -> bool:
    return ".." not in path.split("/")


def _compile(bundle: LoadedBundle, name: str) -> Problem | None:
    if not name.endswith(".py"):
        return None
    try:
        compile(bundle.files[name], name, "exec", dont_inherit=True)
    except SyntaxError as error:
        return Problem(file=name, line=error.lineno or 0, message=_syntax_message(error))
    except ValueError as error:  # null bytes and the like
        return Problem(file=name, message=str(error))
    return None


def _syntax_message(error: SyntaxError) -> str:
    text = (error.text or "").strip()
    detail = f" ({text})" if text else ""
    return f"{type(error).__name__}: {error.msg}{detail}"


def _import_problem(bundle: LoadedBundle, path: str, error: BaseException) -> Problem:
    """Where in the bundle the import failed: the innermost frame in a bundle file."""
    prefix = f"bundle:{bundle.package}/"
    file, line = path, 0
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename.startswith(prefix):
            file, line = frame.filename.removeprefix(prefix), frame.lineno or 0
    if isinstance(error, SyntaxError) and (error.filename or "").startswith(prefix):
        file, line = (error.filename or "").removeprefix(prefix), error.lineno or 0
    message = f"{type(error).__name__}: {error}"
    if file != path:
        message += f" (importing {path})"
    return Problem(file=file, line=line, message=message)


def report(bundle: LoadedBundle) -> dict[str, Any]:
    """The `validate` invocation's answer body."""
    return {"problems": msgspec.to_builtins(validate_bundle(bundle))}


def problems_of(body: Any) -> list[Problem]:
    """Decode the `validate` answer body."""
    return msgspec.convert((body or {}).get("problems", []), list[Problem])


class ValidationUnavailable(RuntimeError):
    """The bundle could not be checked (no worker, a broken runtime): deploy nothing, retry."""


async def validate_version(
    invoker: Invoker, workspace_id: str, version: VersionRef
) -> list[Problem]:
    """Run the `validate` invocation of `version` (its bundle must be stored already).

    The invocation belongs to no installation: a placeholder one per workspace, so in the
    isolated runtime a worker checking one workspace's code never serves another's.
    """
    placeholder = InstallationSnapshot(
        installation_id=f"validate-{workspace_id}",
        workspace_id=workspace_id,
        extension_key=version.manifest.key,
        kind=version.manifest.kind,
        revision=0,
        state="pending",
        updated_at=0.0,
    )
    invocation = new_invocation(
        placeholder, version, kind="validate", entry="validate", mode="draft"
    )
    result = await invoker.invoke(invocation)
    if result.outcome == "ok" and result.response is not None:
        return problems_of(result.response.body)
    if result.outcome == "timeout":
        return [
            Problem(file=MANIFEST_FILE, message=f"importing the scripts timed out: {result.error}")
        ]
    raise ValidationUnavailable(result.error or result.outcome)
