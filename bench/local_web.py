"""serve_forever(): run an aiohttp app for a benchmark's local web, in the calling (child) process.

The app listens on one port on every given loopback address (127.0.x.y, so per-host politeness
sees many hosts); the port is sent back through `port_out`, then it serves until killed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from multiprocessing.connection import Connection

from aiohttp import web


def serve_forever(app: web.Application, port_out: Connection, hosts: Sequence[str] = ("127.0.0.1",)) -> None:
    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        first = web.TCPSite(runner, hosts[0], 0, backlog=1024)
        await first.start()
        port = first._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        for host in hosts[1:]:
            await web.TCPSite(runner, host, port, backlog=1024).start()
        port_out.send(port)
        await asyncio.Event().wait()

    asyncio.run(main())
