"""Which GitHub webhook events become which canonical records; which are ignored on purpose.

GitHub names the event in the `X-GitHub-Event` header and the change in the body's `action`;
every action of `issues` / `pull_request` is the object's new state.
"""

from __future__ import annotations

from sdk import Canonical, CatalogEntry

from . import transforms


def _repository(event):
    return (event.get("repository") or {}).get("full_name")


GITHUB_EVENT_CATALOG = {
    "issues": CatalogEntry(
        lambda event, obj: [
            Canonical(
                "issue", transforms.issue(event["issue"], _repository(event)), stream="issues"
            )
        ],
        "the issue's new state",
    ),
    "pull_request": CatalogEntry(
        lambda event, obj: [
            Canonical(
                "pull_request",
                transforms.pull_request(event["pull_request"], _repository(event)),
                stream="pull_requests",
            )
        ],
        "the pull request's new state",
    ),
    "push": CatalogEntry(
        lambda event, obj: [Canonical("push", transforms.push(event))], "one push"
    ),
}

KNOWN_IGNORED_EVENT_TYPES = (
    "ping",
    "star",
    "watch",
    "fork",
    "create",
    "delete",
    "status",
    "check_run",
    "check_suite",
    "workflow_run",
    "workflow_job",
    "issue_comment",
    "pull_request_review",
    "pull_request_review_comment",
    "label",
    "member",
)
