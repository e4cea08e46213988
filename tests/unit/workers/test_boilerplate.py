"""Learned boilerplate: which lines can be counted, and dropping those a site repeats."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pathlib import Path

from ingest.settings import DedupeSettings
from workers.boilerplate import candidate_keys, drop_lines, lasting_text, line_key
from workers.clean import is_sentence
from workers.neardup import signature, similarity

PROMO = "Harbour Times journalism is funded by readers like you — join them today"
STORY = "The ferry will run four sailings a day instead of seven from next month, the operator said."
TRUTH = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "truth"
# A site's furniture around its copy of a wire story: tide tables, contact lines, the weather.
FURNITURE = [
    "Harbour Times", "Tide tables", "Ferry times", "Weather: showers, 9C", "Letters to the editor",
    "Contact the newsroom", "Photo: Harbour Times archive", "Subscribe for 2 euros a week",
    "Follow the harbour webcam", "Community notices",
]


def test_short_unpunctuated_line_is_a_candidate() -> None:
    assert list(candidate_keys(f"{STORY}\n\n{PROMO}").values()) == [PROMO]


def test_a_sentence_is_never_a_candidate() -> None:
    assert candidate_keys(STORY) == {}


def test_numbers_do_not_make_a_line_new() -> None:
    assert line_key("Comments (3)") == line_key("Comments (12)")


def test_case_and_spacing_do_not_make_a_line_new() -> None:
    assert line_key("Join  Them Today") == line_key("join them today")


def test_learned_lines_are_dropped_and_the_story_kept() -> None:
    text = f"{STORY}\n\n{PROMO}\n\n{STORY}"

    assert drop_lines(text, {line_key(PROMO)}) == f"{STORY}\n\n{STORY}"


def test_nothing_learned_leaves_the_text_alone() -> None:
    assert drop_lines(f"{STORY}\n\n{PROMO}", set()) == f"{STORY}\n\n{PROMO}"


@given(st.lists(st.text(min_size=1, max_size=120).filter(lambda s: "\n" not in s and s.strip()), max_size=8))
def test_learning_never_drops_a_sentence(lines: list[str]) -> None:
    text = "\n\n".join(line.strip() for line in lines)
    every_key = {line_key(line) for line in text.splitlines()}

    kept = drop_lines(text, every_key).splitlines()

    assert all(line.strip() in kept for line in text.splitlines() if is_sentence(line.strip()))


def test_lasting_text_is_the_same_once_learned_lines_are_dropped() -> None:
    text = "\n\n".join([PROMO, STORY, "Comments (3)", STORY.replace("four", "five")])
    assert lasting_text(drop_lines(text, candidate_keys(text).keys())) == lasting_text(text)


def test_a_text_without_sentences_is_signed_whole() -> None:
    text = "\n\n".join(FURNITURE)
    assert lasting_text(text) == text


def test_a_copy_framed_by_site_furniture_stays_a_near_duplicate_before_learning() -> None:
    wire = (TRUTH / "continentalpress-grain-corridor.txt").read_text(encoding="utf-8")
    copy = (TRUTH / "harbourtimes-wire-grain-corridor.txt").read_text(encoding="utf-8")
    framed = "\n\n".join([*FURNITURE, copy, *(line + " today" for line in FURNITURE)])
    score = similarity(signature(lasting_text(wire)), signature(lasting_text(framed)))
    assert score >= DedupeSettings().near_duplicate_threshold + 0.2
