"""Entry points of a bundle: which file serves an invocation and how it is called.

Routes are file-routed: `/webhooks/stripe` → `src/api/webhooks/stripe.py` (or
`.../stripe/index.py`) exporting one handler per HTTP method. A stream runs its manifest
`entry` (relative to the bundle, or to `src/`) `fetch(ctx, cursor)`; a scheduled job its
manifest `entry` `run(ctx)`. Test connection runs `test_connection(ctx)` from
`src/connection.py`. A `validate` invocation (deploy time) compiles and imports the whole
bundle instead (`runtime.validation`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace
from typing import Any

from contracts.manifest import Job, Stream
from runtime.hooks import run_hook
from runtime.interface import HttpResponse, Invocation
from runtime.loader import LoadedBundle
from runtime.pages import CheckedPage, check_page, record_key
from runtime.scope import InvocationScope
from runtime.ui_entries import UI_KINDS, run_ui_entry, ui_script_path
from runtime.validation import CONNECTION_FILES, report, route_candidates, script_candidates
from sdk.api import Request, Route
from sdk.bundle import MANIFEST_FILE
from sdk.streams import ConnectionResult, Context


class EntryNotFound(LookupError):
    """The bundle has no code for this entry point."""


@dataclass(frozen=True)
class EntryOutcome:
    """What an entry point produced besides emissions and logs."""

    response: HttpResponse | None = None
    page: CheckedPage | None = None


def script_path(bundle: LoadedBundle, invocation: Invocation) -> str:
    """The bundle file that serves `invocation`; EntryNotFound if none does."""
    if invocation.kind in ("webhook", "route"):
        candidates = route_candidates(invocation.entry)
    elif invocation.kind == "stream":
        candidates = script_candidates(stream_of(bundle, invocation).entry)
    elif invocation.kind == "job":
        candidates = script_candidates(job_of(bundle, invocation).entry)
    elif invocation.kind == "test_connection":
        candidates = list(CONNECTION_FILES)
    elif invocation.kind == "hook":
        candidates = script_candidates(invocation.entry)
    elif invocation.kind in UI_KINDS:
        candidates = ui_script_path(bundle, invocation)
    elif invocation.kind == "validate":
        candidates = [MANIFEST_FILE]  # the whole bundle is checked; the manifest always exists
    else:
        raise EntryNotFound(f"entry kind {invocation.kind!r} is not supported by this runtime")
    for candidate in candidates:
        if ".." not in candidate.split("/") and bundle.has(candidate):
            return candidate
    raise EntryNotFound(
        f"no file for {invocation.kind} {invocation.entry!r} (looked for {candidates[0]})"
    )


def stream_of(bundle: LoadedBundle, invocation: Invocation) -> Stream:
    """The manifest's stream named by the invocation's entry."""
    for stream in bundle.manifest.streams:
        if stream.name == invocation.entry:
            return stream
    raise EntryNotFound(f"the manifest declares no stream {invocation.entry!r}")


def job_of(bundle: LoadedBundle, invocation: Invocation) -> Job:
    """The manifest's job named by the invocation's entry."""
    for job in bundle.manifest.jobs:
        if job.name == invocation.entry:
            return job
    raise EntryNotFound(f"the manifest declares no job {invocation.entry!r}")


async def run_entry(
    bundle: LoadedBundle, path: str, scope: InvocationScope, invocation: Invocation
) -> EntryOutcome:
    """Import the file and call its entry point with the scope's capabilities bound."""
    if invocation.kind == "validate":
        return EntryOutcome(response=HttpResponse(status=200, body=report(bundle)))
    module = bundle.module(path)
    if invocation.kind in ("webhook", "route"):
        return EntryOutcome(response=await _route(module, invocation))
    if invocation.kind == "hook":
        return EntryOutcome(response=await run_hook(bundle, module, scope, invocation))
    if invocation.kind in UI_KINDS:
        return EntryOutcome(response=await run_ui_entry(bundle, path, scope, invocation))
    ctx = Context(
        installation_id=invocation.installation.installation_id,
        extension_key=invocation.installation.extension_key,
        settings=scope.settings,
    )
    if invocation.kind == "stream":
        stream = stream_of(bundle, invocation)
        return EntryOutcome(page=await _stream(module, stream, scope, invocation, ctx))
    if invocation.kind == "job":
        run = getattr(module, "run", None)
        if run is None:
            raise EntryNotFound(f"{job_of(bundle, invocation).entry} exports no run(ctx)")
        await _settle(run(ctx))
        return EntryOutcome()
    return EntryOutcome(response=await _test_connection(module, ctx))


async def _settle(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _route(module: Any, invocation: Invocation) -> HttpResponse:
    given = invocation.request
    method = given.method.upper() if given else "POST"
    handler = getattr(module, method, None)
    if handler is None:
        return HttpResponse(status=405, body={"error": f"{method} is not handled here"})
    request = Request(
        method=method,
        path=given.path if given else invocation.entry,
        raw_body=given.body if given else b"",
        headers=given.headers if given else {},
        query=given.query if given else {},
        params=given.params if given else {},
    )
    if not isinstance(handler, Route):
        handler = Route(handler)
    return await handler(request)


async def _stream(
    module: Any, stream: Stream, scope: InvocationScope, invocation: Invocation, ctx: Context
) -> CheckedPage:
    fetch = getattr(module, "fetch", None)
    if fetch is None:
        raise EntryNotFound(f"{stream.entry} exports no fetch(ctx, cursor)")
    ctx = replace(ctx, stream=stream.name, canonical_type=stream.canonical_type)
    page = check_page(await _settle(fetch(ctx, invocation.cursor)))
    key_prefix = invocation.installation.extension_key
    for record in page.records:
        key = record_key(key_prefix, stream.canonical_type, record)
        scope.ingest(stream.canonical_type, record, stream.name, key)
    return page


async def _test_connection(module: Any, ctx: Context) -> HttpResponse:
    check = getattr(module, "test_connection", None)
    if check is None:
        raise EntryNotFound("src/connection.py exports no test_connection(ctx)")
    result = await _settle(check(ctx))
    if isinstance(result, ConnectionResult):
        ok, message = result.ok, result.message
    elif isinstance(result, dict):
        ok, message = bool(result.get("ok")), str(result.get("message", ""))
    elif isinstance(result, tuple):
        ok, message = bool(result[0]), str(result[1]) if len(result) > 1 else ""
    else:
        ok, message = bool(result), ""
    return HttpResponse(status=200, body={"ok": ok, "message": message})
