"""How Settings become a Redis connection: password file, TLS requirements, redaction, ACL rules."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from ingest.redact import redact_url as redact
from ingest.redis_connect import RedisSettingsError, RedisTarget, acl_rules
from ingest.settings import Settings


def _settings(url: str, **redis: object) -> Settings:
    return Settings(redis_url=url, elasticsearch_url="http://127.0.0.1:9200", redis=redis)


def test_the_password_file_fills_in_the_urls_password(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("p@ss/word\n", encoding="utf-8")
    target = RedisTarget.from_settings(_settings("redis://newsingest@redis:6379/0", password_file=secret))
    assert target.url == "redis://newsingest:p%40ss%2Fword@redis:6379/0"
    assert target.redacted == "redis://newsingest:***@redis:6379/0"


def test_a_password_in_the_url_and_a_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("one\n", encoding="utf-8")
    with pytest.raises(RedisSettingsError, match="keep one") as raised:
        RedisTarget.from_settings(_settings("redis://u:two@redis/0", password_file=secret))
    assert "two" not in str(raised.value)


def test_an_unreadable_password_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(RedisSettingsError, match="NEWSINGEST_REDIS__PASSWORD_FILE"):
        RedisTarget.from_settings(_settings("redis://u@redis/0", password_file=tmp_path / "missing"))


def test_tls_without_a_ca_names_the_url_redacted_and_the_setting() -> None:
    with pytest.raises(RedisSettingsError) as raised:
        RedisTarget.from_settings(_settings("rediss://u:secret@redis:6380/0"))
    message = str(raised.value)
    assert "NEWSINGEST_REDIS__CA_CERTS" in message and "rediss://u:***@redis:6380/0" in message
    assert "secret" not in message


def test_tls_verifies_the_server_against_the_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    target = RedisTarget.from_settings(_settings("rediss://u@redis:6380/0", ca_certs=ca))
    assert target.ssl_options() == {"ssl_cert_reqs": "required", "ssl_ca_certs": str(ca), "ssl_check_hostname": True}
    assert target.celery_ssl() == {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": str(ca)}


def test_plain_redis_has_no_tls_options() -> None:
    target = RedisTarget.from_settings(_settings("redis://127.0.0.1:6379/0"))
    assert target.ssl_options() == {} and target.celery_ssl() is None
    assert redact(target.url) == target.url


def test_acl_rules_keep_keys_and_channels_inside_the_prefix() -> None:
    rules = acl_rules("app:", db=2).split()
    assert {"~app:*", "&app:*", "&app:/2.celery.pidbox", "-@dangerous"} <= set(rules)
    assert not [rule for rule in rules if rule in ("~*", "&*", "allkeys", "allchannels")]
