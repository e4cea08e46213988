"""Keep credentials out of everything a person or a scraper reads: logs, CLI output, dead letters.

Two layers, because neither alone is enough: patterns catch credentials we were never told about
(a feed URL with `user:token@` or `?token=`), and a registry of the exact secrets from the loaded
settings catches them where no pattern would (a password echoed inside a library's error message).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from ingest.settings import Settings

MASK = "***"
# Shorter values would blank out ordinary words ("a", "redis"); a real secret is longer.
_MIN_SECRET_CHARS = 4

# scheme://user:password@  -> keep the user, hide the password (any scheme, as in kombu's maskpass).
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@?#'\"<>]*):(?P<secret>[^\s@/?#'\"<>]*)@")
# ?password=...&token=...  (query strings, form bodies)
_QUERY = re.compile(
    r"(?P<head>[?&;](?:password|passwd|pwd|pass|token|access_token|api_key|apikey|key|secret|auth|sig|signature)=)"
    r"(?P<secret>[^&#\s'\"<>]+)",
    re.IGNORECASE,
)
# Authorization: Basic xxx / Bearer xxx / ApiKey xxx, in a header dump or a repr of one.
_AUTH = re.compile(r"(?P<head>\b(?:Basic|Bearer|ApiKey|Token)\s+)(?P<secret>[A-Za-z0-9+/=._~\-:]{4,})")

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()


def register_secret(secret: str | None) -> None:
    """Remember an exact secret value, so it is masked wherever it appears from now on."""
    global _secrets
    if not secret:
        return
    values = {secret.strip()}
    decoded = unquote(secret.strip())  # a password in a URL is often percent-encoded
    values.add(decoded)
    keep = {value for value in values if len(value) >= _MIN_SECRET_CHARS}
    if keep:
        with _lock:
            _secrets = _secrets | keep


def registered_secrets() -> frozenset[str]:
    return _secrets


def forget_secrets() -> None:
    """Tests only: start from an empty registry."""
    global _secrets
    with _lock:
        _secrets = frozenset()


def redact_url(url: str) -> str:
    """The URL with its password masked; the user stays (it says who connects)."""
    return _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", url)


def redact_text(text: str) -> str:
    """`text` with URL passwords, secret query parameters, Authorization values and known secrets masked."""
    if not text:
        return text
    # Longest first, so a secret containing another is masked whole.
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)
    text = _QUERY.sub(lambda m: f"{m['head']}{MASK}", text)
    return _AUTH.sub(lambda m: f"{m['head']}{MASK}", text)


def redact(value: Any) -> Any:
    """A copy of `value` (str, dict, list, tuple, set, exception) with every string in it redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact(key): _redact_header(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact(item) for item in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(redact(item) for item in value)
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value


_SECRET_KEYS = {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "password", "api_key", "token"}


def _redact_header(key: Any, item: Any) -> Any:
    # A header or field named for a secret is hidden whole, whatever its value looks like.
    if isinstance(key, str) and key.lower() in _SECRET_KEYS and isinstance(item, str) and item:
        return MASK
    return redact(item)


def structlog_processor(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: every value of the event (and a formatted exception) redacted.

    An exception is formatted to text here, before redaction: a renderer that formats it later
    (the console's boxed traceback) would wrap a secret across lines where nothing can find it."""
    import structlog

    if event_dict.get("exc_info"):
        event_dict = structlog.processors.format_exc_info(_logger, _method, event_dict)
    return {key: redact(item) for key, item in event_dict.items()}


def redacting_renderer(renderer: Any) -> Any:
    """Wrap a structlog renderer so its finished line is redacted too: the last net under everything."""

    def render(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
        line = renderer(logger, method, event_dict)
        return redact_text(line) if isinstance(line, str) else line

    return render


def url_password(url: str | None) -> str | None:
    """The password in a URL's userinfo, if any (percent-decoded)."""
    if not url:
        return None
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def register_settings(settings: Settings) -> None:
    """Learn every secret the settings hold or point at. Unreadable files are skipped here: the
    component that reads them reports that, with its own message."""
    for url in (settings.redis_url, settings.elasticsearch_url):
        register_secret(url_password(url))
    es = settings.elasticsearch
    identities: list[Any] = [es, es.reader] if es.reader is not None else [es]
    for identity in identities:
        for secret in (identity.password, identity.api_key):
            if secret is not None:
                register_secret(secret.get_secret_value())
        for path in (identity.password_file, identity.api_key_file):
            register_secret(_read_quietly(path))
    register_secret(_read_quietly(settings.redis.password_file))
    for token in _lines_quietly(settings.api.token_file):
        register_secret(token)


def _read_quietly(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _lines_quietly(path: Path | None) -> Iterable[str]:
    text = _read_quietly(path)
    if not text:
        return []
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def redacting_excepthook(kind: type[BaseException], error: BaseException, trace: Any) -> None:
    """sys.excepthook: the usual traceback, redacted, on stderr."""
    import sys
    import traceback

    sys.stderr.write(redact_text("".join(traceback.format_exception(kind, error, trace))))
