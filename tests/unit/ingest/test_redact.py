"""Credentials are masked in text, nested data, log lines and dead letters; file modes are checked."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest import redact
from ingest.logs import configure_logging, get_logger
from ingest.secrets import secret_file_warnings
from ingest.settings import load_settings
from workers.documents import DeadLetter

SECRET = "plantedS3cret-unit-7f3a"


@pytest.fixture(autouse=True)
def empty_registry() -> Iterator[None]:
    redact.forget_secrets()
    yield
    redact.forget_secrets()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"redis://:{SECRET}@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        (f"rediss://worker:{SECRET}@cache:6380", "rediss://worker:***@cache:6380"),
        (f"Connected to amqp://guest:{SECRET}@rabbit//", "Connected to amqp://guest:***@rabbit//"),
        (f"GET https://alice:{SECRET}@feeds.example/rss failed", "GET https://alice:***@feeds.example/rss failed"),
        (f"https://feeds.example/rss?token={SECRET}&page=2", "https://feeds.example/rss?token=***&page=2"),
        (f"http://x.example/?a=1&password={SECRET}", "http://x.example/?a=1&password=***"),
        (f"Authorization: Bearer {SECRET}", "Authorization: Bearer ***"),
        (f"headers={{'authorization': 'ApiKey {SECRET}'}}", "headers={'authorization': 'ApiKey ***'}"),
        (f"Authorization: Basic {SECRET}", "Authorization: Basic ***"),
        ("https://feeds.example/news?page=2 and user@example.com", "https://feeds.example/news?page=2 and user@example.com"),
    ],
)
def test_patterns_mask_credentials_without_being_told(text: str, expected: str) -> None:
    assert redact.redact_text(text) == expected


def test_registered_secrets_are_masked_anywhere_in_nested_data() -> None:
    redact.register_secret(SECRET)
    data = {
        "message": f"auth failed for {SECRET}",
        "list": [f"x{SECRET}y", ("tuple", SECRET)],
        SECRET: {"deep": {SECRET}},
        "error": ConnectionError(f"AUTH {SECRET} rejected"),
        "count": 3,
    }
    assert SECRET not in repr(redact.redact(data))
    assert redact.redact(data)["count"] == 3


def test_percent_encoded_url_password_is_registered_decoded_too() -> None:
    redact.register_secret(redact.url_password("redis://:p%40ss-word-9@h:1/0"))
    assert redact.redact_text("password p@ss-word-9 was refused") == "password *** was refused"


def test_settings_register_every_secret_they_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "es-pass").write_text("es-file-secret-1\n")
    (tmp_path / "redis-pass").write_text("redis-file-secret-2\n")
    (tmp_path / "tokens").write_text("# comment\napi-token-secret-3\n")
    monkeypatch.setenv("NEWSINGEST_REDIS_URL", "redis://:redis-url-secret-4@127.0.0.1:1/0")
    monkeypatch.setenv("NEWSINGEST_ELASTICSEARCH_URL", "http://127.0.0.1:9200")
    monkeypatch.setenv("NEWSINGEST_ELASTICSEARCH__USERNAME", "writer")
    monkeypatch.setenv("NEWSINGEST_ELASTICSEARCH__PASSWORD_FILE", str(tmp_path / "es-pass"))
    monkeypatch.setenv("NEWSINGEST_REDIS__PASSWORD_FILE", str(tmp_path / "redis-pass"))
    monkeypatch.setenv("NEWSINGEST_API__TOKEN_FILE", str(tmp_path / "tokens"))
    monkeypatch.setenv("NEWSINGEST_ELASTICSEARCH__READER__USERNAME", "reader")
    monkeypatch.setenv("NEWSINGEST_ELASTICSEARCH__READER__PASSWORD", "reader-secret-5")
    redact.register_settings(load_settings())
    text = " ".join(f"{name}-secret-{n}" for n, name in
                    [(1, "es-file"), (2, "redis-file"), (3, "api-token"), (4, "redis-url"), (5, "reader")])
    assert redact.redact_text(text) == " ".join(["***"] * 5)


def test_dead_letters_are_stored_without_credentials() -> None:
    redact.register_secret(SECRET)
    letter = DeadLetter(
        job_id="j1",
        url=f"https://bob:{SECRET}@news.example/a?token=abc123",
        source="feed",
        stage="extract",
        error_type="ValueError",
        reason=f"fetch of https://news.example/a?token={SECRET} failed",
        failed_at=datetime.now(UTC),
        job={"url": f"https://news.example/a?token={SECRET}", "headers": {"Authorization": "Bearer zzz-9"}},
    )
    dumped = letter.model_dump_json()
    assert SECRET not in dumped and "abc123" not in dumped and "zzz-9" not in dumped
    assert letter.url == "https://bob:***@news.example/a?token=***"
    assert DeadLetter.model_validate_json(dumped) == letter  # reading a stored letter back is unchanged


@pytest.mark.parametrize("as_json", [True, False])
def test_log_lines_structlog_and_stdlib_are_redacted(monkeypatch: pytest.MonkeyPatch, as_json: bool) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("INFO", json=as_json)
    redact.register_secret(SECRET)
    get_logger("t").info("connecting", url=f"redis://u:{SECRET}@h:1/0", nested={"k": [SECRET]})
    other = "other-pass-" + "77"  # built, so a traceback quoting this source does not hold it
    logging.getLogger("kombu.connection").info("Connected to redis://:%s@127.0.0.1:6379//", other)
    try:
        raise ConnectionError(f"Error connecting to http://elastic:{SECRET}@es:9200")
    except ConnectionError:
        logging.getLogger("elastic_transport").error("request failed", exc_info=True)
        get_logger("t").exception("failed")
    out = stream.getvalue()
    assert "Connected to redis://:***@127.0.0.1" in out
    assert SECRET not in out and other not in out
    assert out.count("ConnectionError") >= 2  # the exceptions were logged, only their secrets went
    if as_json:
        assert all(json.loads(line) for line in out.splitlines())


def test_settings_file_with_a_secret_readable_by_others_is_warned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_file = tmp_path / "newsingest.toml"
    settings_file.write_text('[elasticsearch]\nusername = "w"\npassword = "pw-in-file-1"\n')
    tokens = tmp_path / "tokens"
    tokens.write_text("tok-1\n")
    monkeypatch.setenv("NEWSINGEST_SETTINGS_FILE", str(settings_file))
    monkeypatch.setenv("NEWSINGEST_API__TOKEN_FILE", str(tokens))
    os.chmod(settings_file, 0o644)
    os.chmod(tokens, 0o640)
    warnings = secret_file_warnings(load_settings())
    assert len(warnings) == 2
    assert str(settings_file) in warnings[0] and f"chmod 600 {settings_file}" in warnings[0]
    assert "api.token_file" in warnings[1]
    os.chmod(settings_file, 0o600)
    os.chmod(tokens, 0o600)
    assert secret_file_warnings(load_settings()) == []


def test_settings_file_without_secrets_may_be_world_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_file = tmp_path / "newsingest.toml"
    settings_file.write_text('redis_url = "redis://127.0.0.1:6379/0"\nelasticsearch_url = "http://127.0.0.1:9200"\n')
    os.chmod(settings_file, 0o644)
    monkeypatch.setenv("NEWSINGEST_SETTINGS_FILE", str(settings_file))
    assert secret_file_warnings(load_settings()) == []
