"""A Stripe-like list API for bench/sync: `python -m bench.paged_provider --port P --customers N`.

`GET /v1/customers`: newest first, pages of 100, `starting_after`; every page is encoded once
up front so the provider costs as little as possible next to what is measured. Other list
paths answer an empty page. 127.0.0.1 only.
"""

from __future__ import annotations

import argparse

import msgspec
from litestar import Litestar, Response, get
from litestar.params import FromPath, FromQuery

PAGE = 100


def provider_app(customers: int) -> Litestar:
    """Stripe's list API over `customers` objects, every page encoded once up front."""
    objects = [
        {
            "id": f"cus_{i:07d}",
            "object": "customer",
            "created": 1_700_000_000 + i,
            "email": f"c{i}@example.com",
            "name": f"Customer {i}",
        }
        for i in reversed(range(customers))
    ]
    pages: dict[str, bytes] = {}
    for start_at in range(0, customers, PAGE):
        after = str(objects[start_at - 1]["id"]) if start_at else ""
        body = {
            "object": "list",
            "data": objects[start_at : start_at + PAGE],
            "has_more": start_at + PAGE < customers,
        }
        pages[after] = msgspec.json.encode(body)
    empty = msgspec.json.encode({"object": "list", "data": [], "has_more": False})

    @get("/v1/{kind:str}", media_type="application/json")
    async def listing(
        kind: FromPath[str],
        starting_after: FromQuery[str] = "",
        created_gt: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        if kind != "customers":
            return Response(empty)
        return Response(pages.get(starting_after, empty))

    return Litestar([listing])


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.paged_provider")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--customers", type=int, default=20_000)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(
        provider_app(args.customers),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
