"""The one HTTP client against a real local server: address guard, caps, timeouts, local files."""

from __future__ import annotations

import asyncio
import gzip
import socket
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import brotli
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from ingest.client import FEED_TYPES, HttpClient, RequestPolicy, _is_allowed, retry_after_s
from ingest.errors import (
    BadStatus,
    BlockedAddress,
    FetchTimeout,
    OversizedResponse,
    RedirectError,
    TruncatedResponse,
    UnsupportedContentType,
)
from ingest.settings import HttpSettings

LIMITS = HttpSettings(timeout_s=2, max_bytes=100_000, max_redirects=3)


async def _hello(_request: web.Request) -> web.Response:
    return web.Response(text="<html><p>hello</p></html>", content_type="text/html", charset="utf-8")


async def _gzip_bomb(_request: web.Request) -> web.Response:
    body = gzip.compress(b"\0" * 5_000_000)  # ~5 KB on the wire, 5 MB inflated
    return web.Response(body=body, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})


async def _brotli_bomb(_request: web.Request) -> web.Response:
    body = brotli.compress(b"\0" * 5_000_000)
    return web.Response(body=body, headers={"Content-Encoding": "br", "Content-Type": "text/html"})


async def _deflate_bomb(_request: web.Request) -> web.Response:
    body = zlib.compress(b"\0" * 5_000_000, 9)
    return web.Response(body=body, headers={"Content-Encoding": "deflate", "Content-Type": "text/html"})


async def _loop(request: web.Request) -> web.Response:
    # /loop/a -> /loop/b -> /loop/a: a cycle shorter than the redirect cap.
    raise web.HTTPFound("/loop/b" if request.path == "/loop/a" else "/loop/a")


async def _busy(_request: web.Request) -> web.Response:
    return web.Response(status=429, headers={"Retry-After": "120"})


async def _trickle(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    for _ in range(100):
        await response.write(b"x")
        await asyncio.sleep(0.5)
    return response


async def _error(_request: web.Request) -> web.Response:
    return web.Response(status=503)


async def _truncated(request: web.Request) -> web.StreamResponse:
    # Promises 1000 bytes, sends 100, hangs up: what a crashing origin or a cut proxy does.
    response = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": "1000"})
    await response.prepare(request)
    await response.write(b"<html><p>" + b"x" * 91)
    assert request.transport is not None
    request.transport.close()
    return response


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_get("/hello", _hello)
    app.router.add_get("/bomb", _gzip_bomb)
    app.router.add_get("/trickle", _trickle)
    app.router.add_get("/error", _error)
    app.router.add_get("/brotli-bomb", _brotli_bomb)
    app.router.add_get("/deflate-bomb", _deflate_bomb)
    app.router.add_get("/loop/a", _loop)
    app.router.add_get("/loop/b", _loop)
    app.router.add_get("/busy", _busy)
    app.router.add_get("/truncated", _truncated)

    async def image(_request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\n" + b"\0" * 64, content_type="image/png")

    app.router.add_get("/image", image)

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    app.router.add_get("/redirect", redirect)
    async with TestServer(app, host="127.0.0.1") as test_server:
        yield test_server


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    async with HttpClient(LIMITS) as http:
        yield http


def _allowed(server: TestServer) -> RequestPolicy:
    return RequestPolicy(source="test", allow_hosts=frozenset({f"127.0.0.1:{server.port}"}))


async def test_loopback_is_refused_unless_the_source_allows_it(server: TestServer, client: HttpClient) -> None:
    with pytest.raises(BlockedAddress, match="not public"):
        await client.get(str(server.make_url("/hello")), RequestPolicy(source="test"))
    response = await client.get(str(server.make_url("/hello")), _allowed(server))
    assert response.status == 200 and "hello" in response.text()


async def test_localhost_name_is_refused_too(server: TestServer, client: HttpClient) -> None:
    with pytest.raises(BlockedAddress):
        await client.get(f"http://localhost:{server.port}/hello", RequestPolicy(source="test"))


async def test_redirect_to_another_loopback_port_is_refused(server: TestServer, client: HttpClient) -> None:
    url = server.make_url("/redirect").with_query(to="http://127.0.0.1:1/admin")
    with pytest.raises(BlockedAddress, match="127.0.0.1:1"):
        await client.get(str(url), _allowed(server))


async def test_redirect_to_a_file_url_is_refused(server: TestServer, client: HttpClient) -> None:
    url = server.make_url("/redirect").with_query(to="file:///etc/passwd")
    with pytest.raises(BlockedAddress, match="non-HTTP"):
        await client.get(str(url), _allowed(server))


async def test_inflated_size_is_capped(server: TestServer, client: HttpClient) -> None:
    with pytest.raises(OversizedResponse, match="exceeds 100000 bytes"):
        await client.get(str(server.make_url("/bomb")), _allowed(server))


async def test_trickling_server_hits_the_whole_request_deadline(server: TestServer, client: HttpClient) -> None:
    with pytest.raises(FetchTimeout, match="timed out after 2s"):
        await client.get(str(server.make_url("/trickle")), _allowed(server))


async def test_error_status_is_named(server: TestServer, client: HttpClient) -> None:
    with pytest.raises(BadStatus, match="HTTP 503") as caught:
        await client.get(str(server.make_url("/error")), _allowed(server))
    assert caught.value.status == 503 and "(source=test)" in str(caught.value)


async def test_local_file_inside_the_source_folder_is_read(tmp_path: Path, client: HttpClient) -> None:
    (tmp_path / "page.html").write_text("<meta charset='iso-8859-1'><p>caf\xe9</p>", encoding="latin-1")
    response = await client.get((tmp_path / "page.html").as_uri() + "?utm_source=x", RequestPolicy(local_root=tmp_path))
    assert "café" in response.text()


async def test_local_file_outside_the_source_folder_is_refused(tmp_path: Path, client: HttpClient) -> None:
    (tmp_path / "feeds").mkdir()
    with pytest.raises(BlockedAddress, match="outside the source's folder"):
        await client.get((tmp_path / "feeds" / ".." / "secret").as_uri(), RequestPolicy(local_root=tmp_path / "feeds"))


async def test_file_urls_are_refused_to_web_sources(client: HttpClient) -> None:
    with pytest.raises(BlockedAddress, match="only by local sources"):
        await client.get("file:///etc/passwd", RequestPolicy(source="web"))


@pytest.mark.parametrize("address", ["127.0.0.1", "::ffff:127.0.0.1", "10.0.0.1", "100.64.0.1", "169.254.169.254", "::1"])
def test_non_public_addresses_are_not_allowed(address: str) -> None:
    assert not _is_allowed(address, 80)


def test_public_addresses_are_allowed() -> None:
    assert _is_allowed("93.184.215.14", 443)


@pytest.mark.parametrize("path", ["/brotli-bomb", "/deflate-bomb"])
async def test_brotli_and_deflate_bombs_stop_at_the_cap(server: TestServer, client: HttpClient, path: str) -> None:
    with pytest.raises(OversizedResponse, match="exceeds 100000 bytes"):
        await client.get(str(server.make_url(path)), _allowed(server))


async def test_redirect_loop_is_named(server: TestServer, client: HttpClient) -> None:
    with pytest.raises(RedirectError, match="redirect loop"):
        await client.get(str(server.make_url("/loop/a")), _allowed(server))


async def test_an_image_where_a_feed_is_expected_is_refused_before_reading(server: TestServer, client: HttpClient) -> None:
    policy = RequestPolicy(source="test", allow_hosts=frozenset({f"127.0.0.1:{server.port}"}), accept_types=FEED_TYPES)
    with pytest.raises(UnsupportedContentType, match="image/png"):
        await client.get(str(server.make_url("/image")), policy)


async def test_retry_after_travels_with_the_error(server: TestServer, client: HttpClient) -> None:
    with pytest.raises(BadStatus) as caught:
        await client.get(str(server.make_url("/busy")), _allowed(server))
    assert caught.value.status == 429 and caught.value.retry_after_s == 120


def test_retry_after_as_an_http_date() -> None:
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_s("soon") is None


async def test_allowed_network_and_port_opt_in(server: TestServer, client: HttpClient) -> None:
    policy = RequestPolicy(source="test", allow_hosts=frozenset({f"127.0.0.0/8:{server.port}"}))
    assert (await client.get(str(server.make_url("/hello")), policy)).status == 200
    with pytest.raises(BlockedAddress):
        await client.get("http://127.0.0.1:1/", policy)


class _OneName(AbstractResolver):
    """DNS for one made-up name pointing at loopback, as an intranet name or a rebinding attack would."""

    def __init__(self, name: str) -> None:
        self._name = name

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if host != self._name:
            raise OSError(f"no such host {host}")
        return [
            ResolveResult(hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0, flags=0)
        ]

    async def close(self) -> None:
        return None


async def test_a_name_resolving_to_loopback_is_refused(server: TestServer) -> None:
    async with HttpClient(LIMITS, resolver=_OneName("feeds.intranet.example")) as http:
        with pytest.raises(BlockedAddress, match="not public"):
            await http.get(f"http://feeds.intranet.example:{server.port}/hello", RequestPolicy(source="web"))


async def test_a_pooled_connection_to_an_allowed_host_is_not_reused_for_another_source(server: TestServer) -> None:
    url = f"http://feeds.intranet.example:{server.port}/hello"
    allowed = RequestPolicy(source="intranet", allow_hosts=frozenset({f"feeds.intranet.example:{server.port}"}))
    async with HttpClient(LIMITS, resolver=_OneName("feeds.intranet.example")) as http:
        assert (await http.get(url, allowed)).status == 200  # leaves a keep-alive connection behind
        with pytest.raises(BlockedAddress):
            await http.get(url, RequestPolicy(source="web"))



async def test_a_body_shorter_than_its_content_length_is_a_truncated_response(
    server: TestServer, client: HttpClient
) -> None:
    with pytest.raises(TruncatedResponse, match="response body incomplete"):
        await client.get(str(server.make_url("/truncated")), _allowed(server))
