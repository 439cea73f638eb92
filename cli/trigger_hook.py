"""`backfill trigger hook`: run one hook of the `backfill dev` draft on a record from a file.

Needs a running `backfill dev` session of DIR's extension (its installation and session id).
Prints the hook's answer (allowed with its changes, or its validation errors), then the
draft invocation's log lines once the logs service has them.
"""

from __future__ import annotations

import json as jsonlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.dev import load_session
from cli.errors import CliError, ExitCode
from cli.logs import fetch as fetch_lines
from cli.logs import format_line
from cli.output import emit_json, out

if TYPE_CHECKING:
    from cli.api import Api


def read_record(path: Path | None, option: str) -> dict[str, Any] | None:
    """A JSON object from a file (None without a file); a usage error names the option."""
    if path is None:
        return None
    try:
        data = jsonlib.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CliError(f"{option} {path}: {error}", ExitCode.USAGE) from None
    if not isinstance(data, dict):
        raise CliError(f"{option} {path} must hold one JSON object", ExitCode.USAGE)
    return data


def invocation_lines(
    client: Api, key: str, invocation_id: str, filters: dict[str, str]
) -> list[dict[str, Any]]:
    """One invocation's log lines, oldest first (waits up to 10 s for the logs service).

    `filters` are the Logs API's (for a hook: session, script type `hook`, entity, event).
    """
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            params = {"since": time.time() - 120, "limit": 500, **filters}
            lines = fetch_lines(client, key, params)
        except CliError:
            return []
        mine = [line for line in lines if line.get("invocation_id") == invocation_id]
        if mine:
            return list(reversed(mine))
        time.sleep(0.3)
    return []


def trigger_hook(
    client: Api,
    key: str,
    *,
    entity: str,
    event: str,
    record: dict[str, Any] | None,
    previous: dict[str, Any] | None,
    json: bool,
) -> bool:
    """Run the draft hook and print its answer and lines; True when it allowed the write."""
    session = load_session(key)
    if not session.get("session_id") or not session.get("installation_id"):
        raise CliError(
            f"no `backfill dev` session of {key} is running",
            ExitCode.NOT_FOUND,
            "start one: backfill dev <dir>",
        )
    body = {
        "session_id": session["session_id"],
        "entity": entity,
        "event": event,
        "record": record,
        "previous": previous,
    }
    path = f"/v1/installations/{session['installation_id']}/hooks/trigger"
    answer = client.post("ingress", path, json=body)
    filters = {
        "session_id": session["session_id"],
        "script_type": "hook",
        "entity": entity,
        "event": event,
    }
    lines = invocation_lines(client, key, answer["invocation_id"], filters)
    if json:
        emit_json({"answer": answer, "log": lines})
        return bool(answer["allowed"])
    verdict = "allowed" if answer["allowed"] else "refused"
    out.print(f"{answer['hook']} {event} on {entity}: {verdict} ({answer['outcome']})")
    for error in answer.get("errors", []):
        out.print(f"  {error.get('field') or '(record)'}: {error['message']}")
    if answer.get("changes"):
        out.print(f"  changes: {jsonlib.dumps(answer['changes'])}")
    if answer.get("error"):
        out.print(f"  error: {answer['error']}")
    for line in lines:
        out.print(format_line(line))
    return bool(answer["allowed"])
