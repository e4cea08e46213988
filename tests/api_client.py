"""The `serve` app of some Settings on a real loopback server, with a client for it (aiohttp's test utilities)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp.test_utils import TestClient, TestServer

from ingest.http_guard import SERVER_ARGS
from ingest.serve import make_app
from ingest.settings import Settings


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    server = TestServer(make_app(settings), host="127.0.0.1")
    await server.start_server(**SERVER_ARGS)
    client = TestClient(server)
    try:
        yield client
    finally:
        await client.close()
