"""`backfill replay INSTALLATION`: run stored deliveries again, with progress and a summary.

Each delivery is re-verified with the secret revision that accepted it and run through the
active version (or `--version`, which then runs observed: its writes are intercepted).
Records already ingested come back as duplicates, so replaying is safe to repeat. A range is
replayed oldest first, one delivery at a time, so the progress bar is real; deliveries that
were refused on arrival (bad signature, malformed) have no stored body and are skipped.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from cli.errors import CliError, ExitCode
from cli.logs import parse_since
from cli.output import (
    JsonOption,
    RegistryOption,
    TokenOption,
    api,
    emit_json,
    err,
    out,
    table,
    when,
)

if TYPE_CHECKING:
    from cli.api import Api

app = typer.Typer()
NOT_STORED = {"rejected", "malformed"}


def _window(
    client: Api, installation: str, since: float, until: float | None
) -> list[dict[str, Any]]:
    """Stored deliveries received in [since, until), oldest first."""
    found: list[dict[str, Any]] = []
    before = until
    while True:
        params: dict[str, Any] = {"limit": 500, **({"before": before} if before else {})}
        page = client.get("ingress", f"/v1/installations/{installation}/deliveries", params=params)
        for delivery in page["deliveries"]:
            if delivery["received_at"] < since:
                return list(reversed(found))
            if (until is None or delivery["received_at"] < until) and delivery[
                "outcome"
            ] not in NOT_STORED:
                found.append(delivery)
        before = page.get("next_before")
        if not before or not page["deliveries"]:
            return list(reversed(found))


def _version_id(client: Api, installation: str, version: str | None) -> str | None:
    if version is None:
        return None
    key = client.get("registry", f"/v1/installations/{installation}")["extension_key"]
    history = client.get("registry", f"/v1/extensions/{key}/versions")
    for candidate in reversed(history):
        if version in (candidate["version_id"], candidate["label"]):
            return str(candidate["version_id"])
    raise CliError(
        f"{key} has no version {version!r}", ExitCode.NOT_FOUND, f"`backfill versions {key}`"
    )


@app.command()
def replay(
    installation: Annotated[str, typer.Argument(help="the installation id")],
    delivery: Annotated[str | None, typer.Option(help="one delivery id")] = None,
    since: Annotated[
        str | None, typer.Option(help="from: 30m, 2h, 1d, ISO time or unix time")
    ] = None,
    until: Annotated[str | None, typer.Option(help="to (exclusive); default: now")] = None,
    version: Annotated[str | None, typer.Option(help="run this version (observed) instead")] = None,
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Replay one delivery (--delivery) or every delivery received in a window (--since)."""
    if (delivery is None) == (since is None):
        raise typer.BadParameter("choose one of --delivery and --since", param_hint="--since")
    client = api(token, registry, timeout=120)
    version_id = _version_id(client, installation, version)
    body = {"version_id": version_id} if version_id else None
    if delivery is not None:
        targets = [client.get("ingress", f"/v1/installations/{installation}/deliveries/{delivery}")]
    else:
        start = parse_since(since)
        assert start is not None
        targets = _window(client, installation, start, parse_since(until))
    results: list[dict[str, Any]] = []
    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
        disable=json,
    ) as progress:
        task = progress.add_task("", total=len(targets))
        for target in targets:
            path = f"/v1/installations/{installation}/deliveries/{target['delivery_id']}/replay"
            try:
                result = client.post("ingress", path, json=body)
            except CliError as error:
                result = {
                    "delivery_id": target["delivery_id"],
                    "outcome": "failed",
                    "reason": error.message,
                    "records": [],
                }
            results.append(
                {
                    **result,
                    "received_at": target["received_at"],
                    "event_type": target.get("event_type"),
                }
            )
            progress.update(task, advance=1, description=target["delivery_id"])
    outcomes = Counter(r["outcome"] for r in results)
    records = [rec for r in results for rec in r.get("records") or []]
    summary = {
        "deliveries": len(results),
        "outcomes": dict(outcomes),
        "records_published": sum(1 for rec in records if not rec["duplicate"]),
        "records_duplicate": sum(1 for rec in records if rec["duplicate"]),
        "observed": sum(r.get("observed", 0) for r in results),
        "invalid_signature": sum(1 for r in results if r.get("signature") == "invalid"),
    }
    if json:
        emit_json({"summary": summary, "results": results})
    else:
        table(
            None,
            ["delivery", "received", "event", "outcome", "status", "records", "duplicates"],
            [
                (
                    r["delivery_id"],
                    when(r["received_at"]),
                    r.get("event_type"),
                    r["outcome"],
                    r.get("status"),
                    sum(1 for rec in r.get("records") or [] if not rec["duplicate"]),
                    sum(1 for rec in r.get("records") or [] if rec["duplicate"]),
                )
                for r in results
            ],
        )
        out.print(
            f"replayed {summary['deliveries']} deliveries: "
            + ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
            + f"; {summary['records_published']} record(s) published, "
            f"{summary['records_duplicate']} duplicate(s)"
            + (f", {summary['observed']} observed" if summary["observed"] else "")
        )
    if not results:
        raise CliError("no stored deliveries in that window", ExitCode.NOT_FOUND, "widen --since")
    if any(r["outcome"] == "failed" or r.get("signature") == "invalid" for r in results):
        raise typer.Exit(int(ExitCode.FAILED))
