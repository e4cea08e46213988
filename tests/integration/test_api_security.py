"""The HTTP surfaces locked down: tokens, the bind rule, limits, CORS, headers, errors without internals.

`newsingest serve` as a real process where start-up matters, else its real aiohttp app on 127.0.0.1
(standalone index, so most of this needs no server); the daemon and a worker's /metrics as they run.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter, make_wsgi_app

from ingest.http_guard import UnsafeBind, guarded_app
from ingest.settings import ApiSettings, OpsSettings, Settings
from tests.api_client import serving
from tests.origin import running_origin
from workers import metrics_server
from workers.documents import Article
from workers.index.sqlite import SqliteIndex, open_database

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-token-for-tests"
MakeArticle = Callable[..., Article]
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens"
    path.write_text(f"# API tokens\n\n{TOKEN}\nanother-token\n", encoding="utf-8")
    return path


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in [name for name in os.environ if name.startswith("NEWSINGEST_")]:
        monkeypatch.delenv(variable)


@pytest.fixture
def data_dir(tmp_path: Path, make_article: MakeArticle, clean_env: None) -> Path:
    """A standalone index holding three articles about ferries."""
    directory = tmp_path / "data"
    directory.mkdir()
    conn = open_database(Settings(data_dir=directory).sqlite_path)
    SqliteIndex(conn).bulk_index(
        [make_article(title=f"Ferry timetable change {n}", text="The harbour ferry runs later.") for n in range(3)]
    )
    conn.close()
    return directory




def _bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- tokens


async def test_health_is_open_but_search_needs_a_token(data_dir: Path, token_file: Path) -> None:
    async with serving(Settings(data_dir=data_dir, api=ApiSettings(token_file=token_file))) as api:
        health = await api.get("/healthz")
        anonymous = await api.get("/api/v1/search", params={"q": "ferry"})
        wrong = await api.get("/api/v1/search", params={"q": "ferry"}, headers=_bearer("not-it"))
        right = await api.get("/api/v1/search", params={"q": "ferry"}, headers=_bearer())
        second = await api.get("/api/v1/stats", headers=_bearer("another-token"))
        assert health.status == 200
        assert anonymous.status == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
        assert "bearer token" in (await anonymous.json())["error"]
        assert wrong.status == 401 and "invalid_token" in wrong.headers["WWW-Authenticate"]
        assert right.status == 200 and len((await right.json())["hits"]) == 3
        assert second.status == 200


async def test_every_api_path_needs_the_token(data_dir: Path, token_file: Path) -> None:
    async with serving(Settings(data_dir=data_dir, api=ApiSettings(token_file=token_file))) as api:
        paths = ["/readyz", "/api/v1/stats", "/api/v1/openapi.json", "/api/v1/articles/x", "/api/v2/nowhere"]
        statuses = [(await api.get(path)).status for path in paths]
        # The console's pages send a browser to sign in instead (tests/integration/console/test_console_http.py).
        pages = [(await api.get(path, allow_redirects=False)).headers.get("Location") for path in ("/", "/nowhere")]
    assert statuses == [401] * len(paths)
    assert pages == ["/login?next=%2F", "/login?next=%2Fnowhere"]


# -- headers, CORS, errors


async def test_security_headers_are_on_every_answer(data_dir: Path) -> None:
    async with serving(Settings(data_dir=data_dir)) as api:
        answers = [
            await api.get("/healthz"),
            await api.get("/api/v1/search", params={"q": "ferry"}),
            await api.get("/api/v1/search", params={"limit": "x"}),
            await api.get("/nowhere"),
            await api.post("/api/v1/search"),
        ]
    assert [a.status for a in answers] == [200, 200, 400, 404, 405]
    for answer in answers:
        assert {name: answer.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
        assert "aiohttp" not in answer.headers.get("Server", "")


async def test_errors_are_one_json_line_without_a_trace(data_dir: Path) -> None:
    async with serving(Settings(data_dir=data_dir)) as api:
        for response in (await api.get("/nowhere"), await api.post("/api/v1/search")):
            body = await response.text()
            assert "\n" not in body.strip() and set(json.loads(body)) == {"error"}
            assert "Traceback" not in body and "aiohttp" not in body


async def test_cors_is_off_by_default(data_dir: Path) -> None:
    async with serving(Settings(data_dir=data_dir)) as api:
        response = await api.get("/api/v1/search", headers={"Origin": "https://dash.example"})
        preflight = await api.options("/api/v1/search", headers={
            "Origin": "https://dash.example", "Access-Control-Request-Method": "GET"})
    assert response.status == 200 and "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Origin" not in preflight.headers


async def test_cors_answers_only_a_configured_origin_and_only_for_get(data_dir: Path) -> None:
    api_settings = ApiSettings(cors_origins=["https://dash.example"])
    async with serving(Settings(data_dir=data_dir, api=api_settings)) as api:
        allowed = await api.get("/api/v1/search", headers={"Origin": "https://dash.example"})
        other = await api.get("/api/v1/search", headers={"Origin": "https://evil.example"})
        preflight = await api.options("/api/v1/search", headers={
            "Origin": "https://dash.example", "Access-Control-Request-Method": "GET"})
        delete = await api.options("/api/v1/search", headers={
            "Origin": "https://dash.example", "Access-Control-Request-Method": "DELETE"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    assert "Access-Control-Allow-Origin" not in other.headers
    assert preflight.status == 204 and preflight.headers["Access-Control-Allow-Methods"] == "GET"
    assert "Access-Control-Allow-Methods" not in delete.headers


async def test_an_unreachable_index_is_a_503_that_names_no_host(clean_env: None, tmp_path: Path) -> None:
    port = _free_port()  # nothing listens there: the index is down
    settings = Settings(redis_url="redis://unused", elasticsearch_url=f"http://localhost:{port}",
                        index_alias="outage", data_dir=tmp_path)
    async with serving(settings) as api:
        response = await api.get("/api/v1/search", params={"q": "ferry"})
        body = await response.text()
    assert response.status == 503 and "unavailable" in json.loads(body)["error"]
    assert "localhost" not in body and str(port) not in body and "Error" not in body


async def test_a_slow_request_is_a_503_and_a_bug_a_500_both_one_line(clean_env: None) -> None:
    app = guarded_app(ApiSettings(request_timeout_s=0.5))

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(60)
        return web.json_response({})

    async def broken(_request: web.Request) -> web.Response:
        raise KeyError("internal-host.example:6379")

    app.router.add_get("/slow", slow)
    app.router.add_get("/broken", broken)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        slow_answer, broken_answer = await client.get("/slow"), await client.get("/broken")
        slow_body, broken_body = await slow_answer.text(), await broken_answer.text()
    assert slow_answer.status == 503 and "longer than 0.5s" in json.loads(slow_body)["error"]
    assert broken_answer.status == 500 and set(json.loads(broken_body)) == {"error"}
    assert "internal-host" not in broken_body and "KeyError" not in broken_body and "\n" not in broken_body.strip()


# -- limits


async def test_rate_limit_answers_429_after_the_burst(data_dir: Path) -> None:
    api_settings = ApiSettings(rate_limit_per_minute=1, rate_limit_burst=3)
    async with serving(Settings(data_dir=data_dir, api=api_settings)) as api:
        statuses = [(await api.get("/api/v1/stats")).status for _ in range(3)]
        limited = await api.get("/api/v1/search")
        health = await api.get("/healthz")
    assert statuses == [200, 200, 200]
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    assert health.status == 200  # probes are not counted


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"limit": "101"}, "limit must be between 1 and 100"),
        ({"limit": "0"}, "limit must be between 1 and 100"),
        ({"offset": "-1"}, "offset must be 0 or more"),
        ({"offset": "950", "limit": "60"}, "offset + limit must be at most 1000"),
        ({"offset": "99999999999999999999"}, "offset + limit must be at most 1000"),
        ({"q": "x" * 501}, "q is 501 characters long; the most is 500"),
    ],
)
async def test_paging_and_query_limits_are_one_line_400s(data_dir: Path, params: dict[str, str], says: str) -> None:
    async with serving(Settings(data_dir=data_dir)) as api:
        response = await api.get("/api/v1/search", params=params)
        assert response.status == 400 and says in (await response.json())["error"]


async def test_offset_pages_through_the_hits(data_dir: Path) -> None:
    async with serving(Settings(data_dir=data_dir)) as api:
        pages = [
            [hit["id"] for hit in (await (await api.get("/api/v1/search", params={
                "q": "ferry", "limit": "2", "offset": str(offset)})).json())["hits"]]
            for offset in (0, 2, 4)
        ]
        everything = [hit["id"] for hit in (await (await api.get(
            "/api/v1/search", params={"q": "ferry", "limit": "10"})).json())["hits"]]
    assert pages == [everything[:2], everything[2:], []]


async def test_an_overlong_url_is_refused_with_414(data_dir: Path) -> None:
    async with serving(Settings(data_dir=data_dir)) as api:
        response = await api.get("/api/v1/articles/" + "a" * 17_000)
        assert response.status == 414 and "longer than" in (await response.json())["error"]


# -- `newsingest serve`, the real process


@contextmanager
def _serve(tmp_path: Path, *args: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real `newsingest serve` process, its stderr in serve.log; stopped (SIGINT) at the end."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
    environment.update(NEWSINGEST_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT), **env)
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ingest.cli", "serve", *args],
            env=environment, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _status(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0  # not listening yet


def test_serve_on_every_address_without_tokens_refuses_in_one_line(tmp_path: Path) -> None:
    with _serve(tmp_path, "--host", "0.0.0.0", "--port", str(_free_port())) as process:
        assert process.wait(60) == 2
    lines = (tmp_path / "serve.log").read_text(encoding="utf-8").strip().splitlines()
    refusal = [line for line in lines if line.startswith("newsingest serve:")]
    assert len(refusal) == 1 and "NEWSINGEST_API__TOKEN_FILE" in refusal[0] and "--public" in refusal[0]


def test_serve_public_starts_on_every_address_and_warns(tmp_path: Path) -> None:
    port = _free_port()
    with _serve(tmp_path, "--host", "0.0.0.0", "--port", str(port), "--public") as process:
        _wait_for(lambda: _status(f"http://127.0.0.1:{port}/healthz") == 200 or process.poll() is not None,
                  60, "serve --public to answer")
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
    log = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert "http_public_without_tokens" in log and "warning" in log


def test_serve_with_tokens_on_every_address_guards_search(tmp_path: Path, token_file: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with _serve(tmp_path, "--host", "0.0.0.0", "--port", str(port),
                         NEWSINGEST_API__TOKEN_FILE=str(token_file)) as process:
        _wait_for(lambda: _status(base + "/healthz") == 200 or process.poll() is not None, 60, "serve to answer")
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        assert _status(base + "/api/v1/search?q=x") == 401
        assert _status(base + "/api/v1/search?q=x", _bearer("nope")) == 401
        # No index yet: the token got it through to the index, which says so.
        assert _status(base + "/api/v1/search?q=x", _bearer()) == 503


# -- the daemon's endpoint


@contextmanager
def _daemon(tmp_path: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    with running_origin() as origin:
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            f"sources:\n  - name: ww\n    url: {origin.base}/feed.xml\n    poll_interval: 1h\n"
            f"    allow_hosts: ['{origin.host}']\n",
            encoding="utf-8",
        )
        environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSINGEST_")}
        environment.update(NEWSINGEST_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT),
                           NEWSINGEST_OPS__HTTP_ENABLED="true", **env)
        with (tmp_path / "daemon.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "ingest.cli", "run", "--sources", str(sources)],
                env=environment, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log,
            )
            try:
                yield process
            finally:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(60)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()


def test_daemon_metrics_need_the_token_and_health_does_not(tmp_path: Path, token_file: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with _daemon(tmp_path, NEWSINGEST_OPS__HTTP_PORT=str(port), NEWSINGEST_API__TOKEN_FILE=str(token_file)) as daemon:
        _wait_for(lambda: _status(base + "/healthz") == 200 or daemon.poll() is not None, 120, "the daemon's /healthz")
        assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-2000:]
        assert _status(base + "/metrics") == 401
        assert _status(base + "/readyz") == 401
        assert _status(base + "/metrics", _bearer("nope")) == 401
        assert _status(base + "/metrics", _bearer()) == 200


def test_daemon_endpoint_on_every_address_without_tokens_refuses_to_start(tmp_path: Path) -> None:
    with _daemon(tmp_path, NEWSINGEST_OPS__HTTP_HOST="0.0.0.0", NEWSINGEST_OPS__HTTP_PORT=str(_free_port())) as daemon:
        assert daemon.wait(120) == 2
    lines = (tmp_path / "daemon.log").read_text(encoding="utf-8").splitlines()
    refusal = [line for line in lines if line.startswith("newsingest: refusing to start")]
    assert len(refusal) == 1 and "NEWSINGEST_API__TOKEN_FILE" in refusal[0]


# -- a worker's /metrics (its WSGI server; tests/integration/test_worker_metrics.py runs the worker)


@pytest.fixture
def worker_metrics(token_file: Path) -> Iterator[str]:
    registry = CollectorRegistry()
    Counter("demo_jobs", "jobs done", registry=registry).inc(3)
    port = _free_port()
    app = metrics_server._guarded(make_wsgi_app(registry), ApiSettings(token_file=token_file))
    server = metrics_server._start_server("127.0.0.1", port, app)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        _wait_for(lambda: _status(url) != 0, 30, "the worker's metrics server")
        yield url
    finally:
        server.shutdown()
        server.server_close()


def test_worker_metrics_need_the_token(worker_metrics: str) -> None:
    assert _status(worker_metrics) == 401
    assert _status(worker_metrics, _bearer("nope")) == 401
    request = urllib.request.Request(worker_metrics, headers=_bearer())
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read().decode()
        headers: Any = response.headers
    assert "demo_jobs_total 3.0" in body
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"


def test_worker_metrics_on_every_address_without_tokens_refuse_to_start(clean_env: None, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, ops=OpsSettings(worker_metrics_port=_free_port(), worker_metrics_host="0.0.0.0"))
    with pytest.raises(UnsafeBind, match="a worker's /metrics"):
        metrics_server.prepare(settings, ["worker"])
