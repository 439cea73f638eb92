"""Outbound HTTP for extension code: the host check, local overrides, and provider retries.

The permission check always runs on the URL the code asked for: https only, a declared host
(`contracts/hosts.py`: never an IP literal, `localhost` or an invalid IDNA name, the port
443 unless the manifest declared another). Before connecting, the name is resolved and every
address must be global; the connection goes to the address that was checked (no second
lookup to rebind), TLS still verified for the name. Resolution runs on this module's own
small thread pool, one lookup per name at a time (callers of the same name share it, a slow
name holds one thread, never the service's shared resolver), and waits at most
`RESOLVE_TIMEOUT_S`. Only afterwards may `host_overrides` (an operator setting for tests
and the sync bench) point a declared host at a local base URL, without resolution. Redirects
are never followed, so a declared host cannot send the code on to an undeclared one, and the
`Host` header is always the URL's own: a header set by the code is replaced, so a declared
host's shared front (a CDN) cannot be asked for another of its sites. An answer is read up to
`MAX_ANSWER_BYTES` once decoded; a larger one (or a compressed body that expands past it) is
abandoned mid-read with `AnswerTooLarge`, so a provider cannot fill the service's memory.

The client is aiohttp (its C HTTP parser): httpx spent ~1 ms of CPU on a 100-record page,
five times aiohttp's, and was the largest cost of a sync page. What the code gets back is
still an `httpx.Response` (`Answer.response`), with the body already decoded: the
`content-encoding` and length headers of the wire are not passed on with it.
"""

from __future__ import annotations

import asyncio
import email.utils
import socket
import ssl
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import aiohttp
import certifi
import httpx
import yarl

from contracts.hosts import DEFAULT_PORT, address_problem, host_problem, split_port

ALLOWED_OPTIONS = {"params", "headers", "json", "content", "data", "auth", "timeout", "cookies"}
MAX_ATTEMPTS = 4
MAX_RETRY_AFTER_S = 30.0
RESOLVE_TIMEOUT_S = 5.0
RESOLVED_TTL_S = 30.0
TIMEOUT_S = 15.0
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # decoded; the isolated runtime's frame bounds it lower
_READ_CHUNK = 256 * 1024
# Headers of the wire that do not describe the decoded body handed to the code.
WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_RESOLVERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="outbound-dns")


class Unreachable(httpx.ConnectError):
    """The declared host resolves to a non-public address, or did not resolve in time."""


class AnswerTooLarge(httpx.RemoteProtocolError):
    """The answer's decoded body is larger than the runtime accepts: not read further."""


def host_allowed(host: str, declared: list[str], port: int | None = DEFAULT_PORT) -> bool:
    """Exact match, or `*.example.com` matching any sub-domain; the port as declared (or 443).

    `port=None` matches the host on any declared port.
    """
    for entry in declared:
        try:
            pattern, declared_port = split_port(entry)
        except ValueError:
            continue
        if port is not None and port != (declared_port or DEFAULT_PORT):
            continue
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and host != pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


def retry_after_seconds(value: str | None, fallback: float) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), capped."""
    if not value:
        return fallback
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return fallback
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))


@dataclass(frozen=True, slots=True)
class Answer:
    """A provider's answer, its body read whole and decoded."""

    method: str
    url: str
    status: int
    headers: list[tuple[str, str]]  # without the wire's encoding and length headers
    body: bytes

    def response(self) -> httpx.Response:
        """The answer as the `httpx.Response` extension code works with."""
        return httpx.Response(
            self.status,
            headers=self.headers,
            content=self.body,
            request=httpx.Request(self.method, self.url),
        )


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a checked URL is sent: the address (or override), the Host and the TLS name."""

    url: str
    host_header: str
    tls_name: str | None


class OutboundHttp:
    """One shared client for every invocation of a runtime (created on first use, in the
    event loop that uses it)."""

    def __init__(
        self,
        host_overrides: Mapping[str, str] | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.max_answer_bytes = max_answer_bytes
        self.overrides = {
            k.lower(): httpx.URL(v.rstrip("/")) for k, v in (host_overrides or {}).items()
        }
        self._session: aiohttp.ClientSession | None = None
        self._tls = ssl.create_default_context(cafile=certifi.where())
        self._resolving: dict[str, asyncio.Future[list[str]]] = {}
        self._resolved: dict[str, tuple[float, list[str]]] = {}

    def refusal(self, url: str, declared: list[str]) -> tuple[str, str] | None:
        """(target, reason) when the manifest does not allow `url`; None when it does."""
        try:
            parsed = httpx.URL(url)
        except Exception:  # httpx.InvalidURL, an IDNA error of an `xn--` label, a non-string
            return str(url)[:200], "not a valid URL"
        return self._refusal(parsed, declared)

    def _refusal(self, parsed: httpx.URL, declared: list[str]) -> tuple[str, str] | None:
        try:
            host = (parsed.host or "").lower()
            port = parsed.port or DEFAULT_PORT
        except Exception:
            return str(parsed)[:200], "not a valid URL"
        if parsed.scheme != "https":
            return str(parsed), "only https:// URLs are allowed"
        problem = host_problem(host)
        if problem is not None:
            return host, problem
        if not host_allowed(host, declared, port):
            if host_allowed(host, declared, None):  # the host is declared, on another port
                return f"{host}:{port}", "port not declared in permissions.http"
            return host, "host not declared in permissions.http"
        return None

    def _override(self, parsed: httpx.URL) -> httpx.URL | None:
        host = (parsed.host or "").lower()
        base = self.overrides.get(host)
        if base is None:
            base = self.overrides.get("*." + host.partition(".")[2])
        return base

    async def check(
        self, url: str, declared: list[str]
    ) -> tuple[_Target, None] | tuple[None, tuple[str, str]]:
        """The URL checked once: where to send it, or (target, reason) of its refusal.

        The manifest's rule first, then (unless an operator override routes the host) every
        address the host resolves to must be public. Raises `Unreachable` when it does not
        resolve (in time): a transport failure, not a refusal.
        """
        try:
            parsed = httpx.URL(url)
        except Exception:
            return None, (str(url)[:200], "not a valid URL")
        refused = self._refusal(parsed, declared)
        if refused is not None:
            return None, refused
        host = (parsed.host or "").lower()
        netloc = parsed.netloc.decode("ascii")
        path = parsed.raw_path.decode("ascii")
        base = self._override(parsed)
        if base is not None:
            where = f"{base.scheme}://{base.netloc.decode('ascii')}{path}"
            return _Target(where, netloc, None), None
        port = parsed.port or DEFAULT_PORT
        addresses = await self.resolve(host, port)
        problem = address_problem(addresses)
        if problem is not None:
            return None, (host, problem)
        address = f"[{addresses[0]}]" if ":" in addresses[0] else addresses[0]
        return _Target(f"https://{address}:{port}{path}", netloc, host), None

    async def resolve(self, host: str, port: int) -> list[str]:
        """The host's addresses: cached briefly, one lookup per name at a time, time-limited."""
        cached = self._resolved.get(host)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        pending = self._resolving.get(host)
        if pending is None:
            loop = asyncio.get_running_loop()
            pending = asyncio.ensure_future(loop.run_in_executor(_RESOLVERS, _lookup, host, port))
            self._resolving[host] = pending
            pending.add_done_callback(lambda _f: self._resolving.pop(host, None))
        try:
            addresses = await asyncio.wait_for(asyncio.shield(pending), RESOLVE_TIMEOUT_S)
        except TimeoutError:
            raise Unreachable(f"{host} did not resolve within {RESOLVE_TIMEOUT_S:g}s") from None
        except OSError as error:
            raise Unreachable(f"{host} did not resolve: {error}") from None
        self._resolved[host] = (time.monotonic() + RESOLVED_TTL_S, addresses)
        return addresses

    async def send(self, method: str, url: str, target: _Target, options: dict[str, Any]) -> Answer:
        """Send with retries: 429 waits for Retry-After; 5xx and transport errors back off.

        Transport failures after the last attempt raise `httpx.TransportError` subclasses
        (`ConnectError`, `ReadTimeout`, ...), as the code's `httpx` would.
        """
        unknown = set(options) - ALLOWED_OPTIONS
        if unknown:
            raise TypeError(f"unsupported request options: {sorted(unknown)}")
        request = _aiohttp_options(options)
        headers = {k: v for k, v in request.pop("headers").items() if k.lower() != "host"}
        headers["Host"] = target.host_header  # the checked URL's, whatever the code set
        tls: ssl.SSLContext | bool = self._tls if target.url.startswith("https:") else False
        session = self._session_now()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            backoff = 0.2 * 2**attempt
            try:
                async with session.request(
                    method,
                    yarl.URL(target.url, encoded=True),  # httpx already encoded the path
                    headers=headers,
                    allow_redirects=False,
                    ssl=tls,
                    server_hostname=target.tls_name,
                    **request,
                ) as response:
                    body = await self._read(response, url)
                    status = response.status
                    got = response.headers
            except aiohttp.InvalidURL as error:  # not a transport failure: never retried
                raise httpx.InvalidURL(str(error)) from error
            except (aiohttp.ClientError, TimeoutError) as error:
                if attempt == MAX_ATTEMPTS:
                    raise _transport_error(error) from error
                await asyncio.sleep(backoff)
                continue
            retryable = status == 429 or status >= 500
            if not retryable or attempt == MAX_ATTEMPTS:
                kept = [(str(k), v) for k, v in got.items() if k.lower() not in WIRE_HEADERS]
                return Answer(method, url, status, kept, body)
            if status == 429:
                backoff = retry_after_seconds(got.get("retry-after"), backoff)
            await asyncio.sleep(backoff)
        raise AssertionError("unreachable")

    async def _read(self, response: aiohttp.ClientResponse, url: str) -> bytes:
        """The decoded body, up to `max_answer_bytes`; past it the connection is dropped."""
        limit = self.max_answer_bytes
        announced = response.content_length
        if (
            announced is not None
            and announced > limit
            and not response.headers.get("content-encoding")
        ):
            response.close()
            raise AnswerTooLarge(f"the answer of {url} announces {announced} bytes (limit {limit})")
        chunks, size = [], 0
        while chunk := await response.content.read(_READ_CHUNK):
            size += len(chunk)
            if size > limit:
                response.close()
                raise AnswerTooLarge(f"the answer of {url} is larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100, use_dns_cache=False),
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
                auto_decompress=True,
                # No cookies kept between requests: the client is shared by every
                # installation (httpx's client kept them, one tenant's for the next).
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()


def _aiohttp_options(options: dict[str, Any]) -> dict[str, Any]:
    """The code's httpx-style options as aiohttp's (same meaning, same encodings)."""
    out: dict[str, Any] = {"headers": dict(options.get("headers") or {})}
    params = options.get("params")
    if isinstance(params, str | bytes):  # a query string, appended as written
        out["params"] = params.decode() if isinstance(params, bytes) else params
    elif params:
        items = params.items() if isinstance(params, Mapping) else params
        out["params"] = [
            (str(k), _param(v))
            for k, value in items
            for v in (value if isinstance(value, list | tuple) else [value])
        ]
    if options.get("json") is not None:
        out["json"] = options["json"]
    if options.get("content") is not None:
        out["data"] = options["content"]
    elif options.get("data") is not None:
        out["data"] = options["data"]
    auth = options.get("auth")
    if auth is not None:
        if not isinstance(auth, list | tuple) or len(auth) != 2:
            raise TypeError("auth must be a (username, password) pair")
        out["auth"] = aiohttp.BasicAuth(str(auth[0]), str(auth[1]))
    timeout = options.get("timeout")
    if isinstance(timeout, int | float):
        out["timeout"] = aiohttp.ClientTimeout(total=float(timeout))
    if options.get("cookies"):
        out["headers"]["Cookie"] = "; ".join(f"{k}={v}" for k, v in options["cookies"].items())
    return out


def _param(value: Any) -> str:
    """A query value as httpx encodes it: booleans lower-case, None empty."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def _transport_error(error: BaseException) -> httpx.TransportError:
    """aiohttp's failure as the httpx error the code's own client would have raised."""
    message = f"{type(error).__name__}: {error}"
    if isinstance(error, TimeoutError | aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(error, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message)
    if isinstance(error, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(message)
    return httpx.TransportError(message)


def _lookup(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
