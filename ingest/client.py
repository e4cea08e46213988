"""The one HTTP client: connection limits, timeouts, byte caps, content types, and the address guard.

Every hop of every request is checked: a URL whose host is an IP literal is checked before
connecting, and every new socket is checked against the address it actually connects to
(aiohttp skips the resolver for IP literals, and DNS can point anywhere). Pooled connections
are kept per allow-list, so a connection one source may open to an allowed private host is
never reused by a source that may not reach it. Local `file:` sources are read here too,
confined to their own folder. Never paces requests (ingest/politeness.py does).
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import functools
import ipaddress
import mimetypes
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
import aiohttp.abc
from multidict import CIMultiDict, CIMultiDictProxy

from ingest.charsets import codec_name, decode_body
from ingest.errors import (
    BadStatus,
    BlockedAddress,
    FetchError,
    FetchTimeout,
    OversizedResponse,
    RedirectError,
    TruncatedResponse,
    UnsupportedContentType,
)
from ingest.settings import HttpSettings

_CHUNK_BYTES = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[^:\[\]/]+)):(?P<port>\d{1,5})$")
_NETWORK = re.compile(r"^(?P<net>[0-9a-fA-F:.]+/\d{1,3})(?::(?P<port>\d{1,5}))?$")

# Content types a feed or a page may come with (the first word of Content-Type).
FEED_TYPES = (
    "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml",
    "text/xml", "application/feed+json", "application/json", "text/plain", "application/octet-stream",
    "application/x-rss+xml", "application/x-gzip",
    # HTML is let through so the feed parser can name it ("an HTML page, not a feed"), and
    # because `site` discovery reads home pages with the same list.
    "text/html", "application/xhtml+xml",
)
PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class AllowList:
    """Non-public destinations one source opted in to: `host:port` pairs or networks (`10.1.0.0/16`,
    optionally with `:port`). Narrow on purpose: allowing one local port never allows another."""

    pairs: frozenset[str] = frozenset()
    networks: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int | None], ...] = ()

    @classmethod
    @functools.lru_cache(maxsize=4096)
    def parse(cls, entries: frozenset[str] | tuple[str, ...]) -> AllowList:
        # Cached: every request of a source parses the same entries (a regex and ip_network each).
        pairs: set[str] = set()
        networks = []
        for entry in entries:
            net = _NETWORK.match(entry)
            if net:
                port = int(net["port"]) if net["port"] else None
                networks.append((ipaddress.ip_network(net["net"], strict=False), port))
                continue
            pair = _HOST_PORT.match(entry)
            if not pair:
                raise ValueError(f"{entry!r} is neither host:port nor a network such as 10.0.0.0/8[:port]")
            pairs.add(f"{(pair['v6'] or pair['host']).lower()}:{int(pair['port'])}")
        return cls(frozenset(pairs), tuple(networks))

    def allows(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int, name: str | None) -> bool:
        names = {str(ip), *([name.lower()] if name else []), *(["localhost"] if ip.is_loopback else [])}
        if any(f"{n}:{port}" in self.pairs for n in names):
            return True
        return any(ip in net and (net_port is None or net_port == port) for net, net_port in self.networks)


def check_allow_entry(entry: str) -> str:
    """Validate one `allow_hosts` entry (for the sources file); raises ValueError with the reason."""
    AllowList.parse((entry,))
    return entry


# What the current request may reach, and which host it is connecting to (set per hop;
# the socket factory runs in the request's task, so it sees both).
_allowed_hosts: contextvars.ContextVar[AllowList] = contextvars.ContextVar("allowed_hosts", default=AllowList())
_current_host: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_host", default=None)


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

    @property
    def media_type(self) -> str:
        return (self.content_type or "").split(";")[0].strip().lower()

    def text(self) -> str:
        """The body as text: BOM, header charset, declared charset, then detection."""
        return decode_body(self.body, self.charset).text


@dataclass(frozen=True)
class RequestPolicy:
    """What one request may do beyond the defaults: reach listed local hosts, read one folder."""

    source: str | None = None
    allow_hosts: frozenset[str] = frozenset()
    local_root: Path | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    accept_types: tuple[str, ...] | None = None  # media types this request can use; None: any


class HttpClient:
    """Use as `async with HttpClient(settings) as client:`; one per process."""

    def __init__(self, settings: HttpSettings, resolver: aiohttp.abc.AbstractResolver | None = None) -> None:
        self._settings = settings
        self._resolver = resolver  # DNS; the default resolves through the system
        # One pool per allow-list: a pooled connection to an allowed private address must
        # never be handed to a request of another source (the socket check would not rerun).
        self._sessions: dict[frozenset[str], aiohttp.ClientSession] = {}
        self._slots = asyncio.Semaphore(settings.concurrency)  # all hosts, all pools
        self._entered = False

    async def __aenter__(self) -> HttpClient:
        self._entered = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    def _session(self, allow_hosts: frozenset[str]) -> aiohttp.ClientSession:
        assert self._entered, "HttpClient used outside 'async with'"
        session = self._sessions.get(allow_hosts)
        if session is None:
            connector = aiohttp.TCPConnector(
                limit=self._settings.concurrency,
                limit_per_host=self._settings.per_host_concurrency,
                socket_factory=_guarded_socket,
                resolver=self._resolver,
            )
            # No `total` here: get() bounds the whole request, redirects included, with one
            # asyncio.timeout; a second per-hop timer would only cost a timer per request.
            timeout = aiohttp.ClientTimeout(
                total=None,
                connect=self._settings.connect_timeout_s,
                sock_read=self._settings.timeout_s,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                headers={"User-Agent": self._settings.user_agent},
                auto_decompress=True,
            )
            self._sessions[allow_hosts] = session
        return session

    async def get(self, url: str, policy: RequestPolicy) -> Response:
        """GET url following redirects hop by hop; 304 is returned, other 4xx/5xx raise BadStatus."""
        if url[:5].lower() == "file:":
            return await asyncio.to_thread(_read_local, url, policy, self._settings.max_bytes)
        try:
            allow = AllowList.parse(policy.allow_hosts)
        except ValueError as exc:
            raise BlockedAddress(url, f"invalid allow_hosts entry: {exc}", policy.source) from None
        token = _allowed_hosts.set(allow)
        try:
            async with self._slots:
                # The whole request, redirects included, is bounded: a trickling server cannot hold us.
                async with asyncio.timeout(self._settings.timeout_s):
                    return await self._follow(url, policy)
        except TimeoutError as exc:
            raise FetchTimeout(url, f"timed out after {self._settings.timeout_s:g}s", policy.source) from exc
        finally:
            _allowed_hosts.reset(token)

    async def _follow(self, url: str, policy: RequestPolicy) -> Response:
        session = self._session(policy.allow_hosts)
        current = url
        visited: set[str] = set()
        for _hop in range(self._settings.max_redirects + 1):
            if current in visited:
                raise RedirectError(current, "redirect loop", policy.source)
            visited.add(current)
            _current_host.set(_check_literal_host(current, policy))
            try:
                async with session.get(current, allow_redirects=False, headers=policy.extra_headers or None) as resp:
                    if resp.status in _REDIRECTS and "Location" in resp.headers:
                        current = urljoin(current, resp.headers["Location"])
                        if urlsplit(current).scheme not in ("http", "https"):
                            raise BlockedAddress(current, "redirect to a non-HTTP URL", policy.source)
                        continue
                    if resp.status >= 400:
                        retry_after = retry_after_s(resp.headers.get("Retry-After"))
                        raise BadStatus(current, resp.status, policy.source, retry_after)
                    if resp.status != 304:
                        _check_content_type(resp, policy)
                    body = await _read_capped(resp, self._settings.max_bytes, policy.source)
                    return Response(
                        url=url,
                        final_url=str(resp.url),
                        status=resp.status,
                        headers=_plain_headers(resp.headers),
                        body=body,
                        charset=codec_name(resp.charset),
                    )
            except BlockedAddressOSError as exc:
                raise BlockedAddress(current, str(exc), policy.source) from exc
            except aiohttp.ClientPayloadError as exc:
                # A half body is not a page: never hand it on as if it were the whole one.
                raise TruncatedResponse(current, f"response body incomplete ({exc})", policy.source) from exc
            except aiohttp.ClientError as exc:
                blocked = _blocked_cause(exc)
                if blocked is not None:
                    raise BlockedAddress(current, str(blocked), policy.source) from exc
                raise FetchError(current, f"request failed ({type(exc).__name__}: {exc})", policy.source) from exc
        raise RedirectError(url, f"more than {self._settings.max_redirects} redirects", policy.source)


def _blocked_cause(exc: BaseException) -> BlockedAddressOSError | None:
    """The guard's refusal inside whatever aiohttp (and happy eyeballs) wrapped it in."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, BlockedAddressOSError):
            return current
        stack += [current.__cause__, current.__context__, getattr(current, "os_error", None)]
        stack += list(getattr(current, "exceptions", ()))
    return None


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """The headers of a conditional GET from what the last response said (none: an ordinary GET)."""
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _check_content_type(resp: aiohttp.ClientResponse, policy: RequestPolicy) -> None:
    if policy.accept_types is None or "Content-Type" not in resp.headers:
        return  # no header: the body is sniffed by whoever parses it
    if resp.content_type.lower() not in policy.accept_types:
        raise UnsupportedContentType(str(resp.url), f"content type {resp.content_type} is not accepted here", policy.source)


class BlockedAddressOSError(OSError):
    """Raised inside the socket factory; an OSError so aiohttp passes it through its connect path."""


def _guarded_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    family, type_, proto, _canonname, sockaddr = addr_info
    host, port = sockaddr[0], sockaddr[1]
    if not _is_allowed(host, port, _current_host.get()):
        raise BlockedAddressOSError(f"address {host}:{port} is not public and not allowed for this source")
    return socket.socket(family, type_, proto)


def _check_literal_host(url: str, policy: RequestPolicy) -> str | None:
    """Refuse a URL whose literal host may not be reached; returns its host name."""
    parts = urlsplit(url)
    hostname = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    refusal = _literal_host_refusal(hostname or "", port, _allowed_hosts.get())
    if refusal is not None:
        raise BlockedAddress(url, refusal, policy.source)
    return hostname


@functools.lru_cache(maxsize=4096)
def _literal_host_refusal(host: str, port: int, allow: AllowList) -> str | None:
    """Why a URL naming this host may not be fetched under `allow`, or None. Cached: the answer
    depends only on its arguments, and a poller asks it for the same few hosts all day."""
    if host == "localhost":
        return None if _address_allowed("127.0.0.1", port, "localhost", allow) else "localhost is not allowed for this source"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: checked on the address it resolves to, when the socket is made
    if _address_allowed(host, port, host, allow):
        return None
    return f"address {host}:{port} is not public and not allowed"


def _is_allowed(host: str, port: int, name: str | None = None) -> bool:
    """May the current request connect to host:port? `name` is the URL's host name, for named opt-ins."""
    return _address_allowed(host, port, name, _allowed_hosts.get())


def _address_allowed(host: str, port: int, name: str | None, allow: AllowList) -> bool:
    ip = ipaddress.ip_address(host.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    if ip.is_global:
        return True
    return allow.allows(ip, port, name)


async def _read_capped(resp: aiohttp.ClientResponse, max_bytes: int, source: str | None) -> bytes:
    # Count inflated bytes as they stream: a small gzip bomb must not become gigabytes in memory.
    declared = resp.content_length
    if declared is not None and declared > max_bytes and "Content-Encoding" not in resp.headers:
        raise OversizedResponse(str(resp.url), f"response of {declared} bytes exceeds {max_bytes}", source)
    if declared is not None and "Content-Encoding" not in resp.headers:
        # A plain body of a declared length within the cap: the parser stops at that length,
        # so one read() is bounded too, and cheaper than iterating chunks.
        return await resp.read()
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
        charset=None,  # a file has no header: the body's own declaration or detection decides
    )


def _plain_headers(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    return CIMultiDict(headers)
