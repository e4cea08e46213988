"""decode_body(): legacy-charset pages arrive as correct text, whichever way the charset is known."""

from __future__ import annotations

import codecs
from pathlib import Path

from ingest.charsets import decode_body

PAGES = Path(__file__).resolve().parents[2] / "fixtures" / "charsets"


def test_windows_1251_without_any_declaration_is_detected() -> None:
    decoded = decode_body((PAGES / "windows-1251-undeclared.html").read_bytes())
    assert "Городской совет Ривертона утвердил новую трамвайную линию" in decoded.text
    assert decoded.found_by == "detected"


def test_shift_jis_declared_in_meta_is_read() -> None:
    decoded = decode_body((PAGES / "shift_jis-meta.html").read_bytes())
    assert "リバートン市議会は新しい路面電車の路線を承認しました" in decoded.text
    assert decoded.found_by == "declared"


def test_iso_8859_1_from_the_header_is_read() -> None:
    decoded = decode_body((PAGES / "iso-8859-1-header.html").read_bytes(), "ISO-8859-1")
    assert "Les travaux débuteront au printemps" in decoded.text and "« une décision" in decoded.text
    assert decoded.found_by == "header"


def test_byte_order_mark_wins_over_a_wrong_header() -> None:
    body = codecs.BOM_UTF8 + "<p>Zürich café</p>".encode()
    decoded = decode_body(body, "windows-1251")
    assert decoded.text == "<p>Zürich café</p>" and decoded.found_by == "bom"


def test_header_wins_over_meta() -> None:
    body = '<meta charset="utf-8"><p>caf\xe9</p>'.encode("cp1252")
    assert "café" in decode_body(body, "windows-1252").text


def test_unknown_header_charset_falls_through_to_the_page() -> None:
    body = '<meta charset="windows-1251"><p>Привет</p>'.encode("cp1251")
    assert "Привет" in decode_body(body, "x-no-such-charset").text


def test_latin1_label_reads_windows_1252_punctuation() -> None:
    body = "<p>\u201cquoted\u201d \u2014 dash</p>".encode("cp1252")
    assert "\u201cquoted\u201d \u2014 dash" in decode_body(body, "iso-8859-1").text
