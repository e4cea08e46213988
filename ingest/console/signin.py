"""Signing in to the console when the API has access tokens: a form that takes one token and keeps it in
an HttpOnly, SameSite=Strict cookie (ingest/http_guard.py accepts the cookie as it accepts the header).

Posts only from our own pages (the Origin is checked, and SameSite keeps the cookie off other sites'
requests); `next` may only lead back into the console, never to another site.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from ingest.console.pages import Console
from ingest.http_guard import GUARD, TOKEN_COOKIE
from ingest.logs import get_logger

log = get_logger(__name__)

LOGIN_PATH = "/login"
MAX_TOKEN_CHARS = 4_096


def local_target(next_path: str | None) -> str:
    """`next_path` when it is a path on this server ("/sources?x=1"), else "/" (no open redirect)."""
    if not next_path or not next_path.startswith("/") or next_path.startswith("//") or "\\" in next_path:
        return "/"
    parts = urlsplit(next_path)
    return next_path if not parts.scheme and not parts.netloc else "/"


def add_signin_routes(app: web.Application, console: Console) -> None:
    guard = app[GUARD]

    def same_origin(request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        return origin is None or urlsplit(origin).netloc == request.host

    async def form(request: web.Request) -> web.Response:
        return console.render(request, "login.html", page="login", error=None,
                              next=local_target(request.query.get("next")))

    async def sign_in(request: web.Request) -> web.Response:
        if not same_origin(request):
            return console.message(request, 403, "Not signed in", "The sign-in form was sent from another site.")
        posted = await request.post()
        token = str(posted.get("token", ""))[:MAX_TOKEN_CHARS].strip()
        target = local_target(str(posted.get("next", "/")))
        if not guard.accepts(token):
            log.warning("console_sign_in_refused", client=request.remote)
            return console.render(request, "login.html", status=401, page="login", next=target,
                                  error="That token is not accepted.")
        response = web.Response(status=303, headers={"Location": target})
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", secure=request.secure, path="/")
        return response

    async def sign_out(request: web.Request) -> web.Response:
        if not same_origin(request):
            return console.message(request, 403, "Not signed out", "The sign-out form was sent from another site.")
        response = web.Response(status=303, headers={"Location": LOGIN_PATH})
        response.del_cookie(TOKEN_COOKIE, path="/")
        return response

    app.router.add_get(LOGIN_PATH, form)
    app.router.add_post(LOGIN_PATH, sign_in)
    app.router.add_post("/logout", sign_out)
