"""The web console in a real browser, on both index backends: find a story, open it, see its copies,
filter, find the source that needs attention, and nothing an article brings ever runs.

Each test leaves a screenshot of what it looked at in test-artifacts/console/.
"""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.integration.console.conftest import DOCUMENTS, Site

pytestmark = pytest.mark.integration

# The story's two copies have different titles; which copy leads depends on which was processed first.
ERDOGAN_TITLE = re.compile(r"^Putin,? (and )?Erdogan ")
HOSTILE_TITLE = '<script>alert("title")</script> Harbour notice <img src=x onerror=alert("img")>'


def _search(page: Page, site: Site, words: str) -> None:
    page.goto(site.base + "/")
    page.get_by_label("Words").fill(words)
    page.get_by_role("button", name="Search").click()


def test_search_finds_the_story_and_its_copies_expand(site: Site, page: Page) -> None:
    _search(page, site, "Erdogan")
    expect(page).to_have_url(re.compile(r"/\?q=Erdogan$"))  # a shareable address
    hit = page.locator("li.hit", has=page.locator("h3").get_by_role("link", name=ERDOGAN_TITLE))
    expect(hit).to_have_count(1)  # one result per story, not one per copy
    expect(hit.locator("mark").first).to_have_text("Erdogan")
    copies = hit.locator("details.copies")
    expect(copies.locator("summary")).to_have_text("2 copies")
    expect(copies.locator("li")).to_have_count(2)
    expect(copies.locator("li").first).not_to_be_visible()
    copies.locator("summary").click()
    expect(copies.locator("li")).to_have_count(2)
    expect(copies.locator("li").first).to_be_visible()
    expect(copies).to_contain_text("putin-erdogan-seek-common-ground.html")
    expect(copies).to_contain_text("putin-erdogan-repair-ties.html")
    site.shot(page, "search")


def test_article_shows_clean_text_metadata_and_every_copy(site: Site, page: Page) -> None:
    _search(page, site, "Erdogan")
    page.locator("li.hit h3").get_by_role("link", name=ERDOGAN_TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ERDOGAN_TITLE)
    expect(page.locator(".article .text")).to_contain_text("Recep Tayyip Erdogan told Vladimir Putin")
    expect(page.locator(".article .text")).not_to_contain_text("Advertisement")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(re.compile(r"Authors(Marta Lindqvist|WorldWire)"))  # the copy that leads
    expect(facts).to_contain_text("Extraction")
    expect(page.get_by_role("heading", name=re.compile(r"Copies of this story \(2\)"))).to_be_visible()
    expect(page.locator(".copies-table tbody tr")).to_have_count(2)
    original = page.get_by_role("link", name="Read the original")
    expect(original).to_have_attribute("href", re.compile(re.escape(site.origin.base) + r"/pages/.*putin-erdogan"))
    site.shot(page, "article")


def test_filters_narrow_by_language_and_date(site: Site, page: Page) -> None:
    page.goto(site.base + "/")
    page.locator("details.filters summary").click()
    page.get_by_label("Language").fill("de")
    page.get_by_role("button", name="Apply filters").click()
    titles = page.locator("li.hit h3")
    # Newest first: the German site's ferry story, then the seeds' German wire story.
    expect(titles).to_have_text([
        "Neuer Fahrplan: Die Hafenfähre fährt im Winter länger",
        "Hafenstreik legt Containerterminal in Nordmünde lahm",
    ])

    page.get_by_label("Language").fill("en")
    page.get_by_label("Published since").fill("2016-08-10")
    page.get_by_label("Published before").fill("2016-08-11")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"lang=en.*since=2016-08-10.*until=2016-08-11"))
    expect(page.locator("li.hit h3").get_by_role("link", name=ERDOGAN_TITLE)).to_be_visible()
    expect(page.locator("li.hit", has_text="Hafenfähre")).to_have_count(0)
    expect(page.locator("li.hit", has_text="Harbour notice")).to_have_count(0)
    site.shot(page, "search-filtered")


def test_a_bad_filter_is_explained_on_the_page(site: Site, page: Page) -> None:
    page.goto(site.base + "/?since=next+tuesday")
    expect(page.get_by_role("alert")).to_contain_text("is not a date or a duration")
    expect(page.get_by_label("Published since")).to_have_value("next tuesday")  # the form keeps what was typed


def test_sources_page_lists_the_failing_source_first(site: Site, page: Page) -> None:
    page.goto(site.base + "/")
    page.get_by_role("link", name="Sources").click()
    rows = page.locator("table.sources tbody tr")
    expect(rows).to_have_count(4)
    first = rows.first
    expect(first.locator("th")).to_contain_text("broken-500")
    expect(first.locator(".status")).to_have_text("failing")
    expect(first).to_contain_text("HTTP 500")
    expect(rows.nth(1)).to_contain_text("switched-off")
    expect(rows.nth(1).locator(".status")).to_have_text("paused")
    ok = page.locator("tr", has_text="worldwire")
    expect(ok.locator(".status")).to_have_text("ok")
    # Seven documents first seen today for the seed feed: one bar, its tooltip says so.
    expect(ok.locator("svg rect.bar title").last).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d: 6$"))
    site.shot(page, "sources")


def test_overview_draws_its_charts(site: Site, page: Page) -> None:
    page.goto(site.base + "/overview?days=30")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator(".card", has_text="articles in the archive")).to_contain_text(str(DOCUMENTS))
    chart = page.locator("figure.chart svg").first
    expect(chart.locator("rect.bar")).to_have_count(30)  # a bar per day, empty days too
    expect(chart).to_have_attribute("role", "img")
    expect(page.locator("dl.facts")).to_contain_text("Dead letters")
    page.get_by_role("link", name="90 days").click()
    expect(page).to_have_url(re.compile(r"/overview\?days=90$"))
    expect(page.locator("figure.chart svg").first.locator("rect.bar")).to_have_count(90)
    site.shot(page, "overview")


def test_nothing_an_article_brings_runs_in_the_page(site: Site, page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _search(page, site, "harbour notice")
    hit_link = page.locator("li.hit h3 a")
    expect(hit_link).to_have_text(HOSTILE_TITLE)
    response = page.request.get(site.base + "/?q=harbour")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    hit_link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE_TITLE)
    text = page.locator(".article .text")
    expect(text).to_contain_text('<script>alert("text")</script>')
    expect(text).to_contain_text("javascript:alert(\"link\")")
    expect(page.locator("dl.facts")).to_contain_text("Night Desk")  # the pipeline kept the name, not the tag
    injected = page.evaluate(
        """() => {
            const handlers = [...document.querySelectorAll('*')].filter(
                el => [...el.attributes].some(a => a.name.toLowerCase().startsWith('on')));
            return {
                handlers: handlers.length,
                scripts: [...document.scripts].filter(s => !s.src.endsWith('/static/console.js')).length,
                images: document.images.length,
                frames: document.querySelectorAll('iframe').length,
                jsLinks: document.querySelectorAll('a[href^="javascript:" i]').length,
            };
        }"""
    )
    assert injected == {"handlers": 0, "scripts": 0, "images": 0, "frames": 0, "jsLinks": 0}
    page.locator(".article .text").hover()
    page.locator("dl.facts").hover()
    assert dialogs == []
    site.shot(page, "hostile-article")


def test_console_works_with_javascript_off(site: Site, browser: Browser) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        _search(page, site, "Erdogan")
        copies = page.locator("li.hit details.copies").first
        copies.locator("summary").click()  # <details> needs no script
        expect(copies.locator("li").first).to_be_visible()
        page.locator("li.hit h3").get_by_role("link", name=ERDOGAN_TITLE).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(ERDOGAN_TITLE)
        page.get_by_role("link", name="Sources").click()
        expect(page.locator("table.sources tbody tr").first).to_contain_text("broken-500")
    finally:
        context.close()


def test_keyboard_reaches_the_content_and_the_search_box(site: Site, page: Page) -> None:
    page.goto(site.base + "/sources")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.goto(site.base + "/")
    page.keyboard.press("/")
    expect(page.get_by_label("Words")).to_be_focused()


@pytest.mark.parametrize("path", ["/?q=Erdogan", "/sources", "/overview", "/login-free-article"])
def test_pages_pass_axe_accessibility_checks(site: Site, page: Page, path: str) -> None:
    if path == "/login-free-article":
        _search(page, site, "Erdogan")
        page.locator("li.hit h3").get_by_role("link", name=ERDOGAN_TITLE).click()
    else:
        page.goto(site.base + path)
    results = Axe().run(page)
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
    ]
    assert violations == []


@pytest.mark.parametrize("path", ["/?q=Erdogan", "/sources", "/overview"])
def test_pages_fit_a_phone_screen(site: Site, browser: Browser, path: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(site.base + path)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than a phone's screen"
        name = path.strip("/?").split("?")[0].replace("=", "-") or "search"
        site.shot(page, f"phone-{name}")
    finally:
        context.close()
