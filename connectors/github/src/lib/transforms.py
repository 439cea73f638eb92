"""GitHub REST/webhook objects → Backfill canonical records; each keeps `id` and `updated_at`."""

from __future__ import annotations

from typing import Any


def _login(user: Any) -> Any:
    return user.get("login") if isinstance(user, dict) else None


def issue(obj: dict[str, Any], repository: str | None = None) -> dict[str, Any]:
    return {
        "id": str(obj["id"]),
        "updated_at": obj.get("updated_at"),
        "created_at": obj.get("created_at"),
        "repository": repository,
        "number": obj.get("number"),
        "title": obj.get("title"),
        "state": obj.get("state"),
        "state_reason": obj.get("state_reason"),
        "author": _login(obj.get("user")),
        "assignees": [_login(a) for a in obj.get("assignees") or []],
        "labels": [
            label.get("name") for label in obj.get("labels") or [] if isinstance(label, dict)
        ],
        "comments": obj.get("comments"),
        "closed_at": obj.get("closed_at"),
        "url": obj.get("html_url"),
    }


def pull_request(obj: dict[str, Any], repository: str | None = None) -> dict[str, Any]:
    return {
        "id": str(obj["id"]),
        "updated_at": obj.get("updated_at"),
        "created_at": obj.get("created_at"),
        "repository": repository,
        "number": obj.get("number"),
        "title": obj.get("title"),
        "state": obj.get("state"),
        "draft": obj.get("draft"),
        "merged": bool(obj.get("merged_at")),
        "merged_at": obj.get("merged_at"),
        "author": _login(obj.get("user")),
        "head": (obj.get("head") or {}).get("ref"),
        "base": (obj.get("base") or {}).get("ref"),
        "url": obj.get("html_url"),
    }


def push(event: dict[str, Any]) -> dict[str, Any]:
    head = event.get("head_commit") or {}
    return {
        "id": f"{(event.get('repository') or {}).get('full_name')}@{event.get('after')}",
        "created_at": head.get("timestamp"),
        "repository": (event.get("repository") or {}).get("full_name"),
        "ref": event.get("ref"),
        "before": event.get("before"),
        "after": event.get("after"),
        "forced": event.get("forced"),
        "pusher": (event.get("pusher") or {}).get("name"),
        "commits": [
            {
                "sha": c.get("id"),
                "message": c.get("message"),
                "author": (c.get("author") or {}).get("username"),
            }
            for c in event.get("commits") or []
        ],
    }
