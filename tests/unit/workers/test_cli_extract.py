"""`newsingest extract`: saved pages in, one document (or the reason it is none) per file out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.cli import main

ROOT = Path(__file__).resolve().parents[3]
PAGES = ROOT / "tests" / "fixtures" / "corpus" / "pages" / "noorderkrant"
SEED = ROOT / "seeds" / "pages" / "worldwire" / "2016" / "08" / "putin-erdogan-repair-ties.html"


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_a_directory_gives_one_json_document_per_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["extract", "--json", str(PAGES)]) == 0

    documents = _lines(capsys)
    assert [Path(str(d["path"])).name for d in documents] == ["dijk.html", "schaatsen.html"]
    assert all(d["language"] == "nl" and d["text"] for d in documents)


def test_the_document_is_clean_and_enriched(capsys: pytest.CaptureFixture[str]) -> None:
    main(["extract", "--json", str(SEED)])

    document = _lines(capsys)[0]
    assert document["title"] == "Putin and Erdogan move towards repairing ties amid tension with West"
    assert "Advertisement" not in str(document["text"]).split("\n\n")
    assert {"Russia", "Turkey"} <= set(document["entities"])  # type: ignore[arg-type]


def test_url_option_makes_the_page_claim_trusted(capsys: pytest.CaptureFixture[str]) -> None:
    main(["extract", "--json", "--url", "https://www.worldwire.example/2016/08/putin-erdogan-repair-ties?utm_source=x", str(SEED)])

    document = _lines(capsys)[0]
    assert document["canonical_url"] == "https://www.worldwire.example/2016/08/putin-erdogan-repair-ties"


def test_a_file_that_is_no_page_is_reported_and_the_rest_extracted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-scan.html").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")

    assert main(["extract", "--json", str(tmp_path / "a-scan.html"), str(PAGES / "dijk.html")]) == 1

    failure, document = _lines(capsys)
    assert failure["error_type"] == "UnsupportedContent" and "PDF" in str(failure["error"])
    assert document["language"] == "nl"


def test_a_page_in_another_charset_is_decoded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "latin1.html"
    page.write_bytes(
        SEED.read_text(encoding="utf-8").replace("’", "'").replace("“", '"').replace("”", '"').replace("–", "-")
        .replace("<p>Speaking", "<p>Über Speaking").encode("latin-1", errors="replace")
    )

    assert main(["extract", "--json", str(page)]) == 0

    assert "Über Speaking" in str(_lines(capsys)[0]["text"])


def test_plain_output_shows_the_title_and_the_text(capsys: pytest.CaptureFixture[str]) -> None:
    main(["extract", str(PAGES / "dijk.html")])

    out = capsys.readouterr().out
    assert "title:      Waterschap begint met versterking van de zeedijk" in out
    assert "De dijk wordt breder" in out


def test_body_selector_option_shows_what_a_source_hint_would_extract(capsys: pytest.CaptureFixture[str]) -> None:
    page = ROOT / "tests" / "fixtures" / "sites" / "template-change" / "articles" / "16-bus-route-change.html"

    main(["extract", "--json", "--body-selector", "div.story-widget", str(page)])

    document = _lines(capsys)[0]
    assert document["extraction_path"] == "body-selector"
    assert str(document["text"]).startswith("Bus route 4 will be extended to the new Meadowbank housing estate")
