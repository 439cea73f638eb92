"""Bounded list answers: at most `limit` items (never more than MAX_PAGE), oldest first.

A list that has more answers with `Link: <…?after=ID&limit=N>; rel="next"` (as GitHub's
API does); `after` is the id of the last item of the previous page, so a page never repeats or
skips an item that existed when the first page was read. The body stays a plain JSON list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from litestar import Response
from litestar.params import QueryParameter

from services.base.errors import ServiceError

T = TypeVar("T")
MAX_PAGE = 500

Limit = Annotated[
    int, QueryParameter(ge=1, le=MAX_PAGE, description=f"page size (at most {MAX_PAGE})")
]
After = Annotated[
    str | None, QueryParameter(description="the id of the last item of the previous page")
]


def page_of(
    items: Sequence[T],
    *,
    path: str,
    limit: int,
    after: str | None,
    id_of: Callable[[T], str] = lambda item: item.id,  # type: ignore[attr-defined]
) -> Response[list[Any]]:
    """The page after `after` (or the first), with a `Link` to the next when there is more."""
    start = 0
    if after is not None:
        ids = [id_of(item) for item in items]
        if after not in ids:
            raise ServiceError(f"no item {after!r} in this list", field="after")
        start = ids.index(after) + 1
    page = list(items[start : start + limit])
    headers = {}
    if start + limit < len(items) and page:
        query = urlencode({"after": id_of(page[-1]), "limit": limit})
        headers["link"] = f'<{path}?{query}>; rel="next"'
    return Response(page, headers=headers)
