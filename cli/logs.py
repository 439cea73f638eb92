"""`backfill logs`: an extension's log lines, filtered, newest last; `--follow` tails them live.

Against the logs API (`GET /v1/extensions/{key}/logs`, live tail at `.../logs/stream` as
server-sent events). `--follow` goes on by polling once a second when the live tail is not
reachable or drops the client for being too slow.
"""

from __future__ import annotations

import datetime as dt
import json as jsonlib
import re
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from cli.errors import CliError, ExitCode
from cli.output import JsonOption, RegistryOption, TokenOption, api, emit_json, out
from contracts.log_search import Matcher

if TYPE_CHECKING:
    from cli.api import Api

app = typer.Typer()
LEVELS = ["debug", "info", "warn", "error"]
LEVEL_STYLE = {"debug": "dim", "info": "green", "warn": "yellow", "error": "bold red"}
KIND_STYLE = {"denial": "bold white on red", "would_write": "bold cyan", "error": "red"}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def parse_since(value: str | None) -> float | None:
    """`30s`, `15m`, `1h`, `2d` ago; an ISO date-time; or a unix time."""
    if value is None:
        return None
    match = _DURATION.match(value.strip())
    if match:
        seconds = float(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
        return time.time() - seconds
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: use 30s, 15m, 1h, 2d, an ISO date-time or a unix time"
        ) from None


def format_line(line: dict[str, Any]) -> str:
    """One line as Rich markup: time, coloured level, script, message; denials and
    would-writes highlighted."""
    at = dt.datetime.fromtimestamp(line.get("at", 0)).strftime("%H:%M:%S.%f")[:-3]
    level = line.get("level", "info")
    kind = line.get("kind", "log")
    where = line.get("route") or line.get("job") or line.get("script_name") or ""
    mode = line.get("mode", "active")
    tag = "" if mode == "active" else f"[magenta]{mode}[/magenta] "
    message = escape(str(line.get("message", "")))
    if kind in KIND_STYLE:
        style = KIND_STYLE[kind]
        message = f"[{style}]{kind.upper().replace('_', '-')}[/{style}] {message}"
    lvl = LEVEL_STYLE.get(level, "")
    return (
        f"[dim]{at}[/dim] [{lvl}]{level.upper():<5}[/{lvl}] {tag}"
        f"[blue]{escape(line.get('script_type', ''))} {escape(where)}[/blue] {message}"
    )


def matcher(
    level: str | None,
    script_type: str | None,
    grep: str | None,
    installation: str | None,
    session_id: str | None = None,
) -> Callable[[dict[str, Any]], bool]:
    """The client-side filter equal to the query's."""
    floor = LEVELS.index(level) if level else 0
    text = Matcher(grep)

    def matches(line: dict[str, Any]) -> bool:
        return (
            LEVELS.index(line.get("level", "info")) >= floor
            and (script_type is None or line.get("script_type") == script_type)
            and (installation is None or line.get("installation_id") == installation)
            and (session_id is None or line.get("session_id") == session_id)
            and (grep is None or text(str(line.get("message", ""))))
        )

    return matches


def fetch(client: Api, key: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """One page of lines, newest first."""
    query = {k: v for k, v in params.items() if v is not None}
    body = client.get("logs", f"/v1/extensions/{key}/logs", params=query)
    return list(body["items"])  # a LogPage (contracts.answers.logs)


def tail(
    client: Api, key: str, params: dict[str, Any], since: float | None, stop: Callable[[], bool]
) -> Iterator[dict[str, Any]]:
    """New lines as they arrive, oldest first: the SSE tail, else polling once a second."""
    import httpx  # with the client: `--help` does not pay for it

    query = {k: v for k, v in params.items() if v is not None}
    url = f"{client.target.url('logs')}/v1/extensions/{key}/logs/stream"
    try:
        with client.client.stream("GET", url, params=query, timeout=None) as response:
            if response.status_code == 200:
                event = "message"
                for raw in response.iter_lines():
                    if stop():
                        return
                    if raw.startswith("event:"):
                        event = raw[6:].strip()
                    elif raw.startswith("data:") and event == "line":
                        yield jsonlib.loads(raw[5:].strip())
                    elif raw.startswith("data:") and event == "dropped":
                        break  # too slow for the live tail: go on by polling
                    elif not raw:
                        event = "message"
                else:
                    return
    except httpx.HTTPError:
        pass  # no live tail reachable: poll instead
    seen: set[str] = set()
    cursor = since if since is not None else time.time()
    while not stop():
        try:
            lines = fetch(client, key, {**params, "since": cursor, "limit": 1000})
        except CliError:
            time.sleep(1.0)
            continue
        for line in reversed(lines):
            if line["log_id"] not in seen:
                seen.add(line["log_id"])
                yield line
        if lines:
            cursor = max(cursor, max(line["at"] for line in lines) - 5)  # late arrivals
        time.sleep(1.0)


@app.command()
def logs(
    key: Annotated[str, typer.Argument(help="the extension key")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new lines")] = False,
    installation: Annotated[str | None, typer.Option(help="one installation id")] = None,
    level: Annotated[
        str | None, typer.Option(help="minimum level: debug, info, warn, error")
    ] = None,
    script_type: Annotated[str | None, typer.Option(help="hook, job, route or page_action")] = None,
    since: Annotated[
        str | None, typer.Option(help="30s, 15m, 1h, 2d, ISO time or unix time")
    ] = None,
    grep: Annotated[
        str | None,
        typer.Option(
            help="free text: whole words (all of them), `word*` or `*word` for parts of "
            'words, "a phrase" in quotes as written; case-insensitive'
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="lines to print (without --follow)")] = 100,
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Print an extension's log lines (oldest first), or follow them live with --follow."""
    if level is not None and level not in LEVELS:
        raise typer.BadParameter(f"one of {', '.join(LEVELS)}", param_hint="--level")
    client = api(token, registry)
    start = parse_since(since)
    params = {
        "level": level,
        "script_type": script_type,
        "installation_id": installation,
        "since": start,
        "q": grep,
    }
    keep = matcher(level, script_type, grep, installation)
    if not follow:
        lines = [line for line in fetch(client, key, {**params, "limit": limit}) if keep(line)]
        lines = [line for line in lines if start is None or line["at"] >= start][:limit]
        if json:
            emit_json(list(reversed(lines)))
        elif not lines:
            raise CliError(f"no log lines for {key} match", ExitCode.NOT_FOUND, "widen --since")
        for line in reversed(lines):
            if not json:
                out.print(format_line(line))
        return
    try:
        for line in tail(client, key, params, start, lambda: False):
            if not keep(line):
                continue
            if json:
                sys.stdout.write(jsonlib.dumps(line) + "\n")
                sys.stdout.flush()
            else:
                out.print(format_line(line))
    except KeyboardInterrupt:
        return
