"""Messages the worker refuses to decode (pickle, any content type but JSON) become dead letters.

Celery accepts JSON only (workers/app.py), so a message injected into the queue with pickle cannot
run code: kombu raises ContentDisallowed before deserializing. Celery would then log and drop it;
this consumer also records a DeadLetter with the message's id, content type and headers and a
truncated body kept as text, never deserialized, then lets Celery drop it (acked, so it never loops).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from celery.worker.consumer import Consumer
from kombu.exceptions import ContentDisallowed, DecodeError

from ingest.logs import get_logger
from ingest.settings import Settings
from workers.documents import DeadLetter
from workers.index.connect import elastic_client
from workers.index.connect import elastic_client
from workers.index.elastic import ElasticDeadLetters

log = get_logger("newsingest.workers")

_BODY_CHARS = 2000  # enough to recognise what was sent; a letter is for a person, not for replay
_HEADER_CHARS = 500


class DeadLetteringConsumer(Consumer):  # type: ignore[misc]  # celery is untyped
    """Celery's consumer, but a message refused for its content type or encoding is dead-lettered first."""

    def on_invalid_task(self, body: Any, message: Any, exc: BaseException) -> None:
        if isinstance(exc, ContentDisallowed):
            _record_refused(self.app.conf.newsingest_settings, message, exc)
        super().on_invalid_task(body, message, exc)

    def on_decode_error(self, message: Any, exc: BaseException) -> None:
        if isinstance(exc, ContentDisallowed | DecodeError):
            _record_refused(self.app.conf.newsingest_settings, message, exc)
        super().on_decode_error(message, exc)


def refused_letter(message: Any, exc: BaseException, now: datetime) -> DeadLetter:
    """The dead letter of a refused message: everything a person needs, nothing that was deserialized."""
    headers = message.headers or {}
    body: bytes | str = message.body or b""
    raw = body if isinstance(body, bytes) else body.encode("utf-8", "replace")
    job_id = str(headers.get("id") or "refused-" + hashlib.sha256(raw).hexdigest()[:24])
    return DeadLetter(
        job_id=job_id[:200],
        url=None,
        source=None,
        stage="validate",
        error_type=type(exc).__name__,
        reason=f"message refused, content type {message.content_type!r} is not accepted (JSON only): {exc}"[:1000],
        failed_at=now,
        job={
            "refused_message": True,
            "task": str(headers.get("task", ""))[:_HEADER_CHARS],
            "content_type": str(message.content_type),
            "content_encoding": str(message.content_encoding),
            "headers": {str(name): repr(value)[:_HEADER_CHARS] for name, value in headers.items()},
            "body_bytes": len(raw),
            "body_preview": raw[:_BODY_CHARS].decode("latin-1"),  # bytes as text, never unpickled
        },
    )


def _record_refused(settings: Settings, message: Any, exc: BaseException) -> None:
    letter = refused_letter(message, exc, datetime.now(UTC))
    log.error("message_refused", job_id=letter.job_id, content_type=message.content_type, error_type=letter.error_type)
    if not settings.elasticsearch_url:
        return
    client = elastic_client(settings, "write")
    try:
        ElasticDeadLetters(client, settings.index_alias).record([letter])
    except Exception as error:  # noqa: BLE001  # the message is dropped either way; say the letter is lost
        log.error("refused_message_not_recorded", job_id=letter.job_id, error_type=type(error).__name__, error=str(error))
    finally:
        client.close()
