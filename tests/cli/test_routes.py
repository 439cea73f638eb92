"""`backfill init` scaffolds a page, an action and a route; `backfill dev` serves the draft's
route under the session URL; `backfill routes` lists an installation's URLs."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.cli.conftest import Suite, run, run_json
from tests.cli.test_dev import running_dev
from tests.harness import eventually


async def test_dev_serves_the_draft_route_and_routes_lists_the_urls(
    suite: Suite, tmp_path: Path
) -> None:
    token = await suite.workspace("routes")
    env = suite.env(token, tmp_path / "config")
    code, _, err = await run("init", "desk-board", "--extension", env=env, cwd=tmp_path)
    assert code == 0, err
    project = tmp_path / "desk-board"
    assert (project / "src" / "pages" / "notes.py").is_file()
    assert (project / "src" / "api" / "notes" / "[id].py").is_file()
    async with running_dev(project, env) as dev:
        await dev.wait_for("ready:")
        line = await dev.wait_for("route GET ")
        url = line.split()[2].replace("{id}", "note_9")
        assert "/_dev/" in url
        page_line = await dev.wait_for("page Notes:")
        assert "/pages/notes?session=" in page_line
        installation = url.split("/ext/")[1].split("/")[0]
        issued = await suite.api(
            token,
            "POST",
            "registry",
            f"/v1/installations/{installation}/api-keys",
            json={"name": "dev"},
        )
        key = {"authorization": f"Bearer {issued['secret']}"}

        async def draft_answers() -> httpx.Response | None:
            answer = await suite.http.get(url, headers=key)
            return answer if answer.status_code == 200 else None

        answer = await eventually(draft_answers)
        assert answer.json() == {"id": "note_9", "text": "Call back on Monday"}
        session = url.split("/_dev/")[1].split("/")[0]
        other = await suite.http.get(url.replace(session, "0" * len(session)), headers=key)
        assert other.status_code == 404
        assert (await suite.http.get(url)).status_code == 401

        listing = await run_json("routes", installation, env=env)
        assert listing["base_url"] == f"{suite.ingress}/ext/{installation}"
        assert [(r["path"], r["methods"], r["auth"]) for r in listing["routes"]] == [
            ("/notes/{id}", ["GET"], "api_key")
        ]
        assert [p["path"] for p in listing["pages"]] == ["notes"]
        code, out, err = await run("routes", installation, env=env)
        assert code == 0, err
        assert f"{suite.ingress}/ext/{installation}/notes/{{id}}" in out
        assert f"/installations/{installation}/pages/notes" in out
