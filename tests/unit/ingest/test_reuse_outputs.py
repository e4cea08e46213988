"""The reuse policy in sources.yaml, and outputs that respect a publisher's nosnippet. Pure."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.console.views import HitView, reuse_flags
from ingest.errors import SourcesFileError
from ingest.search_output import hit_document, write_export, write_hits_table
from ingest.sources import load_sources
from workers.documents import Article
from workers.ports import HIGHLIGHT_END, HIGHLIGHT_START, SearchHit

MakeArticle = Callable[..., Article]
SNIPPET = f"the {HIGHLIGHT_START}harbour{HIGHLIGHT_END} bridge reopened"


def test_reuse_reserved_is_read_per_source(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  - name: a\n    url: https://a.example/rss\n    reuse_reserved: skip\n"
        "  - name: b\n    url: https://b.example/rss\n",
        encoding="utf-8",
    )
    a, b = load_sources(path).sources
    assert (a.snapshot().reuse_reserved, b.snapshot().reuse_reserved) == ("skip", None)


def test_a_bad_reuse_policy_names_the_field_and_line(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - name: a\n    url: https://a.example/rss\n    reuse_reserved: never\n", encoding="utf-8")
    with pytest.raises(SourcesFileError) as caught:
        load_sources(path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}:4 sources[0].reuse_reserved: 'never': ")
    assert "'full', 'metadata' or 'skip'" in problem


def test_nosnippet_hits_show_no_snippet_and_no_summary(make_article: MakeArticle) -> None:
    hit = SearchHit(make_article(summary="The bridge reopened.", robots=("nosnippet",)), 1.0, SNIPPET)
    document = hit_document(hit)
    assert (document["snippet"], document["snippet_html"], document["summary"]) == ("", "", None)
    assert str(HitView(hit).snippet) == ""


def test_other_hits_keep_their_snippet(make_article: MakeArticle) -> None:
    hit = SearchHit(make_article(summary="The bridge reopened.", robots=("noarchive",)), 1.0, SNIPPET)
    assert hit_document(hit)["snippet"] == "the harbour bridge reopened"


def test_nosnippet_table_rows_have_no_snippet(make_article: MakeArticle) -> None:
    out = io.StringIO()
    write_hits_table([SearchHit(make_article(robots=("nosnippet",)), 1.0, SNIPPET)], out, colour=False, width=100)
    assert "harbour" not in out.getvalue()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_withholds_nosnippet_summaries_and_says_what_was_stored(make_article: MakeArticle, fmt: str) -> None:
    articles = [
        make_article(summary="Kept summary.", text="", stored="metadata", tdm_reserved=True, tdm_signal="header"),
        make_article(summary="Withheld summary.", robots=("nosnippet",)),
    ]
    out = io.StringIO()
    write_export(articles, out, fmt)
    exported = out.getvalue()
    assert "Kept summary." in exported and "Withheld summary." not in exported
    if fmt == "jsonl":
        first = json.loads(exported.splitlines()[0])
        assert (first["stored"], first["text"], first["tdm_reserved"]) == ("metadata", "", True)


def test_console_reuse_flags_in_words(make_article: MakeArticle) -> None:
    article = make_article(tdm_reserved=True, tdm_signal="tdmrep", robots=("noarchive", "nosnippet"))
    assert reuse_flags(article) == ["TDM reserved (tdmrep)", "noarchive", "nosnippet"]
    assert reuse_flags(article, reserving_only=True) == ["TDM reserved (tdmrep)", "noarchive"]


def test_a_metadata_only_hit_shows_its_kept_snippet(make_article: MakeArticle) -> None:
    article = make_article(text="", stored="metadata", summary="The bridge reopened on Monday.")
    assert hit_document(SearchHit(article, 1.0, None))["snippet"] == "The bridge reopened on Monday."
