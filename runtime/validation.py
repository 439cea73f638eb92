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
from contracts.routes import HTTP_METHODS, RouteFileError, RouteSpec
from runtime.interface import Invoker
from runtime.invocations import new_invocation
from runtime.loader import LoadedBundle
from runtime.route_table import exports_of, route_files, route_table, webhook_files
from sdk.bundle import MANIFEST_FILE

CONNECTION_FILES = ("src/connection.py", "src/test_connection.py")


def route_candidates(route: str) -> list[str]:
    """The files that may serve a webhook or route path (`/orders/{id}` → `[id].py`)."""
    path = route.strip("/").replace("{", "[").replace("}", "]")
    if not path:
        return ["src/api/index.py"]
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
    **{
        f"hook {event}": ((event,), True, f"{event}(ctx, record, previous)")
        for event in ("before_save", "before_delete", "after_save", "after_delete")
    },
    "page": (("render",), True, "render(ctx)"),
    "ui": (("render",), True, "render(ctx)"),
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


def _hooks(manifest: Manifest, files: dict[str, bytes]) -> Iterable[Entry]:
    """One entry per declared event: the hook's file must export a function for each."""
    for hook in manifest.hooks:
        for event in hook.events:
            yield Entry(f"hook {event}", hook.hook_name, tuple(script_candidates(hook.entry)))


def _routes(manifest: Manifest, files: dict[str, bytes]) -> Iterable[Entry]:
    hooks = webhook_files(manifest)
    for name in route_files(files):
        if name not in hooks:
            yield Entry("route", name, (name,))


def _pages(manifest: Manifest, files: dict[str, bytes]) -> Iterable[Entry]:
    for page in manifest.pages:
        yield Entry("page", page.segment, tuple(script_candidates(page.entry_file)))
    for ui in manifest.ui:
        if ui.entry:
            yield Entry("ui", ui.title, tuple(script_candidates(ui.entry)))


ENTRY_LISTERS: list[Callable[[Manifest, dict[str, bytes]], Iterable[Entry]]] = [
    _webhook,
    _streams,
    _jobs,
    _connection,
    _hooks,
    _routes,
    _pages,
]


def entries_of(manifest: Manifest, files: dict[str, bytes]) -> list[Entry]:
    """Every entry point the manifest declares (and a connection test the bundle ships)."""
    return [entry for lister in ENTRY_LISTERS for entry in lister(manifest, files)]


def validate_bundle(bundle: LoadedBundle) -> list[Problem]:
    """Compile every script, then import each entry file and check its exports."""
    return check_bundle(bundle).problems


class CheckReport(msgspec.Struct, frozen=True, kw_only=True):
    """What the deploy check found: problems, and the route table when there are none."""

    problems: list[Problem]
    routes: list[RouteSpec] = []


def check_bundle(bundle: LoadedBundle) -> CheckReport:
    """Every problem of the bundle; with none, its route table read from the imported modules."""
    problems = [p for name in sorted(bundle.files) if (p := _compile(bundle, name))]
    broken = {p.file for p in problems}
    modules: dict[str, Any] = {}
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
        modules[path] = module
        exports, all_needed, wanted = REQUIRED_EXPORTS[entry.kind]
        have = [name for name in exports if callable(getattr(module, name, None))]
        if (all_needed and len(have) < len(exports)) or not have:
            problems.append(
                Problem(file=path, message=f"{entry.kind} {entry.name!r}: exports no {wanted}")
            )
    problems += _page_actions(bundle.manifest, modules)
    if problems:
        return CheckReport(problems=problems)
    try:  # the modules imported above: the table costs no second import
        exported = {name: exports_of(bundle.module(name)) for name in route_files(bundle.files)}
        return CheckReport(problems=[], routes=route_table(bundle.manifest, exported))
    except RouteFileError as error:
        return CheckReport(problems=[Problem(file=error.file, message=error.message)])


def _page_actions(manifest: Manifest, modules: dict[str, Any]) -> list[Problem]:
    """Each page action the manifest declares is exported (`actions[name]` or `name`)."""
    problems = []
    for page in manifest.pages:
        path = next((c for c in script_candidates(page.entry_file) if c in modules), None)
        module = modules.get(path or "")
        if module is None:
            continue
        table = getattr(module, "actions", None)
        for action in page.actions:
            found = table.get(action.name) if isinstance(table, dict) else None
            if not callable(found or getattr(module, action.name, None)):
                problems.append(
                    Problem(
                        file=str(path),
                        message=f"page {page.segment!r}: exports no action "
                        f"{action.name}(ctx, input)",
                    )
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
    """The `validate` invocation's answer body: problems and the route table."""
    return msgspec.to_builtins(check_bundle(bundle))  # type: ignore[no-any-return]


def problems_of(body: Any) -> list[Problem]:
    """Decode the `validate` answer body."""
    return report_of(body).problems


def report_of(body: Any) -> CheckReport:
    """Decode the `validate` answer body with its route table."""
    return msgspec.convert({"problems": [], **(body or {})}, CheckReport)


class ValidationUnavailable(RuntimeError):
    """The bundle could not be checked (no worker, a broken runtime): deploy nothing, retry."""


async def validate_version(
    invoker: Invoker, workspace_id: str, version: VersionRef
) -> list[Problem]:
    """The problems of `version` (see `check_version`)."""
    return (await check_version(invoker, workspace_id, version)).problems


async def check_version(invoker: Invoker, workspace_id: str, version: VersionRef) -> CheckReport:
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
        return report_of(result.response.body)
    if result.outcome == "timeout":
        timed_out = f"importing the scripts timed out: {result.error}"
        return CheckReport(problems=[Problem(file=MANIFEST_FILE, message=timed_out)])
    raise ValidationUnavailable(result.error or result.outcome)
