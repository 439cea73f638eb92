"""`backfill versions`, `rollback` and `promote`: every deployed version and switching between them.

Switching is the registry's atomic cutover (in-flight invocations finish on the old version).
Before a switch the CLI shows what it changes: the permission diff for a rollback (asking
before one that widens what the extension may reach) and the observation report for a
promote. `--yes` skips the question for scripts; without it and without an answer, nothing
switches and the exit code is 6.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from cli.errors import CliError, ExitCode
from cli.output import (
    JsonOption,
    RegistryOption,
    TokenOption,
    YesOption,
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


def confirm(question: str) -> bool:
    """Ask on stderr (reads a piped answer too); no answer counts as no."""
    try:
        answer = bool(typer.confirm(question, default=False, err=True))
    except typer.Abort:
        answer = False
    if not sys.stdin.isatty():
        err.print()  # a piped answer is not echoed: end the prompt's line
    return answer


def installations_of(client: Api, key: str) -> list[dict[str, Any]]:
    """The workspace's installations of extension `key`."""
    return [i for i in client.get("registry", "/v1/installations/") if i["extension_key"] == key]


def resolve_installations(client: Api, name: str) -> list[dict[str, Any]]:
    """NAME is an installation id, or an extension key standing for all its installations."""
    installations = client.get("registry", "/v1/installations/")
    chosen = [i for i in installations if name in (i["id"], i["extension_key"])]
    if not chosen:
        raise CliError(
            f"no installation or installed extension named {name!r}",
            ExitCode.NOT_FOUND,
            "`backfill installations` lists them",
        )
    return chosen


def state_of(version: dict[str, Any], running: dict[str, list[str]]) -> list[str]:
    """What a version is now: active where installations run it (after a rollback the
    workspace's newest deploy may run nowhere: it is then only what new installs get)."""
    states = [s for s in version["state"] if s != "active"]
    runs = running.get(version["version_id"], [])
    if any("(" not in label for label in runs):
        states.insert(0, "active")
    elif "active" in version["state"]:
        anywhere = any("(" not in label for labels in running.values() for label in labels)
        states.insert(0, "new installs" if anywhere else "active")
    return states


@app.command()
def versions(
    key: Annotated[str, typer.Argument(help="the extension key")],
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Every version of KEY: id, semver, state, deployed at and by, digest, installations."""
    client = api(token, registry)
    history = client.get("registry", f"/v1/extensions/{key}/versions")
    running: dict[str, list[str]] = {}
    for installation in installations_of(client, key):
        for role in ("active", "observation", "draft"):
            version = installation.get(role)
            if version:
                label = installation["id"] + ("" if role == "active" else f" ({role})")
                running.setdefault(version["version_id"], []).append(label)
    emails = {m["id"]: m["email"] for m in client.get("registry", "/v1/members")}
    rows = [
        {
            **v,
            "state": state_of(v, running),
            "deployed_by": emails.get(v["deployed_by"], v["deployed_by"]),
            "installations": running.get(v["version_id"], []),
        }
        for v in history
    ]
    if json:
        emit_json(rows)
        return
    table(
        f"{key}: {len(rows)} version(s), oldest first",
        ["version id", "semver", "state", "deployed at", "by", "digest", "installations"],
        [
            (
                v["version_id"],
                v["label"],
                ", ".join(v["state"]),
                when(v["deployed_at"]),
                v["deployed_by"],
                v["digest"].removeprefix("sha256:")[:12],
                ", ".join(v["installations"]),
            )
            for v in rows
        ],
    )


def _pick_target(client: Api, installation: dict[str, Any], to: str | None) -> dict[str, Any]:
    """The version `to` names (id or semver), else the one deployed before the active one."""
    history = client.get("registry", f"/v1/extensions/{installation['extension_key']}/versions")
    if to:
        matches = [v for v in history if to == v["version_id"]] or [
            v for v in history if to == v["label"]
        ]
        if len(matches) > 1:
            named = ", ".join(v["version_id"] for v in matches)
            raise CliError(
                f"{len(matches)} versions are labelled {to!r}: {named}",
                ExitCode.USAGE,
                "pass --to with a version id",
            )
        if not matches:
            raise CliError(
                f"{installation['extension_key']} has no version {to!r}",
                ExitCode.NOT_FOUND,
                f"`backfill versions {installation['extension_key']}` lists them",
            )
        return matches[-1]
    active = (installation.get("active") or {}).get("version_id")
    ids = [v["version_id"] for v in history]
    earlier = history[: ids.index(active)] if active in ids else []
    released = [v for v in earlier if not is_draft_label(v["label"])]
    if not released:
        raise CliError(
            f"{installation['id']} has no earlier version to roll back to",
            ExitCode.NOT_FOUND,
            "name one with --to",
        )
    return released[-1]


def is_draft_label(label: str) -> bool:
    """`backfill dev` labels drafts `<version>-dev.<session>`."""
    return "-dev." in label


def _print_diff(diff: dict[str, Any]) -> None:
    for change, colour, sign in (("added", "yellow", "+"), ("removed", "green", "-")):
        for kind in ("entities", "hosts", "secrets"):
            for item in diff[change].get(kind, []):
                noun = "entity" if kind == "entities" else kind[:-1]
                err.print(f"    [{colour}]{sign} {noun} {item}[/{colour}]")


@app.command()
def rollback(
    target: Annotated[
        str, typer.Argument(help="an installation id, or a key (all its installations)")
    ],
    to: Annotated[
        str | None, typer.Option(help="version id or semver (default: the previous one)")
    ] = None,
    yes: YesOption = False,
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Make an earlier version active, showing the permission diff first.

    A rollback that widens permissions (entities, hosts or secrets the running version does
    not have) asks for confirmation; without --yes or a "y", nothing changes (exit 6).
    """
    client = api(token, registry)
    results = []
    for installation in resolve_installations(client, target):
        version = _pick_target(client, installation, to)
        iid = installation["id"]
        diff = client.get(
            "registry",
            f"/v1/installations/{iid}/upgrade-diff",
            params={"to": version["version_id"]},
        )
        err.print(f"{iid}: {diff['from_version']} → {version['version_id']} ({version['label']})")
        _print_diff(diff)
        if diff["widens"]:
            err.print(
                "  [bold yellow]this rollback widens what the extension may reach[/bold yellow]"
            )
            if not yes and not confirm(f"Roll {iid} back and grant the added permissions?"):
                raise CliError(
                    f"{iid}: not rolled back (widening not confirmed)",
                    ExitCode.NEEDS_CONFIRMATION,
                    "answer y, or pass --yes in scripts",
                )
        done = client.post(
            "registry",
            f"/v1/installations/{iid}/rollback",
            json={"to": version["version_id"], "approve_permissions": bool(diff["widens"])},
        )
        results.append(done)
        if not json:
            out.print(f"{iid}: {version['version_id']} ({version['label']}) is now active")
    if json:
        emit_json(results)


def _observation_report(client: Api, installation_id: str) -> dict[str, Any] | None:
    response = client.request(
        "logs", "GET", f"/v1/installations/{installation_id}/observation-report", allow=(404, 405)
    )
    return response.json() if response.status_code == 200 else None


def _print_report(installation_id: str, report: dict[str, Any] | None) -> None:
    if report is None:
        err.print(
            f"  {installation_id}: [dim]no observation report available (logs service has none)"
            " — check `backfill logs` for the observation version's would-writes[/dim]"
        )
        return
    err.print(f"  {installation_id}: observation report")
    if "candidate_version_id" in report:
        err.print(
            f"    {report.get('active_version_id')} (active) vs {report['candidate_version_id']}:"
            f" compared {report.get('compared_active', 0)} / {report.get('compared_candidate', 0)}"
            f" records, {report.get('identical', 0)} identical,"
            f" {report.get('keys_with_differences', 0)} with differences"
        )
        only_a, only_c = report.get("only_active") or [], report.get("only_candidate") or []
        err.print(f"    only active: {len(only_a)}, only candidate: {len(only_c)}")
        for counts in report.get("counts") or []:
            err.print(
                f"    {counts['canonical_type']}: {counts['active']} active,"
                f" {counts['candidate']} candidate"
            )
        problems = report.get("candidate_errors", 0), report.get("candidate_denials", 0)
        style = "red" if any(problems) else "green"
        err.print(f"    [{style}]candidate errors: {problems[0]}, denials: {problems[1]}[/{style}]")
        for diff in (report.get("differences") or [])[:5]:
            change = f"{diff['active']!r} → {diff['candidate']!r}"
            err.print(f"    ~ {diff['idempotency_key']} {diff['path']}: {escape(change)}")
        return
    for name, value in report.items():
        if isinstance(value, int | float | str):
            err.print(f"    {name}: {value}")
        elif isinstance(value, dict):
            err.print(f"    {name}: " + ", ".join(f"{k}={v}" for k, v in value.items()))
        elif isinstance(value, list):
            err.print(f"    {name}: {len(value)}")


@app.command()
def promote(
    key: Annotated[str, typer.Argument(help="the extension key")],
    yes: YesOption = False,
    token: TokenOption = None,
    registry: RegistryOption = None,
    json: JsonOption = False,
) -> None:
    """Make the observation version of KEY active, after showing its observation report."""
    client = api(token, registry)
    reports = {}
    installations = client.request("registry", "GET", "/v1/installations/", allow=(404, 405))
    for installation in installations.json() if installations.status_code == 200 else []:
        if installation["extension_key"] == key and installation.get("observation"):
            reports[installation["id"]] = _observation_report(client, installation["id"])
            _print_report(installation["id"], reports[installation["id"]])
    if not yes and not confirm(f"Promote the observation version of {key} to active?"):
        raise CliError(
            f"{key}: not promoted", ExitCode.NEEDS_CONFIRMATION, "answer y, or pass --yes"
        )
    promoted = client.post("registry", f"/v1/extensions/{key}/promote")
    if json:
        emit_json({"promoted": promoted, "observation_reports": reports})
        return
    out.print(f"{key}: {promoted.get('version_id')} is now active")
