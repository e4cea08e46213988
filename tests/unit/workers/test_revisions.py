"""next_revision: which revision of a re-published URL the index keeps. Pure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from workers.documents import Article
from workers.index.revisions import Stored, next_revision

MakeArticle = Callable[..., Article]


def _stored(article: Article) -> Stored:
    return Stored.from_source(article.to_source())


def test_a_new_document_is_written_as_it_is(make_article: MakeArticle) -> None:
    article = make_article()
    assert next_revision(None, article) == article


def test_changed_text_bumps_the_version_and_keeps_first_seen(make_article: MakeArticle) -> None:
    first = make_article(content_hash="a")
    later = first.model_copy(
        update={"content_hash": "b", "fetched_at": first.fetched_at + timedelta(days=1), "first_seen_at": first.first_seen_at + timedelta(days=1)}
    )
    written = next_revision(_stored(first), later)
    assert written is not None and (written.version, written.first_seen_at) == (2, first.first_seen_at)


def test_a_changed_title_alone_is_a_new_version(make_article: MakeArticle) -> None:
    first = make_article(title="Old title")
    written = next_revision(_stored(first), first.model_copy(update={"title": "New title"}))
    assert written is not None and written.version == 2


def test_the_same_content_keeps_version_and_updated_at(make_article: MakeArticle) -> None:
    first = make_article()
    again = first.model_copy(update={"updated_at": first.updated_at + timedelta(hours=3)})
    written = next_revision(_stored(first), again)
    assert written is not None and (written.version, written.updated_at) == (1, first.updated_at)


def test_an_older_fetch_is_not_written(make_article: MakeArticle) -> None:
    newer = make_article()
    older = newer.model_copy(update={"fetched_at": newer.fetched_at - timedelta(seconds=1), "content_hash": "x"})
    assert next_revision(_stored(newer), older) is None
