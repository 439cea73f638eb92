"""What `backfill init --extension` adds for the extension's own UI: a page with a form
action that validates its input, an API route with a path parameter, and an overview panel."""

from __future__ import annotations

from typing import Any

PAGE = '''"""The Notes page: a table and a form; `add_note` validates what the member typed."""

from sdk import ValidationError, ui


def render(ctx):
    return [
        ui.Heading(text="Notes", level=1),
        ui.Text(text=f"Signed in as a {ctx.member.role}."),
        ui.Table(
            columns=[ui.Column(key="id", label="Note"), ui.Column(key="text", label="Text")],
            rows=[{"id": "note_1", "text": "Call back on Monday"}],
        ),
        ui.Form(
            action="add_note",
            fields=[ui.Field(name="text", label="Text", type="textarea", required=True)],
            submit_label="Add note",
        ),
    ]


def add_note(ctx, given):
    text = str(given.get("text") or "").strip()
    if len(text) < 3:
        raise ValidationError("text", "Write at least 3 characters")
    return "Note added"
'''

ROUTE = '''"""`GET /notes/{id}` of this installation's API (an admin creates its API keys)."""

from sdk import api

config = {"auth": "api_key"}


@api
def GET(request):
    return api.json({"id": request.params["id"], "text": "Call back on Monday"})
'''

PAGE_TEST = '''"""The page and its action, run locally: `pytest tests`."""

from pathlib import Path

import pytest

from sdk import Member, PageContext, ValidationError
from sdk.testing import load

HERE = Path(__file__).resolve().parents[1]
PAGE = load(HERE / "src" / "pages" / "notes.py")
CTX = PageContext(
    installation_id="ins_local",
    extension_key="__KEY__",
    settings={},
    page="notes",
    member=Member(id="mem_local", role="member"),
)


def test_the_page_shows_a_table_and_a_form():
    kinds = [type(node).__name__ for node in PAGE.render(CTX)]
    assert kinds == ["Heading", "Text", "Table", "Form"]


def test_a_short_note_is_refused_next_to_its_field():
    with pytest.raises(ValidationError) as refused:
        PAGE.add_note(CTX, {"text": "no"})
    assert refused.value.field == "text"
    assert PAGE.add_note(CTX, {"text": "Call back"}) == "Note added"
'''


def ui_parts(key: str) -> tuple[dict[str, str], dict[str, Any]]:
    """(files, manifest fields) of the page, its action, the route and the overview panel."""
    files = {
        "src/pages/notes.py": PAGE,
        "src/api/notes/[id].py": ROUTE,
        f"tests/test_{key.replace('-', '_')}_page.py": PAGE_TEST.replace("__KEY__", key),
    }
    manifest = {
        "pages": [
            {"path": "notes", "title": "Notes", "nav": True, "actions": [{"name": "add_note"}]}
        ],
        "ui": [{"slot": "installation.overview.panel", "title": "Notes", "page": "notes"}],
    }
    return files, manifest
