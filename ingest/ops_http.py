"""The daemon's operations endpoint: /healthz, /readyz and Prometheus /metrics (off unless configured).

/healthz: the process answers and its event loop has not stalled lately (a heartbeat measures how
late the loop wakes). /readyz: the feed state store answers (and, distributed, Redis), and the
daemon is not shutting down. /metrics: prometheus-client's default registry (ingest/metrics.py, and
in standalone mode workers/metrics.py too). Binds 127.0.0.1 unless told otherwise. Never changes
what the daemon does. Behind ingest/http_guard.py: /metrics and /readyz need a token when one is
configured (and beyond loopback); /readyz names what is down, never its address.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from ingest.http_guard import SERVER_ARGS, check_bind, guarded_app
from ingest.logs import get_logger
from ingest.metrics import QUEUE_DEPTH
from ingest.settings import ApiSettings, OpsSettings

log = get_logger(__name__)

Check = Callable[[], Awaitable[None]]  # raises when what it checks is unreachable
_HEARTBEAT_S = 1.0
_CHECK_TIMEOUT_S = 5.0


class OpsEndpoint:
    def __init__(
        self,
        settings: OpsSettings,
        stopping: asyncio.Event,
        ready_checks: dict[str, Check],
        queue_depth: Callable[[], Awaitable[int | None]],
        api: ApiSettings | None = None,
    ) -> None:
        self._settings = settings
        self._api = api or ApiSettings()
        self._stopping = stopping
        self._checks = ready_checks
        self._queue_depth = queue_depth
        self._worst_lag_s = 0.0  # the loop's largest wake-up delay since the last /healthz
        self._runner: web.AppRunner | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self.port: int | None = None

    async def start(self) -> None:
        check_bind(self._settings.http_host, self._api, surface="the daemon's /metrics")
        app = guarded_app(self._api)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, **SERVER_ARGS)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._settings.http_host, self._settings.http_port)
        await site.start()
        addresses = self._runner.addresses  # the bound port, when 0 asked for any free one
        self.port = int(addresses[0][1]) if addresses else self._settings.http_port
        self._heartbeat = asyncio.create_task(self._beat())
        log.info("ops_endpoint_serving", address=f"http://{self._settings.http_host}:{self.port}")

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            try:
                await self._heartbeat
            except asyncio.CancelledError:
                pass
        if self._runner is not None:
            await self._runner.cleanup()

    async def _beat(self) -> None:
        while True:
            expected = time.monotonic() + _HEARTBEAT_S
            await asyncio.sleep(_HEARTBEAT_S)
            self._worst_lag_s = max(self._worst_lag_s, time.monotonic() - expected)

    async def _healthz(self, request: web.Request) -> web.Response:
        lag, self._worst_lag_s = self._worst_lag_s, 0.0
        if lag > self._settings.loop_stall_s:
            return web.json_response({"status": "stalled", "loop_lag_s": round(lag, 3)}, status=503)
        return web.json_response({"status": "ok", "loop_lag_s": round(lag, 3)})

    async def _readyz(self, request: web.Request) -> web.Response:
        if self._stopping.is_set():
            return web.json_response({"status": "shutting down"}, status=503)
        problems: dict[str, str] = {}
        for name, check in self._checks.items():
            try:
                await asyncio.wait_for(check(), _CHECK_TIMEOUT_S)
            except Exception as exc:  # any failure of a check is the answer, not an error of ours
                # The reason may name a host: it goes to the log, the answer only says what is down.
                log.warning("ready_check_failed", check=name, error_type=type(exc).__name__, error=str(exc))
                problems[name] = "timed out" if isinstance(exc, TimeoutError) else "unreachable"
        if problems:
            return web.json_response({"status": "not ready", "problems": problems}, status=503)
        return web.json_response({"status": "ready", "checks": sorted(self._checks)})

    async def _metrics(self, request: web.Request) -> web.Response:
        try:
            depth = await asyncio.wait_for(self._queue_depth(), _CHECK_TIMEOUT_S)
        except Exception as exc:  # a scrape still answers; the depth keeps its last value
            log.warning("queue_depth_unknown", error_type=type(exc).__name__, error=str(exc))
            depth = None
        if depth is not None:
            QUEUE_DEPTH.set(depth)
        body = await asyncio.to_thread(generate_latest, REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
