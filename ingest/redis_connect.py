"""The one way to reach Redis: a client (sync or asyncio) and Celery's TLS options, from Settings.

The URL carries the user and password (redis://user:pass@host/0); NEWSINGEST_REDIS__PASSWORD_FILE
fills the password in instead; rediss:// is TLS and always verifies the server against
NEWSINGEST_REDIS__CA_CERTS. Never logs a password: `redacted` is the URL fit for messages.

The narrowest Redis ACL user the whole system works with (daemon, workers, status, audit,
dead letters), for key prefix P (NEWSINGEST_KEY_PREFIX), is `acl_rules(P)`:
    user newsingest on >PASSWORD resetkeys resetchannels ~P* &P* &P/0.celery.pidbox +@all -@dangerous
Every key and pub/sub channel lives under P: kombu's `global_keyprefix` prefixes the queue,
`_kombu.binding.*`, the unacked hash, index and mutex, the pidbox reply lists, and the channels of
the fanout exchanges (remote control `P/0.celery.pidbox`, events `P/0.celeryev/...`); the result
backend prefixes `celery-task-meta-*` and its channels.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import redis
import redis.asyncio

from ingest.redact import redact_url
from ingest.secrets import SecretError, read_secret
from ingest.settings import Settings

_URL_SETTING = "NEWSINGEST_REDIS_URL"
_CA_SETTING = "NEWSINGEST_REDIS__CA_CERTS"
_PASSWORD_SETTING = "NEWSINGEST_REDIS__PASSWORD"


class RedisSettingsError(ValueError):
    """Redis settings that cannot work (TLS without a CA, an unreadable password file); one line."""


class RedisAccessError(RuntimeError):
    """Redis answered but refused us (wrong password, unknown user, an ACL, a certificate): not an outage."""


def acl_rules(key_prefix: str, db: int = 0) -> str:
    """The ACL rules (after `user NAME on >PASSWORD`) that are enough for every newsingest command.

    Workers PSUBSCRIBE to the remote-control channel `<prefix>/<db>.celery.pidbox`, and Redis checks
    a PSUBSCRIBE pattern literally against the allowed ones: `&<prefix>*` does not cover it, so it is
    named. `-@dangerous` leaves out KEYS, FLUSHALL, CONFIG, INFO, DEBUG, ACL and the like: nothing
    newsingest calls.
    """
    pidbox = f"{key_prefix}/{db}.celery.pidbox"
    return f"resetkeys resetchannels ~{key_prefix}* &{key_prefix}* &{pidbox} +@all -@dangerous"


@dataclass(frozen=True)
class RedisTarget:
    """Where Redis is and how to trust it: the URL (password filled in) and, for rediss://, the CA file."""

    url: str
    ca_certs: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisTarget:
        if not settings.redis_url:
            raise RedisSettingsError(f"{_URL_SETTING} is not set (distributed mode needs it)")
        url = settings.redis_url
        try:
            password = read_secret(None, settings.redis.password_file, _PASSWORD_SETTING)
        except SecretError as exc:
            raise RedisSettingsError(str(exc)) from None
        if password is not None:
            if urlsplit(url).password is not None:
                raise RedisSettingsError(
                    f"{_URL_SETTING}={redact_url(url)} has a password and {_PASSWORD_SETTING}_FILE is set: keep one"
                )
            url = _with_password(url, password)
        target = cls(url, settings.redis.ca_certs)
        target.check()
        return target

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "rediss"

    @property
    def redacted(self) -> str:
        return redact_url(self.url)

    def check(self) -> None:
        """TLS without a CA to verify the server against is refused, never downgraded to "trust anyone"."""
        if self.tls and self.ca_certs is None:
            raise RedisSettingsError(
                f"{_URL_SETTING}={self.redacted} uses TLS (rediss://) but {_CA_SETTING} is not set: "
                "name the PEM file of the CA that signed the server's certificate"
            )
        if self.ca_certs is not None and not self.ca_certs.is_file():
            raise RedisSettingsError(f"{_CA_SETTING}={self.ca_certs}: no such file")

    def ssl_options(self) -> dict[str, Any]:
        """redis-py's keyword arguments for TLS (empty for redis://)."""
        if not self.tls:
            return {}
        return {"ssl_cert_reqs": "required", "ssl_ca_certs": str(self.ca_certs), "ssl_check_hostname": True}

    def celery_ssl(self) -> dict[str, Any] | None:
        """Celery's `broker_use_ssl` / `redis_backend_use_ssl` (None for redis://)."""
        if not self.tls:
            return None
        return {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": str(self.ca_certs)}


def as_target(where: RedisTarget | str) -> RedisTarget:
    """A plain URL (tests, tools) is a target without a CA file; a rediss:// one is then refused."""
    target = where if isinstance(where, RedisTarget) else RedisTarget(where)
    target.check()
    return target


def redis_client(where: RedisTarget | str, **options: Any) -> redis.Redis:
    """A synchronous client; `options` are the caller's timeouts and decoding."""
    target = as_target(where)
    return redis.Redis.from_url(target.url, **target.ssl_options(), **options)


def async_redis_client(where: RedisTarget | str, **options: Any) -> redis.asyncio.Redis:
    """An asyncio client; `options` are the caller's timeouts and decoding."""
    target = as_target(where)
    return redis.asyncio.Redis.from_url(target.url, **target.ssl_options(), **options)


def check_access(target: RedisTarget) -> None:
    """One PING at start-up: a refused password, user or certificate is a clear error, not a wait.

    An unreachable server is left to the callers, which wait out outages.
    """
    client = redis_client(target, socket_timeout=10, socket_connect_timeout=5)
    try:
        client.ping()
    except (redis.AuthenticationError, redis.exceptions.NoPermissionError) as exc:
        raise RedisAccessError(f"Redis at {target.redacted} refused the user or password in {_URL_SETTING}: {exc}") from None
    except redis.ConnectionError as exc:
        if "certificate" in str(exc).lower() or "ssl" in str(exc).lower():
            raise RedisAccessError(
                f"Redis at {target.redacted}: TLS failed ({exc}); check {_CA_SETTING} names the CA of the server"
            ) from None
    finally:
        client.close()


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = quote(unquote(parts.username or ""), safe="")
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{user}:{quote(password, safe='')}@{host}", parts.path, parts.query, parts.fragment))
