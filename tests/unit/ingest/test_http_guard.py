"""The HTTP guard's pure parts: tokens, the bind rule, the rate limiter; and the ES query's lack of syntax."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from ingest.http_guard import RateLimiter, UnsafeBind, check_bind, is_loopback, load_tokens, token_accepted
from ingest.settings import ApiSettings
from workers.index.elastic_query import search_body, stats_body
from workers.index.query import build_query


def test_tokens_file_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# for the dashboard\n\nfirst-token\n  second-token  \n", encoding="utf-8")
    assert load_tokens(path) == (b"first-token", b"second-token")


def test_tokens_file_without_tokens_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(UnsafeBind, match=f"api.token_file {path}: holds no token"):
        load_tokens(path)


def test_missing_tokens_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(UnsafeBind, match="api.token_file .*missing.*cannot be read"):
        load_tokens(tmp_path / "missing")


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("Bearer second", True),
        ("bearer second", True),
        ("Bearer secon", False),
        ("Bearer second-and-more", False),
        ("Basic second", False),
        ("second", False),
        ("Bearer ", False),
        (None, False),
    ],
)
def test_only_a_listed_bearer_token_is_accepted(header: str | None, accepted: bool) -> None:
    assert token_accepted(header, (b"first", b"second")) is accepted


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost"])
def test_loopback_addresses_are_recognised(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.5", "example.org", "::ffff:10.0.0.1"])
def test_other_addresses_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_binding_beyond_loopback_without_tokens_is_refused_saying_what_to_set() -> None:
    with pytest.raises(UnsafeBind) as caught:
        check_bind("0.0.0.0", ApiSettings())
    message = str(caught.value)
    assert "\n" not in message and "NEWSINGEST_API__TOKEN_FILE" in message and "--public" in message


def test_binding_beyond_loopback_with_tokens_is_allowed(tmp_path: Path) -> None:
    check_bind("0.0.0.0", ApiSettings(token_file=tmp_path / "tokens"))


def test_public_binding_is_allowed_with_a_warning() -> None:
    with capture_logs() as logs:
        check_bind("0.0.0.0", ApiSettings(), public=True)
    assert [entry["log_level"] for entry in logs if entry["event"] == "http_public_without_tokens"] == ["warning"]


def test_rate_limiter_allows_the_burst_then_names_the_wait() -> None:
    now = [100.0]
    limiter = RateLimiter(per_minute=60, burst=3, clock=lambda: now[0])
    assert [limiter.wait_s("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait_s("a") == pytest.approx(1.0)
    assert limiter.wait_s("b") == 0.0  # another client has its own bucket
    now[0] += 1.0
    assert limiter.wait_s("a") == 0.0


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in _keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in _keys(item)}
    return set()


@pytest.mark.parametrize("text", ["*foo", "/.*/", "a~", "title:x OR 1=1", 'script "source"'])
def test_user_text_never_becomes_a_query_with_syntax(text: str) -> None:
    query = build_query(text, filters={"source": "*", "tag": "/.*/"})
    keys = _keys(search_body(query)) | _keys(stats_body(query, 10))
    forbidden = {"query_string", "wildcard", "regexp", "prefix", "fuzzy", "script", "script_score", "simple_query_string"}
    assert not keys & forbidden
    assert "multi_match" in keys and "term" in keys

