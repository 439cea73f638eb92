"""Who reaches a draft: the one check behind dev URLs, pages, triggered hooks and dry runs."""

from __future__ import annotations

import msgspec
import pytest

from contracts.installations import InstallationSnapshot
from contracts.topics import INSTALLATION_SNAPSHOTS
from services.base.draft_access import reachable_draft

SESSION, OTHER = "ses_4f1a9c2e", "ses_0b7d3e51"
DEVELOPER, COLLEAGUE = "mem_dev", "mem_colleague"


def snapshot(*, draft: bool = True, session: str | None = SESSION) -> InstallationSnapshot:
    """The topic's example installation, with its active version as a draft of `session`."""
    example = INSTALLATION_SNAPSHOTS.decode(INSTALLATION_SNAPSHOTS.example_path.read_bytes())
    return msgspec.structs.replace(
        example,
        draft=example.active if draft else None,
        draft_member_id=DEVELOPER,
        draft_session_id=session,
    )


@pytest.mark.parametrize(
    ("has_draft", "owner", "given", "member", "reached"),
    [
        (True, SESSION, SESSION, None, True),  # the session the draft was deployed for
        (True, SESSION, SESSION, DEVELOPER, True),  # … by the developer who deployed it
        (True, SESSION, SESSION, COLLEAGUE, False),  # … by another member (pages)
        (True, SESSION, OTHER, None, False),  # another session
        (True, SESSION, SESSION[:-1], None, False),  # a prefix of the session
        (True, SESSION, None, None, False),  # no session: the real URL never runs a draft
        (True, SESSION, "", None, False),  # an empty session is none
        (True, None, "", None, False),  # a draft without a session: nobody reaches it
        (True, None, SESSION, None, False),
        (False, SESSION, SESSION, None, False),  # the draft was removed; the session is stale
    ],
)
def test_only_the_drafts_own_session_reaches_it(
    has_draft: bool, owner: str | None, given: str | None, member: str | None, reached: bool
):
    installation = snapshot(draft=has_draft, session=owner)
    draft = reachable_draft(installation, given, member_id=member)
    assert (draft is not None) is reached
    if reached:
        assert draft == installation.draft
