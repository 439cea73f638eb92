"""Console page times against a running suite (`make run`, or `backfill up` on other ports).

`python -m bench.console --console URL --registry URL --token T [--requests 30]` signs in
through the form (as a browser does), makes sure one Stripe connection exists, sends it one
unsigned webhook so Deliveries has a row, then loads every page of the dashboard `--requests`
times, one at a time (a person clicking, not a load test), and prints p50 / p95 / max per
page. 127.0.0.1 only; bounded in count; starts no process.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time

import httpx


async def sign_in(client: httpx.AsyncClient, token: str) -> None:
    page = await client.get("/sign-in")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert csrf, "no CSRF field on the sign-in page"
    answer = await client.post("/sign-in", data={"token": token, "_csrf_token": csrf.group(1)})
    assert answer.status_code == 303, answer.text


async def stripe_installation(registry: str, token: str) -> str:
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=registry, headers=headers, timeout=15) as api:
        for row in (await api.get("/v1/installations")).json():
            if row["extension_key"] == "stripe":
                return str(row["id"])
        body = {"extension_key": "stripe", "connection_name": "bench"}
        created = (await api.post("/v1/installations", json=body)).json()
        if created.get("webhook_url"):
            async with httpx.AsyncClient(timeout=15) as hooks:
                try:  # a row for Deliveries (refused: unsigned); the URL may name another port
                    await hooks.post(created["webhook_url"], content=b"{}")
                except httpx.HTTPError:
                    pass
        return str(created["id"])


async def main(console: str, registry: str, token: str, requests: int) -> None:
    installation = await stripe_installation(registry, token)
    pages = [
        "/extensions",
        "/extensions/catalog",
        "/extensions/catalog/stripe",
        *(
            f"/installations/{installation}/{tab}"
            for tab in (
                "settings",
                "secrets",
                "permissions",
                "connection",
                "deliveries",
                "versions",
                "logs",
            )
        ),
        "/members",
        "/audit",
    ]
    async with httpx.AsyncClient(base_url=console, timeout=15) as client:
        await sign_in(client, token)
        print(f"{'page':<52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for path in pages:
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = await client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            shown = path.replace(installation, "{id}")
            print(f"{shown:<52} {statistics.median(times):>8.1f} {p95:>8.1f} {times[-1]:>8.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--console", default="http://127.0.0.1:8000")
    parser.add_argument("--registry", default="http://127.0.0.1:8001")
    parser.add_argument("--token", required=True)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.console, args.registry, args.token, min(args.requests, 500)))
