"""The web console as a person meets it: a real installation (both modes) that ingested the seeds and a
small German site from a loopback origin, `newsingest serve` as its own process, and Debian's Chromium
driven headless by Playwright. Screenshots of every page go to test-artifacts/console/.

Chromium comes from `scripts/services.sh browser` (scripts/test.sh runs it); a missing browser fails
the run, as a missing server does. Never `playwright install`: its download cannot work here.
"""

from __future__ import annotations

import shutil
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from elasticsearch import Elasticsearch
from playwright.sync_api import Browser, Page, sync_playwright

from tests.installation import Installation, base_env, drop_alias, free_port, wait_for
from tests.origin import Origin, running_origin

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "console"
# What the two feeds bring: the seeds' six stories (one of them twice, as a copy), the German story and
# the hostile notice.
DOCUMENTS = 8


@dataclass
class Site:
    """A running console over one installation's index."""

    mode: str
    base: str
    installation: Installation
    origin: Origin

    def shot(self, page: Page, name: str) -> Path:
        """A full-page screenshot kept as a test artifact: test-artifacts/console/<mode>-<name>.png."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.mode}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: Playwright's sync API keeps an event loop running in this thread while it is open,
    # which pytest-asyncio's tests in later modules could not run beside.
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run scripts/services.sh browser (scripts/test.sh does)", pytrace=False)
    with sync_playwright() as playwright:
        # --no-sandbox: the tests run as root here, where Chromium's sandbox cannot start.
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def _sources_yaml(origin: Origin) -> str:
    allowed = f'allow_hosts: ["{origin.host}"]'
    return (
        "sources:\n"
        f"  - {{name: worldwire, url: '{origin.base}/feed.xml', language: en, tags: [world], {allowed}}}\n"
        f"  - {{name: hafenbote, url: '{origin.base}/fixtures/console/feed.xml', tags: [local], {allowed}}}\n"
        f"  - {{name: broken-500, url: '{origin.base}/broken/500.xml', {allowed}}}\n"
        f"  - {{name: switched-off, url: '{origin.base}/feed.xml', enabled: false, {allowed}}}\n"
    )


@pytest.fixture(scope="module", params=["standalone", "distributed"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    mode = str(request.param)
    tmp = tmp_path_factory.mktemp(f"console-{mode}")
    with running_origin() as origin:
        sources = tmp / "sources.yaml"
        sources.write_text(_sources_yaml(origin), encoding="utf-8")
        # A browser test opens pages faster than a reader: the rate limit has tests of its own.
        env = base_env(tmp) | {"NEWSINGEST_SOURCES": str(sources), "NEWSINGEST_API__RATE_LIMIT_PER_MINUTE": "6000",
                               "NEWSINGEST_API__RATE_LIMIT_BURST": "1000"}
        installation = Installation(env, tmp, sources)
        alias, prefix = f"test-{uuid.uuid4().hex[:8]}", f"test:{uuid.uuid4().hex[:8]}:"
        if mode == "distributed":
            installation.distribute(
                request.getfixturevalue("redis_url"), request.getfixturevalue("elasticsearch_url"), alias, prefix
            )
            installation.start("worker", "--concurrency", "2", log_name="worker.log")
        try:
            result = installation.cli("run", "--once", timeout_s=300)
            assert result.returncode == 0, result.stderr[-3000:]
            wait_for(lambda: installation.count() == DOCUMENTS, 60, f"{DOCUMENTS} documents indexed")
            port = free_port()
            installation.start("serve", "--port", str(port), log_name="serve.log")
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: _answers(f"{base}/healthz"), 30, "newsingest serve answering")
            yield Site(mode, base, installation, origin)
        finally:
            installation.stop_all()
            if mode == "distributed":
                with Elasticsearch(env["NEWSINGEST_ELASTICSEARCH_URL"]) as client:
                    drop_alias(client, alias)
                client_redis = redis.Redis.from_url(env["NEWSINGEST_REDIS_URL"])
                keys = list(client_redis.scan_iter(match=f"{prefix}*", count=1000))
                if keys:
                    client_redis.delete(*keys)
                client_redis.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
