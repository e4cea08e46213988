"""The dead letter of a message refused for its content type: readable, bounded, never deserialized."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

from kombu.exceptions import ContentDisallowed
from kombu.message import Message

from workers.refused_messages import refused_letter


def test_the_letter_names_the_content_type_and_keeps_a_bounded_preview() -> None:
    body = pickle.dumps(("x" * 10_000,))
    message = Message(
        body=body, content_type="application/x-python-serialize", content_encoding="binary",
        headers={"id": "task-1", "task": "newsingest.process_batch"},
    )
    letter = refused_letter(message, ContentDisallowed("Refusing to deserialize untrusted content"), datetime.now(UTC))
    assert letter.job_id == "task-1"
    assert letter.stage == "validate" and letter.error_type == "ContentDisallowed"
    assert "application/x-python-serialize" in letter.reason
    assert letter.job is not None
    assert letter.job["body_bytes"] == len(body)
    assert len(letter.job["body_preview"]) == 2000
    assert letter.job["task"] == "newsingest.process_batch"


def test_a_message_without_an_id_gets_one_from_its_body() -> None:
    message = Message(body=b"\x80\x04junk", content_type="application/x-yaml", content_encoding="utf-8", headers={})
    first = refused_letter(message, ContentDisallowed("no"), datetime.now(UTC))
    again = refused_letter(message, ContentDisallowed("no"), datetime.now(UTC))
    assert first.job_id.startswith("refused-") and first.job_id == again.job_id  # recorded once if redelivered
