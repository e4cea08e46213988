"""The one HTTP client: connection limits, timeouts, byte caps, and the address guard.

Every hop of every request is checked: a URL whose host is an IP literal is checked before
connecting, and every new socket is checked against the address it actually connects to
(aiohttp skips the resolver for IP literals, and DNS can point anywhere). Local `file:`
sources are read here too, confined to their own folder.
"""

from __future__ import annotations

import asyncio
import codecs
import contextvars
import ipaddress
import mimetypes
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from ingest.errors import BadStatus, BlockedAddress, FetchError, FetchTimeout, OversizedResponse
from ingest.settings import HttpSettings

_CHUNK_BYTES = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)

# Non-public host:port pairs the current request may reach (set per request; sockets see it).
_allowed_hosts: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "allowed_hosts", default=frozenset()
)


@dataclass(frozen=True)
class Response:
    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    charset: str | None = None

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    def text(self) -> str:
        return self.body.decode(self.charset or "utf-8", errors="replace")


@dataclass(frozen=True)
class RequestPolicy:
    """What one request may do beyond the defaults: reach listed local hosts, read one folder."""

    source: str | None = None
    allow_hosts: frozenset[str] = frozenset()
    local_root: Path | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict)


class HttpClient:
    """Use as `async with HttpClient(settings) as client:`; one per process."""

    def __init__(self, settings: HttpSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpClient:
        connector = aiohttp.TCPConnector(
            limit=self._settings.concurrency,
            limit_per_host=self._settings.per_host_concurrency,
            socket_factory=_guarded_socket,
        )
        timeout = aiohttp.ClientTimeout(
            total=self._settings.timeout_s,
            connect=self._settings.connect_timeout_s,
            sock_read=self._settings.timeout_s,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers={"User-Agent": self._settings.user_agent},
            auto_decompress=True,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def get(self, url: str, policy: RequestPolicy) -> Response:
        """GET url following redirects hop by hop; 304 is returned, other 4xx/5xx raise BadStatus."""
        if urlsplit(url).scheme == "file":
            return await asyncio.to_thread(_read_local, url, policy, self._settings.max_bytes)
        token = _allowed_hosts.set(policy.allow_hosts)
        try:
            # The whole request, redirects included, is bounded: a trickling server cannot hold us.
            async with asyncio.timeout(self._settings.timeout_s):
                return await self._follow(url, policy)
        except TimeoutError as exc:
            raise FetchTimeout(url, f"timed out after {self._settings.timeout_s:g}s", policy.source) from exc
        finally:
            _allowed_hosts.reset(token)

    async def _follow(self, url: str, policy: RequestPolicy) -> Response:
        assert self._session is not None, "HttpClient used outside 'async with'"
        current = url
        for _hop in range(self._settings.max_redirects + 1):
            _check_literal_host(current, policy)
            try:
                async with self._session.get(
                    current, allow_redirects=False, headers=dict(policy.extra_headers)
                ) as resp:
                    if resp.status in _REDIRECTS and "Location" in resp.headers:
                        current = urljoin(current, resp.headers["Location"])
                        if urlsplit(current).scheme not in ("http", "https"):
                            raise BlockedAddress(current, "redirect to a non-HTTP URL", policy.source)
                        continue
                    if resp.status >= 400:
                        raise BadStatus(current, resp.status, policy.source)
                    body = await _read_capped(resp, self._settings.max_bytes, policy.source)
                    return Response(
                        url=url,
                        final_url=str(resp.url),
                        status=resp.status,
                        headers=_plain_headers(resp.headers),
                        body=body,
                        charset=resp.charset or _sniff_charset(body),
                    )
            except BlockedAddressOSError as exc:
                raise BlockedAddress(current, str(exc), policy.source) from exc
            except aiohttp.ClientError as exc:
                raise FetchError(current, f"request failed ({type(exc).__name__}: {exc})", policy.source) from exc
        raise FetchError(url, f"more than {self._settings.max_redirects} redirects", policy.source)


class BlockedAddressOSError(OSError):
    """Raised inside the socket factory; an OSError so aiohttp passes it through its connect path."""


def _guarded_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    family, type_, proto, _canonname, sockaddr = addr_info
    host, port = sockaddr[0], sockaddr[1]
    if not _is_allowed(host, port):
        raise BlockedAddressOSError(f"address {host}:{port} is not public and not allowed for this source")
    return socket.socket(family, type_, proto)


def _check_literal_host(url: str, policy: RequestPolicy) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" and not _is_allowed("127.0.0.1", port):
            raise BlockedAddress(url, "localhost is not allowed for this source", policy.source) from None
        return
    if not _is_allowed(host, port):
        raise BlockedAddress(url, f"address {host}:{port} is not public and not allowed", policy.source)


def _is_allowed(host: str, port: int) -> bool:
    ip = ipaddress.ip_address(host.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    if ip.is_global:
        return True
    allowed = _allowed_hosts.get()
    loopback_names = {"localhost"} if ip.is_loopback else set()
    return any(f"{name}:{port}" in allowed for name in {str(ip), *loopback_names})


async def _read_capped(resp: aiohttp.ClientResponse, max_bytes: int, source: str | None) -> bytes:
    # Count inflated bytes as they stream: a small gzip bomb must not become gigabytes in memory.
    declared = resp.content_length
    if declared is not None and declared > max_bytes and "Content-Encoding" not in resp.headers:
        raise OversizedResponse(str(resp.url), f"response of {declared} bytes exceeds {max_bytes}", source)
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_chunked(_CHUNK_BYTES):
        total += len(chunk)
        if total > max_bytes:
            raise OversizedResponse(str(resp.url), f"response exceeds {max_bytes} bytes", source)
        chunks.append(chunk)
    return b"".join(chunks)


def _read_local(url: str, policy: RequestPolicy, max_bytes: int) -> Response:
    """Read a file: URL, only for sources declared as local, only inside their own folder."""
    if policy.local_root is None:
        raise BlockedAddress(url, "file: URLs are readable only by local sources", policy.source)
    path = Path(unquote(urlsplit(url).path)).resolve()
    if not path.is_relative_to(policy.local_root.resolve()):
        raise BlockedAddress(url, f"outside the source's folder {policy.local_root}", policy.source)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise OversizedResponse(url, f"file of {size} bytes exceeds {max_bytes}", policy.source)
        body = path.read_bytes()
    except FileNotFoundError as exc:
        raise BadStatus(url, 404, policy.source) from exc
    except OSError as exc:
        raise FetchError(url, f"cannot read file ({exc.strerror})", policy.source) from exc
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Response(
        url=url,
        final_url=path.as_uri(),
        status=200,
        headers={"Content-Type": content_type},
        body=body,
        charset=_sniff_charset(body),
    )


def _sniff_charset(body: bytes) -> str | None:
    """The charset a page declares in a <meta> tag, when the headers said nothing."""
    match = _META_CHARSET.search(body[:4096])
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1).decode("ascii", "ignore")).name
    except LookupError:
        return None


def _plain_headers(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    return CIMultiDict(headers)
