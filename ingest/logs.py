"""configure_logging(): the one place log renderers and handlers are set. Other modules call get_logger()."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO, cast

import structlog

from ingest import redact

_configured = False


class _CurrentStderr:
    """Writes to whatever sys.stderr is now, so a replaced stream (tests, daemons) is followed."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", *, json: bool | None = None) -> None:
    """JSON lines off a terminal, the console renderer on one; stdlib logging routed through structlog."""
    global _configured
    as_json = not sys.stderr.isatty() if json is None else json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    # Credentials never reach a log line: fields redacted first, the finished line once more
    # (a stdlib record's exception text is only formatted inside the renderer).
    renderer = redact.redacting_renderer(renderer)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact.structlog_processor, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )
    # Libraries (celery, elasticsearch, aiohttp) log through the stdlib: render them the same way.
    handler = logging.StreamHandler(cast(TextIO, _CurrentStderr()))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=renderer, foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, redact.structlog_processor]
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("elastic_transport", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
