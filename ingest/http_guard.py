"""The one guard in front of every HTTP surface (`serve`, the daemon's and a worker's endpoints).

Who may bind where (loopback, or tokens, or an explicit `public`), bearer tokens compared in
constant time, a token bucket per client address, CORS only for configured origins, security
headers on every response, a time limit per request, and errors as one JSON line that never
carries a stack trace. Never decides what an endpoint answers: it only lets requests in or not.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ingest.errors import IngestError
from ingest.logs import get_logger
from ingest.settings import ApiSettings

log = get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OPEN_PATHS = frozenset({"/healthz"})  # liveness probes need no token (nor a rate limit)
# The web console's browser sends its token in this cookie (set by /login: HttpOnly, SameSite=Strict),
# since a plain link or form cannot send an Authorization header.
TOKEN_COOKIE = "newsingest_token"
JSON_CSP = "default-src 'none'; frame-ancestors 'none'"
MAX_URL_CHARS = 16_384  # path and query string; a longer request line is refused with 414
MAX_BODY_BYTES = 64 * 1024  # every route is GET but the console's sign-in form, whose body is tiny
# aiohttp's own parser limits (passed to AppRunner/run_app); above MAX_URL_CHARS so our check answers.
SERVER_ARGS: dict[str, Any] = {"max_line_size": MAX_URL_CHARS + 2_048, "max_field_size": 8_190}
MAX_TRACKED_CLIENTS = 10_000  # rate-limit buckets kept; the least recently seen go first
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class UnsafeBind(IngestError):
    """An endpoint would listen beyond loopback without tokens, or its token file is unusable."""


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost, or "" (every address)
        return False


def load_tokens(path: Path) -> tuple[bytes, ...]:
    """Bearer tokens from a file, one a line; blank lines and `#` comments ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UnsafeBind(f"api.token_file {path}: cannot be read ({exc.__class__.__name__}: {exc.args[-1]})") from exc
    tokens = tuple(line.strip().encode() for line in lines if line.strip() and not line.lstrip().startswith("#"))
    if not tokens:
        raise UnsafeBind(f"api.token_file {path}: holds no token (one token a line; # starts a comment)")
    return tokens


def token_accepted(authorization: str | None, tokens: Iterable[bytes]) -> bool:
    """Whether an `Authorization: Bearer <token>` header names one of the tokens (constant time each)."""
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    presented = given.strip().encode()
    accepted = False
    for token in tokens:  # every token is compared, so the time does not tell which one nearly matched
        accepted |= hmac.compare_digest(presented, token)
    return accepted


def check_bind(host: str, api: ApiSettings, *, public: bool = False, surface: str = "the HTTP API") -> None:
    """Refuse (UnsafeBind, one line) to serve beyond loopback without tokens unless told it is public."""
    public = public or api.public
    if api.token_file is None and public:
        log.warning("http_public_without_tokens", surface=surface, host=host,
                    reason="--public / api.public: anyone who reaches this address may use it")
        return
    if api.token_file is None and not is_loopback(host):
        raise UnsafeBind(
            f"refusing to serve {surface} on {host or 'every address'} without access tokens: set "
            "NEWSINGEST_API__TOKEN_FILE (bearer tokens, one a line), or bind 127.0.0.1, or pass --public "
            "(NEWSINGEST_API__PUBLIC=true) to serve it to anyone on purpose"
        )


class RateLimiter:
    """A token bucket per client: `burst` requests at once, refilled at `per_minute`."""

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate_per_s = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    def wait_s(self, client: str) -> float:
        """0 when the client may go now (and takes a token), else how long until it may."""
        now = self._clock()
        tokens, at = self._buckets.pop(client, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate_per_s)
        wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self._rate_per_s
        self._buckets[client] = (tokens - 1.0 if wait == 0.0 else tokens, now)
        while len(self._buckets) > MAX_TRACKED_CLIENTS:
            self._buckets.popitem(last=False)
        return wait


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """One line of JSON: {"error": "..."}."""
    return web.json_response({"error": " ".join(message.split())}, status=status, headers=headers)


class HttpGuard:
    """Middlewares for one aiohttp application, from the API settings."""

    def __init__(
        self,
        api: ApiSettings,
        open_paths: frozenset[str] = OPEN_PATHS,
        *,
        login_path: str | None = None,
        unlimited_paths: frozenset[str] = OPEN_PATHS,
    ) -> None:
        self._api = api
        self._open_paths = open_paths | OPEN_PATHS
        self._unlimited_paths = unlimited_paths | OPEN_PATHS  # never rate limited: probes, static files
        self._login_path = login_path  # where a browser without a token is sent (the console's sign-in)
        self._tokens = load_tokens(api.token_file) if api.token_file is not None else ()
        self._limiter = RateLimiter(api.rate_limit_per_minute, api.rate_limit_burst)
        self._origins = frozenset(api.cors_origins)

    def middlewares(self) -> list[Any]:
        # Outermost first: CORS sees the final response; errors catch everything inside them.
        return [self._cors, self._errors, self._limits, self._rate_limit, self._auth, self._timeout]

    @web.middleware
    async def _cors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        allowed = bool(self._origins) and origin in self._origins
        if allowed and request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method") == "GET":
            response: web.StreamResponse = web.Response(status=204, headers={
                "Access-Control-Allow-Methods": "GET",
                "Access-Control-Allow-Headers": "Authorization",
                "Access-Control-Max-Age": "600",
            })
        else:
            response = await handler(request)
        if self._origins:
            response.headers["Vary"] = "Origin"
        if allowed and origin is not None and request.method in ("GET", "HEAD", "OPTIONS"):
            # No Allow-Credentials: a browser never sends cookies or auth of its own to us.
            response.headers["Access-Control-Allow-Origin"] = origin
        return response

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            keep = {k: v for k, v in exc.headers.items() if k in ("Allow", "WWW-Authenticate", "Retry-After")}
            return error_response(exc.status, exc.reason, keep)
        except Exception:  # a bug of ours: the log gets the trace, the client one line
            log.exception("http_unhandled_error", path=request.path, method=request.method)
            return error_response(500, "internal error: the server log has the details")

    @web.middleware
    async def _limits(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if len(request.raw_path) > MAX_URL_CHARS:
            return error_response(414, f"the request URL is longer than {MAX_URL_CHARS} characters")
        return await handler(request)

    @property
    def needs_token(self) -> bool:
        return bool(self._tokens)

    def accepts(self, token: str | None) -> bool:
        """Whether `token` is one of the configured tokens (constant time); False when none is configured."""
        return bool(token) and token_accepted(f"Bearer {token}", self._tokens)

    def signed_in(self, request: web.Request) -> bool:
        """Whether the request carries an accepted token in the console's cookie."""
        return self.accepts(request.cookies.get(TOKEN_COOKIE))

    @web.middleware
    async def _rate_limit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in self._unlimited_paths:
            return await handler(request)
        wait = self._limiter.wait_s(request.remote or "unknown")
        if wait > 0:
            retry = str(max(1, math.ceil(wait)))
            return error_response(429, f"too many requests: try again in {retry}s", {"Retry-After": retry})
        return await handler(request)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._tokens or request.path in self._open_paths:
            return await handler(request)
        header = request.headers.get("Authorization")
        if token_accepted(header, self._tokens) or (header is None and self.signed_in(request)):
            return await handler(request)
        if header is None and self._login_path and request.method == "GET" and _is_page(request.path):
            target = self._login_path + "?" + urlencode({"next": request.path_qs})
            return web.Response(status=303, headers={"Location": target})
        if header is None:
            return error_response(401, "a bearer token is required: send Authorization: Bearer <token>",
                                  {"WWW-Authenticate": 'Bearer realm="newsingest"'})
        return error_response(401, "the bearer token is not accepted",
                              {"WWW-Authenticate": 'Bearer realm="newsingest", error="invalid_token"'})

    @web.middleware
    async def _timeout(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        limit = self._api.request_timeout_s
        try:
            async with asyncio.timeout(limit):
                return await handler(request)
        except TimeoutError:
            log.warning("http_request_timed_out", path=request.path, timeout_s=limit)
            return error_response(503, f"the request took longer than {limit:g}s: try a narrower query")


def _is_page(path: str) -> bool:
    """A console page a person opens in a browser (not the API, metrics or probes)."""
    return not path.startswith(("/api/", "/metrics", "/readyz", "/healthz"))


async def _security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    # setdefault: a page (the web console's HTML) sets its own Content-Security-Policy and caching.
    response.headers.setdefault("Content-Security-Policy", JSON_CSP)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["Server"] = "newsingest"


GUARD: web.AppKey[HttpGuard] = web.AppKey("guard", HttpGuard)


def guarded_app(
    api: ApiSettings,
    *,
    middlewares: Iterable[Any] = (),
    open_paths: frozenset[str] = OPEN_PATHS,
    login_path: str | None = None,
    unlimited_paths: frozenset[str] = OPEN_PATHS,
) -> web.Application:
    """An aiohttp application behind the guard (kept as app[GUARD]); `middlewares` run inside it (closest
    to the handlers). `open_paths` need no token, `unlimited_paths` no rate limit (a page's static files
    would otherwise spend a reader's budget four times a page); `login_path` is where a browser without
    a token is sent."""
    guard = HttpGuard(api, open_paths, login_path=login_path, unlimited_paths=unlimited_paths)
    app = web.Application(middlewares=[*guard.middlewares(), *middlewares], client_max_size=MAX_BODY_BYTES)
    app[GUARD] = guard
    app.on_response_prepare.append(_security_headers)
    return app
