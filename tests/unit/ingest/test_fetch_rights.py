"""fetch_page() puts the publisher's reuse headers, and the host's tdmrep.json rule, on the job."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from ingest.client import HttpClient
from ingest.fetch import fetch_page
from ingest.jobs import FeedEntry
from ingest.settings import HttpSettings
from ingest.sources import Source
from ingest.tdmrep import TdmRepCache

PAGE = "<html><head><title>A</title></head><body><p>Story.</p></body></html>"
SITE_RULES = [{"location": "/", "tdm-reservation": 1, "tdm-policy": "https://news.example/site-policy"}]


class Pages:
    tdmrep_requests = 0


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()

    async def with_headers(_request: web.Request) -> web.Response:
        headers = CIMultiDict([
            ("X-Robots-Tag", "googlebot: noindex"), ("X-Robots-Tag", "noarchive, nosnippet"),
            ("tdm-reservation", "0"), ("tdm-policy", "https://news.example/header-policy"),
            ("Link", "</app.css>; rel=preload"),
            ("Link", '<https://creativecommons.org/licenses/by/4.0/>; rel="license"'),
        ])
        return web.Response(text=PAGE, content_type="text/html", headers=headers)

    async def plain(_request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def tdmrep(_request: web.Request) -> web.Response:
        Pages.tdmrep_requests += 1
        return web.json_response(SITE_RULES)

    app.router.add_get("/signals", with_headers)
    app.router.add_get("/plain", plain)
    app.router.add_get("/.well-known/tdmrep.json", tdmrep)
    Pages.tdmrep_requests = 0
    async with TestServer(app, host="127.0.0.1") as test_server:
        yield test_server


def _source(server: TestServer, **extra: object) -> Source:
    host = f"127.0.0.1:{server.port}"
    return Source.model_validate({"name": "t", "url": f"http://{host}/feed.xml", "allow_hosts": [host], **extra})


async def test_reuse_headers_reach_the_job(server: TestServer) -> None:
    async with HttpClient(HttpSettings()) as client:
        source = _source(server)
        job = await fetch_page(client, source, FeedEntry(link=f"http://127.0.0.1:{server.port}/signals"),
                               tdmrep=TdmRepCache(client, 60))
    headers = job.headers
    assert headers.x_robots_tag == ("googlebot: noindex", "noarchive, nosnippet")
    assert (headers.tdm_reservation, headers.tdm_policy) == ("0", "https://news.example/header-policy")
    assert headers.link_license == ('<https://creativecommons.org/licenses/by/4.0/>; rel="license"',)
    # The header said it: the host's file is not asked.
    assert (headers.tdm_reservation_site, Pages.tdmrep_requests) == (None, 0)


async def test_the_site_rule_applies_when_the_page_sends_no_header(server: TestServer) -> None:
    async with HttpClient(HttpSettings()) as client:
        job = await fetch_page(client, _source(server), FeedEntry(link=f"http://127.0.0.1:{server.port}/plain"),
                               tdmrep=TdmRepCache(client, 60))
    assert (job.headers.tdm_reservation_site, job.headers.tdm_policy_site) == (1, "https://news.example/site-policy")


async def test_the_source_policy_and_the_global_default_reach_the_snapshot(server: TestServer) -> None:
    url = f"http://127.0.0.1:{server.port}/plain"
    async with HttpClient(HttpSettings()) as client:
        default = await fetch_page(client, _source(server), FeedEntry(link=url), default_reuse="full")
        own = await fetch_page(client, _source(server, reuse_reserved="skip"), FeedEntry(link=url), default_reuse="full")
    assert (default.source.reuse_reserved, own.source.reuse_reserved) == ("full", "skip")
    assert json.loads(json.dumps(own.to_message()))["source"]["reuse_reserved"] == "skip"
