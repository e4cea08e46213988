"""`kind: page` in the sources file: two lines for the simple case, hints checked at load time with their line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ingest.errors import SourcesFileError
from ingest.sources import load_sources


def _load(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "sources.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(SourcesFileError) as caught:
        load_sources(path)
    return [problem.removeprefix(str(path)) for problem in caught.value.problems]


def test_a_page_source_needs_only_a_name_kind_and_url(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - name: harbour-gazette\n    kind: page\n    url: https://harbour-gazette.example/\n")
    source = load_sources(path).sources[0]
    assert source.kind == "page" and source.scrape_hints.max_new_links == 50
    assert source.snapshot().body_selector is None


def test_the_body_selector_reaches_the_workers_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  - name: hg\n    kind: page\n    url: https://hg.example/\n"
        "    scrape:\n      body_selector: div.story-body\n      include: ['/20\\d\\d/']\n"
    )
    assert load_sources(path).sources[0].snapshot().body_selector == "div.story-body"


def test_scrape_hints_on_a_feed_source_are_an_error_at_their_line(tmp_path: Path) -> None:
    problems = _load(
        tmp_path,
        """\
        sources:
          - name: city
            url: https://city.example/rss.xml
            scrape:
              max_new_links: 5
        """,
    )
    assert problems == [":4 sources[0].scrape: only `kind: page` sources take scrape hints (this one is rss)"]


def test_a_bad_pattern_and_a_bad_selector_are_named_with_their_field(tmp_path: Path) -> None:
    problems = _load(
        tmp_path,
        """\
        sources:
          - name: hg
            kind: page
            url: https://hg.example/
            scrape:
              include: ['/20[0-9']
              link_selector: "main >> a["
        """,
    )
    assert problems[0].startswith(":6 sources[0].scrape.include: '/20[0-9' is not a valid regular expression (")
    assert problems[1].startswith(":7 sources[0].scrape.link_selector: 'main >> a[' is not a valid CSS selector (")


def test_extra_domains_are_host_names(tmp_path: Path) -> None:
    problems = _load(
        tmp_path,
        """\
        sources:
          - name: hg
            kind: page
            url: https://hg.example/
            scrape:
              extra_domains: [https://news.hg.example/]
        """,
    )
    assert problems == [
        ":6 sources[0].scrape.extra_domains: 'https://news.hg.example/' is not a host name (no scheme, no path: news.example.com)"
    ]
