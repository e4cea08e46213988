"""A Celery worker's /metrics: the series of every prefork child, summed, served by the main process.

prometheus-client picks multiprocess mode once, when it is first imported, from the environment
variable PROMETHEUS_MULTIPROC_DIR (each process then writes its values to files there). The
worker command has imported it by the time it reads its settings, so without the variable it
re-executes itself once with the variable set; a unit file or compose service may set it instead.
The directory is emptied at start (files of an earlier run would be added in), and a child that
exits is marked dead so its live gauges go. Never touches the daemon's registry.
prometheus-client's WSGI app is served behind ingest/http_guard.py's rules (bind rule, bearer
tokens, security headers), on a small threaded WSGI server of the standard library.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ingest.http_guard import JSON_CSP, SECURITY_HEADERS, check_bind, load_tokens, token_accepted
from ingest.logs import get_logger
from ingest.settings import ApiSettings, Settings

log = get_logger(__name__)

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def metrics_dir(settings: Settings) -> Path:
    port = settings.ops.worker_metrics_port
    return settings.ops.worker_metrics_dir or settings.data_dir / f"worker-metrics-{port}"


def prepare(settings: Settings, argv: list[str]) -> None:
    """Call first in the worker command: re-executes it in multiprocess mode, or wires the endpoint."""
    port = settings.ops.worker_metrics_port
    if port is None:
        return
    check_bind(settings.ops.worker_metrics_host, settings.api, surface="a worker's /metrics")
    if settings.api.token_file is not None:
        load_tokens(settings.api.token_file)  # an unusable file stops the command now, not once the pool is up
    configured = os.environ.get(MULTIPROC_VARIABLE)
    if not configured:
        directory = metrics_dir(settings)
        _empty(directory)
        env = {**os.environ, MULTIPROC_VARIABLE: str(directory.resolve())}
        log.info("worker_metrics_reexec", directory=str(directory), reason="multiprocess mode is chosen at import")
        os.execve(sys.executable, [sys.executable, "-m", "ingest.cli", *argv], env)
    directory = Path(str(configured))
    _empty(directory)
    _connect_signals(settings.ops.worker_metrics_host, port, directory, settings.api)


def _empty(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)


def _connect_signals(host: str, port: int, directory: Path, api: ApiSettings) -> None:
    from celery.signals import worker_process_shutdown, worker_ready
    from prometheus_client import CollectorRegistry, make_wsgi_app, multiprocess

    def serve(**_: Any) -> None:
        # After the pool has started: the main process only reads the children's files.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
        _start_server(host, port, _guarded(make_wsgi_app(registry), api))
        log.info("worker_metrics_serving", address=f"http://{host}:{port}/metrics", directory=str(directory))

    def child_exited(pid: int | None = None, **_: Any) -> None:
        multiprocess.mark_process_dead(pid or os.getpid(), path=str(directory))  # type: ignore[no-untyped-call]

    worker_ready.connect(serve, weak=False)
    worker_process_shutdown.connect(child_exited, weak=False)


Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _guarded(app: Wsgi, api: ApiSettings) -> Wsgi:
    """The WSGI form of the HTTP guard: a token when configured, security headers on every answer."""
    tokens = load_tokens(api.token_file) if api.token_file is not None else ()
    extra = [*SECURITY_HEADERS.items(), ("Content-Security-Policy", JSON_CSP), ("Cache-Control", "no-store")]

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def respond(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            return start_response(status, [*headers, *extra], *args)

        if tokens and not token_accepted(environ.get("HTTP_AUTHORIZATION"), tokens):
            respond("401 Unauthorized", [
                ("Content-Type", "application/json"), ("WWW-Authenticate", 'Bearer realm="newsingest"'),
            ])
            return [b'{"error": "a valid bearer token is required: send Authorization: Bearer <token>"}']
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            respond("405 Method Not Allowed", [("Content-Type", "application/json"), ("Allow", "GET, HEAD")])
            return [b'{"error": "only GET is served here"}']
        return app(environ, respond)

    return guarded


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper never holds up the worker's exit


class _ThreadingServerV6(_ThreadingServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Scrapes are not worth a log line each."""


def _start_server(host: str, port: int, app: Wsgi) -> WSGIServer:
    server_class = _ThreadingServerV6 if ":" in host else _ThreadingServer
    server = make_server(host, port, app, server_class=server_class, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    return server
