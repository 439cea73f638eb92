"""`backfill versions`, `rollback`, `promote`: the real CLI process against a real registry."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Suite, run, run_json, write_extension


async def _two_versions(suite: Suite, tmp_path: Path, token: str) -> tuple[str, str, str]:
    """notes v1 (two hosts) then v2 (one host, active); installed once. (install, v1, v2)."""
    env = suite.env(token, tmp_path)
    key = "notes"
    code, v1, err = await run(
        "deploy",
        str(write_extension(tmp_path / "v1", key, "1.0.0", ["a.example.com", "b.example.com"])),
        env=env,
    )
    assert code == 0, err
    installed = await run_json("install", key, env=env)
    deployed = await run_json(
        "deploy", str(write_extension(tmp_path / "v2", key, "2.0.0", ["a.example.com"])), env=env
    )
    assert (deployed["key"], deployed["label"], deployed["created"]) == (key, "2.0.0", True)
    return installed["id"], v1.strip(), deployed["version_id"]


async def test_versions_lists_every_version_with_state_and_installations(
    suite: Suite, tmp_path: Path
):
    token = await suite.workspace()
    installation, v1, v2 = await _two_versions(suite, tmp_path, token)
    rows = await run_json("versions", "notes", env=suite.env(token, tmp_path))
    assert [(r["version_id"], r["label"]) for r in rows] == [(v1, "1.0.0"), (v2, "2.0.0")]
    assert rows[1]["state"] == ["active"] and rows[1]["installations"] == [installation]
    code, out, _ = await run("versions", "notes", env=suite.env(token, tmp_path))
    assert code == 0 and v1 in out and "2.0.0" in out


async def test_widening_rollback_refuses_without_confirmation(suite: Suite, tmp_path: Path):
    token = await suite.workspace()
    installation, v1, v2 = await _two_versions(suite, tmp_path, token)
    env = suite.env(token, tmp_path)

    code, _, err = await run("rollback", installation, env=env, stdin=b"n\n")
    assert code == 6, err
    assert "+ host b.example.com" in err and "widens" in err
    state = await suite.api(token, "GET", "registry", f"/v1/installations/{installation}")
    assert state["active"]["version_id"] == v2

    code, _, err = await run("rollback", installation, env=env)  # no answer at all
    assert code == 6, err

    code, _out, err = await run("rollback", "notes", "--to", "1.0.0", "--yes", env=env)
    assert code == 0, err
    state = await suite.api(token, "GET", "registry", f"/v1/installations/{installation}")
    assert state["active"]["version_id"] == v1
    # After the rollback, versions says which one runs (it marked 2.0.0 active before) and
    # who deployed each, by email.
    rows = await run_json("versions", "notes", env=env)
    assert [r["state"] for r in rows] == [["active"], ["new installs"]]
    assert rows[0]["installations"] == [installation]
    assert {r["deployed_by"] for r in rows} == {"admin@example.com"}


async def test_narrowing_rollback_needs_no_confirmation(suite: Suite, tmp_path: Path):
    token = await suite.workspace()
    installation, _v1, v2 = await _two_versions(suite, tmp_path, token)
    env = suite.env(token, tmp_path)
    assert (await run("rollback", installation, "--yes", env=env))[0] == 0
    # Forward again from v1 to v2 by "rolling back" to it: it only removes a host.
    code, _out, err = await run("rollback", installation, "--to", v2, env=env)
    assert code == 0, err
    assert "- host b.example.com" in err


async def test_promote_shows_the_report_section_and_asks(suite: Suite, tmp_path: Path):
    token = await suite.workspace()
    installation, _, v2 = await _two_versions(suite, tmp_path, token)
    env = suite.env(token, tmp_path)
    code, observed, err = await run(
        "deploy",
        "--observe",
        str(write_extension(tmp_path / "v3", "notes", "3.0.0", ["a.example.com"])),
        env=env,
    )
    assert code == 0, err
    code, _, err = await run("promote", "notes", env=env, stdin=b"n\n")
    assert code == 6 and installation in err  # the report (or its absence) is named per install
    state = await suite.api(token, "GET", "registry", f"/v1/installations/{installation}")
    assert state["active"]["version_id"] == v2
    result = await run_json("promote", "notes", "--yes", env=env)
    assert result["promoted"]["version_id"] == observed.strip()


async def test_unknown_key_exits_not_found_with_a_hint(suite: Suite, tmp_path: Path):
    token = await suite.workspace()
    code, _, err = await run("rollback", "nothing-here", env=suite.env(token, tmp_path))
    assert code == 4 and "backfill installations" in err


async def test_no_token_exits_with_the_auth_code_and_says_how_to_sign_in(
    suite: Suite, tmp_path: Path
):
    code, _, err = await run("versions", "stripe", env=suite.env(None, tmp_path))
    assert code == 3 and "backfill login" in err
