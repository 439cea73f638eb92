"""Sample provider events, signed exactly as each provider signs them (`backfill trigger`).

Every first-party connector ships its samples in `connectors/<key>/fixtures/<event>.json`
(a scaffold from `backfill init` ships its own in `<dir>/fixtures/`). An event is named after
its file: Stripe and Standard Webhooks by the event type (`customer.created`), GitHub by
`<X-GitHub-Event>[.<action>]` (`issues.opened`), Shopify by its topic with `-` or `/`
(`orders-create` or `orders/create`). Each send gets a fresh event id and timestamp, so
providers' replay windows and ingress' timestamp tolerance accept it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import connectors
from cli.errors import CliError, ExitCode

FIRST_PARTY = Path(next(iter(connectors.__path__)))


@dataclass(frozen=True)
class SampleEvent:
    """One ready-to-send delivery."""

    name: str
    body: bytes
    headers: dict[str, str]
    event_id: str


def fixtures_of(key: str, directory: Path | None) -> Path:
    """`<dir>/fixtures` when DIR holds KEY's manifest, else the first-party connector's."""
    if directory is not None and (directory / "fixtures").is_dir():
        return directory / "fixtures"
    return FIRST_PARTY / key / "fixtures"


def available(fixtures: Path) -> list[str]:
    """Event names with a sample."""
    return sorted(p.stem for p in fixtures.glob("*.json"))


def manifest_webhooks(key: str, directory: Path | None) -> dict[str, Any] | None:
    """The `webhooks` block of KEY's manifest (the local directory's, else first-party)."""
    for candidate in (directory, FIRST_PARTY / key):
        path = candidate / "manifest.json" if candidate is not None else None
        if path is not None and path.is_file():
            data = json.loads(path.read_text())
            if data.get("key") == key:
                webhooks = data.get("webhooks")
                return webhooks if isinstance(webhooks, dict) else None
    return None


def new_secret(scheme: str) -> str:
    """A fresh signing secret in the provider's format."""
    if scheme == "stripe_signature":
        return "whsec_" + secrets.token_hex(24)
    if scheme == "standard_webhooks":
        return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(32)


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def build(scheme: str, name: str, fixtures: Path, secret: str | None) -> SampleEvent:
    """The sample `name`, with a fresh id, signed for `scheme`."""
    stem = name.replace("/", "-")
    path = fixtures / f"{stem}.json"
    if not path.is_file():
        names = ", ".join(available(fixtures)) or "none"
        raise CliError(
            f"no sample event {name!r} in {fixtures}",
            ExitCode.NOT_FOUND,
            f"available: {names}",
        )
    payload = json.loads(path.read_text())
    now = int(time.time())
    headers = {"content-type": "application/json", "user-agent": "backfill-trigger/1"}
    event_id = str(uuid.uuid4())
    if scheme == "stripe_signature":
        event_id = "evt_" + secrets.token_hex(12)
        payload.update(id=event_id, created=now)
    elif scheme == "standard_webhooks":
        event_id = "msg_" + secrets.token_hex(12)
    body = json.dumps(payload, separators=(",", ":")).encode()
    if scheme != "public" and not secret:
        raise CliError("no signing secret to sign the event with", ExitCode.USAGE)
    key = (secret or "").encode()
    if scheme == "stripe_signature":
        signature = _mac(key, f"{now}.".encode() + body).hex()
        headers["stripe-signature"] = f"t={now},v1={signature}"
    elif scheme == "standard_webhooks":
        raw = base64.b64decode((secret or "").removeprefix("whsec_"))
        signed = _mac(raw, f"{event_id}.{now}.".encode() + body)
        headers.update(
            {
                "webhook-id": event_id,
                "webhook-timestamp": str(now),
                "webhook-signature": "v1," + base64.b64encode(signed).decode(),
            }
        )
    elif scheme == "github_sha256":
        headers.update(
            {
                "x-github-event": stem.split(".")[0],
                "x-github-delivery": event_id,
                "x-hub-signature-256": "sha256=" + _mac(key, body).hex(),
            }
        )
    elif scheme == "shopify_hmac":
        headers.update(
            {
                "x-shopify-topic": stem.replace("-", "/", 1),
                "x-shopify-hmac-sha256": base64.b64encode(_mac(key, body)).decode(),
                "x-shopify-shop-domain": "backfill-dev.myshopify.com",
                "x-shopify-webhook-id": event_id,
            }
        )
    elif scheme == "api_key":
        headers["authorization"] = f"Bearer {secret}"
    elif scheme != "public":
        raise CliError(f"signing scheme {scheme!r} has no sample signer", ExitCode.FAILED)
    return SampleEvent(stem, body, headers, event_id)
