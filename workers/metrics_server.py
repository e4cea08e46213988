"""A Celery worker's /metrics: the series of every prefork child, summed, served by the main process.

prometheus-client picks multiprocess mode once, when it is first imported, from the environment
variable PROMETHEUS_MULTIPROC_DIR (each process then writes its values to files there). The
worker command has imported it by the time it reads its settings, so without the variable it
re-executes itself once with the variable set; a unit file or compose service may set it instead.
The directory is emptied at start (files of an earlier run would be added in), and a child that
exits is marked dead so its live gauges go. Never touches the daemon's registry.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ingest.logs import get_logger
from ingest.settings import Settings

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
    configured = os.environ.get(MULTIPROC_VARIABLE)
    if not configured:
        directory = metrics_dir(settings)
        _empty(directory)
        env = {**os.environ, MULTIPROC_VARIABLE: str(directory.resolve())}
        log.info("worker_metrics_reexec", directory=str(directory), reason="multiprocess mode is chosen at import")
        os.execve(sys.executable, [sys.executable, "-m", "ingest.cli", *argv], env)
    directory = Path(str(configured))
    _empty(directory)
    _connect_signals(settings.ops.worker_metrics_host, port, directory)


def _empty(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)


def _connect_signals(host: str, port: int, directory: Path) -> None:
    from celery.signals import worker_process_shutdown, worker_ready
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    def serve(**_: Any) -> None:
        # After the pool has started: the main process only reads the children's files.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
        start_http_server(port, addr=host, registry=registry)
        log.info("worker_metrics_serving", address=f"http://{host}:{port}/metrics", directory=str(directory))

    def child_exited(pid: int | None = None, **_: Any) -> None:
        multiprocess.mark_process_dead(pid or os.getpid(), path=str(directory))  # type: ignore[no-untyped-call]

    worker_ready.connect(serve, weak=False)
    worker_process_shutdown.connect(child_exited, weak=False)
