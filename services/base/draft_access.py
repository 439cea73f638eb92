"""Who reaches a draft: the one check every surface that runs a draft version asks.

A draft (`backfill dev`) runs only for the dev session it was deployed for: a webhook
delivery to that session's URL, an API route under `/ext/<id>/_dev/<session>/`, a page with
`?session=`, a triggered hook, a dry run, and a write the core sends with that session. An
observation version is never reached by a caller at all: it runs in shadow next to the
active one (every write, every delivery), so no surface offers it by URL.
"""

from __future__ import annotations

import hmac

from contracts.installations import InstallationSnapshot, VersionRef


def reachable_draft(
    snapshot: InstallationSnapshot, session_id: str | None, *, member_id: str | None = None
) -> VersionRef | None:
    """The draft `session_id` may run on `snapshot`, or None when it may not.

    None without a draft, without a session on either side (an empty id is no session), or
    for any other session; the ids are compared in constant time, so an answer's timing
    does not reveal how much of a guessed id was right. With `member_id` (a signed-in
    member's page, whose URL travels in browser history), the draft is also only for the
    member who deployed it.
    """
    owner = snapshot.draft_session_id
    if snapshot.draft is None or not owner or not session_id:
        return None
    if not hmac.compare_digest(owner.encode(), session_id.encode()):
        return None
    if member_id is not None and snapshot.draft_member_id != member_id:
        return None
    return snapshot.draft
