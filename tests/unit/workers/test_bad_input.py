"""Pages no article can come from, through a whole batch: each becomes a dead letter with its reason (or a
document), the batch's good article is indexed, and nothing escapes to make the task retry.

Bodies are built here as a fetcher receives them (bytes and a Content-Type), decoded the way
ingest.fetch decodes them, and sent as the queue's JSON messages.
"""

from __future__ import annotations

import sqlite3
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ingest.charsets import decode_body
from ingest.jobs import ArticleJob, ResponseHeaders, SourceSnapshot
from workers.batch import BatchReport, prepare_safely, process_messages, store_prepared
from workers.documents import DeadLetter
from workers.index.sqlite import SqliteDeadLetters, SqliteIndex, open_database
from workers.state_sqlite import SqliteStoryState

SOURCE = SourceSnapshot(name="harbour", kind="rss", url="https://harbourtimes.example/feed.xml")
SENTENCES = (
    "The harbour board voted on Tuesday to keep the winter ferry running twice a day until March.",
    "Skippers had warned that a single crossing would leave island pupils without a way home after school.",
    "The board's chair said the extra sailing costs less than the school taxis the council would otherwise pay.",
    "Fuel for the second boat will come from the maintenance budget, which the board says can wait a year.",
    "A public meeting on the summer timetable is planned for the library hall at the end of January.",
)
ARTICLE_BODY = "".join(f"<p>{sentence}</p>" for sentence in SENTENCES)
ARTICLE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Winter ferry keeps two sailings</title>"
    f"</head><body><article><h1>Winter ferry keeps two sailings</h1>{ARTICLE_BODY}</article></body></html>"
)


@dataclass(frozen=True)
class Outcome:
    report: BatchReport
    letters: list[DeadLetter]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(tmp_path / "newsingest.sqlite3")
    yield connection
    connection.close()


def _message(path: str, body: bytes, content_type: str | None, header_charset: str | None = None) -> dict[str, Any]:
    """The queue message a fetch of `body` makes (ingest.fetch decodes the same way)."""
    decoded = decode_body(body, header_charset)
    url = f"https://harbourtimes.example/{path}"
    return ArticleJob(
        url=url,
        final_url=url,
        fetched_at=datetime(2026, 11, 25, tzinfo=UTC),
        status=200,
        headers=ResponseHeaders(content_type=content_type),
        charset=decoded.charset,
        html=decoded.text,
        source=SOURCE,
    ).to_message()


def _good() -> dict[str, Any]:
    return _message("news/winter-ferry", ARTICLE.encode("utf-8"), "text/html; charset=utf-8", "utf-8")


def _batch(db: sqlite3.Connection, bad: dict[str, Any]) -> Outcome:
    """The bad message between two good ones, as one Celery task would process them."""
    letters = SqliteDeadLetters(db)
    second_good = _message("news/winter-ferry-2", ARTICLE.replace("Tuesday", "Wednesday").encode(), "text/html")
    report = process_messages([_good(), bad, second_good], SqliteStoryState(db), SqliteIndex(db), letters)
    return Outcome(report, letters.recent())


def _only_letter(outcome: Outcome) -> DeadLetter:
    assert outcome.report.indexed == 2, "the good articles of the batch must still be indexed"
    (letter,) = outcome.letters
    assert letter.stage == "extract" and letter.job is not None
    return letter


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(range(48)) for _ in range(16))  # 16 rows of 16 RGB pixels
    header = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _pdf() -> bytes:
    stream = zlib.compress(b"BT /F1 12 Tf 72 712 Td (Harbour board minutes, 24 November) Tj ET")
    return (
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        + b"4 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream)
        + stream
        + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def test_an_empty_page_is_dead_lettered_as_empty(db: sqlite3.Connection) -> None:
    letter = _only_letter(_batch(db, _message("news/empty", b"", "text/html")))
    assert letter.error_type == "NotAnArticle" and "empty page" in letter.reason


def test_a_pdf_served_as_html_is_dead_lettered_as_not_html(db: sqlite3.Connection) -> None:
    letter = _only_letter(_batch(db, _message("minutes", _pdf(), "text/html")))
    assert letter.error_type == "UnsupportedContent" and "not HTML" in letter.reason


def test_a_pdf_served_as_pdf_is_dead_lettered_by_its_content_type(db: sqlite3.Connection) -> None:
    letter = _only_letter(_batch(db, _message("minutes.pdf", _pdf(), "application/pdf")))
    assert letter.error_type == "UnsupportedContent" and "content type application/pdf" in letter.reason


def test_an_image_served_as_html_is_dead_lettered_as_not_html(db: sqlite3.Connection) -> None:
    letter = _only_letter(_batch(db, _message("photo", _png(), "text/html; charset=utf-8", "utf-8")))
    assert letter.error_type == "UnsupportedContent" and "not HTML" in letter.reason


def test_an_image_served_as_an_image_is_dead_lettered_by_its_content_type(db: sqlite3.Connection) -> None:
    letter = _only_letter(_batch(db, _message("photo.png", _png(), "image/png")))
    assert letter.error_type == "UnsupportedContent" and "content type image/png" in letter.reason


def test_invalid_utf8_bytes_become_replacement_characters_in_an_indexed_article(db: sqlite3.Connection) -> None:
    body = ARTICLE.replace("Skippers", "Skip\udcffpers").encode("utf-8", errors="surrogateescape")
    bad = _message("news/mojibake", body, "text/html; charset=utf-8", "utf-8")
    outcome = _batch(db, bad)
    assert (outcome.report.indexed, outcome.letters) == (3, [])
    draft = prepare_safely(ArticleJob.model_validate(bad))
    assert not isinstance(draft, Exception) and "Skip\ufffdpers" in draft.fields["text"]


def test_lone_surrogates_in_a_message_do_not_cut_the_article(db: sqlite3.Connection) -> None:
    # A producer that decoded with surrogateescape sends lone surrogates; lxml would stop at the first.
    bad = {**_good(), "url": "https://harbourtimes.example/news/escaped", "final_url": "https://harbourtimes.example/news/escaped"}
    bad["html"] = ARTICLE.replace("Skippers", "Skip\udcffpers")
    draft = prepare_safely(ArticleJob.model_validate(bad))
    assert not isinstance(draft, Exception)
    assert "?pers had warned" in draft.fields["text"] and SENTENCES[-1] in draft.fields["text"]


def test_a_10_mb_page_around_an_article_is_indexed(db: sqlite3.Connection) -> None:
    # The usual reason for a huge page: the site's state inlined as JSON, beside a normal story.
    state = ",".join(f'{{"id": {n}, "slot": "ad-{n}"}}' for n in range(360_000))
    page = ARTICLE.replace("</body>", f"<script>window.__STATE__ = [{state}]</script></body>")
    assert len(page) >= 10_000_000
    bad = _message("news/heavy", page.replace("Tuesday", "Monday").encode(), "text/html; charset=utf-8", "utf-8")
    outcome = _batch(db, bad)
    assert (outcome.report.indexed, outcome.letters) == (3, [])


def test_10_mb_of_text_is_dead_lettered_as_too_long_for_an_article(db: sqlite3.Connection) -> None:
    paragraph = " ".join(SENTENCES) * 8
    page = "<html><body><article>" + "".join(f"<p>{n}. {paragraph}</p>" for n in range(3_000)) + "</article></body></html>"
    assert len(page) >= 10_000_000
    letter = _only_letter(_batch(db, _message("archive/all", page.encode(), "text/html")))
    assert letter.error_type == "UnsupportedContent" and "text too long for an article" in letter.reason


def test_html_nested_300_levels_deep_is_dead_lettered_with_its_depth(db: sqlite3.Connection) -> None:
    page = "<html><body>" + "<div>" * 300 + ARTICLE_BODY + "</div>" * 300 + "</body></html>"
    letter = _only_letter(_batch(db, _message("news/nested", page.encode(), "text/html")))
    assert letter.error_type == "UnsupportedContent" and "nested too deep" in letter.reason


def test_200k_tiny_paragraphs_are_dead_lettered_as_too_large(db: sqlite3.Connection) -> None:
    page = "<html><body>" + "<p>a</p>" * 200_000 + "</body></html>"
    letter = _only_letter(_batch(db, _message("news/tiny", page.encode(), "text/html")))
    assert letter.error_type == "UnsupportedContent" and "page too large to extract" in letter.reason


def test_the_standalone_path_dead_letters_each_bad_page_and_keeps_the_good_one(db: sqlite3.Connection) -> None:
    bad = [
        _message("empty", b"", "text/html"),
        _message("minutes.pdf", _pdf(), "application/pdf"),
        _message("photo", _png(), "text/html"),
        _message("tiny", ("<html><body>" + "<p>a</p>" * 200_000 + "</body></html>").encode(), "text/html"),
    ]
    jobs = [ArticleJob.model_validate(message) for message in [*bad, _good()]]
    letters = SqliteDeadLetters(db)
    report = store_prepared([(job, prepare_safely(job)) for job in jobs], SqliteStoryState(db), SqliteIndex(db), letters)
    assert (report.indexed, report.dead_letters) == (1, 4)
    assert {letter.url for letter in letters.recent()} == {job.url for job in jobs[:4]}
