"""drop_noise(): furniture lines go, story sentences stay, whitespace is normalized."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.clean import drop_noise, drop_noise_counted, noise_keys

ROOT = Path(__file__).resolve().parents[3]
TRUTH = (ROOT / "seeds/truth/putin-erdogan.txt").read_text(encoding="utf-8").strip()
SEED_TITLE = "Putin and Erdogan move towards repairing ties amid tension with West"
STORY = (
    "The harbour board met on Monday to discuss the winter timetable for the island ferries.\n"
    "Operators said the new schedule would add two sailings a day during the school holidays."
)


def test_seed_original_cleans_to_the_truth_text() -> None:
    original = (ROOT / "seeds/original/000_3b3976b05db80dbf.txt").read_text(encoding="utf-8")

    assert drop_noise(original, SEED_TITLE) == TRUTH


@pytest.mark.parametrize(
    "furniture",
    [
        "Advertisement", "ADVERTISEMENT", "Share", "Share this article", "Read more", "Subscribe",
        "Sign up for our newsletter", "Related stories", "• Share •",
        "Anzeige", "Werbung", "Teilen", "Mehr zum Thema", "Lesen Sie auch",
        "Publicité", "Partager", "Lire aussi", "À lire aussi",
        "Publicidad", "Compartir", "Leer más", "Noticias relacionadas",
    ],
)
def test_lone_furniture_line_is_dropped(furniture: str) -> None:
    text = f"{STORY}\n{furniture}\nThe board will publish the final timetable next week after more talks."

    assert furniture not in drop_noise(text).split("\n\n")


@pytest.mark.parametrize(
    "prompt",
    [
        "Read more: Five things to know about the Russia-Turkey relationship",
        "Follow us on Facebook and X",
        "Lesen Sie auch: Tarifrunde im Hafen ohne Ergebnis",
        "Lire aussi : La grève paralyse le port",
        "Síguenos en Twitter",
        "Photo: Harbour Courier",
    ],
)
def test_prompt_and_cross_link_lines_are_dropped(prompt: str) -> None:
    text = f"{STORY}\n{prompt}\nThe board will publish the final timetable next week after more talks."

    assert prompt not in drop_noise(text)


def test_furniture_word_inside_a_sentence_is_kept() -> None:
    text = f"{STORY}\nShare prices of the ferry operators rose sharply after the announcement on Monday."

    assert "Share prices of the ferry operators" in drop_noise(text)


def test_prompt_that_is_a_full_sentence_is_kept() -> None:
    sentence = "Follow us on the quayside, the captain told the passengers as the ferry docked."

    assert sentence in drop_noise(f"{STORY}\n{sentence}")


def test_short_story_sentence_is_kept() -> None:
    text = f"{STORY}\nThe dispute has strained U.S.\nThe board will publish the timetable next week after talks."

    assert "The dispute has strained U.S." in drop_noise(text).split("\n\n")


def test_leading_repeat_of_the_title_is_dropped() -> None:
    assert drop_noise(f"{SEED_TITLE}\n{STORY}", SEED_TITLE).split("\n\n")[0].startswith("The harbour board")


def test_title_repeat_after_the_first_line_is_kept() -> None:
    text = f"{STORY}\n{SEED_TITLE}\nThe board will publish the final timetable next week after more talks."

    assert SEED_TITLE in drop_noise(text, SEED_TITLE)


def test_trailing_related_headlines_are_dropped() -> None:
    text = (
        f"{STORY}\nRelated stories\nTurkey's President Erdogan in Moscow to 'reset' Russia ties\n"
        "Tarifrunde im Hafen: Erste Verhandlung ohne Ergebnis"
    )

    cleaned = drop_noise(text)

    assert cleaned.endswith("during the school holidays.")
    assert "Erdogan" not in cleaned


def test_subheading_inside_the_story_is_kept() -> None:
    text = f"{STORY}\nA war of words\nThe board will publish the final timetable next week after more talks."

    assert "A war of words" in drop_noise(text).split("\n\n")


def test_trailing_list_introduced_by_a_colon_is_kept() -> None:
    text = f"{STORY}\nThe new sailings are:\nMonday 06:40 from Gull Point\nFriday 22:15 from the mainland"

    assert drop_noise(text).endswith("Friday 22:15 from the mainland")


def test_text_of_headlines_only_is_left_alone() -> None:
    text = "Ferry talks resume\nPort authority elects new chair"

    assert drop_noise(text) == "Ferry talks resume\n\nPort authority elects new chair"


def test_paragraphs_are_separated_by_one_blank_line() -> None:
    text = "First paragraph of the story, with a verb.\r\n\r\n\r\n  Second   paragraph,\tindented.  \nThird."

    assert drop_noise(text) == "First paragraph of the story, with a verb.\n\nSecond paragraph, indented.\n\nThird."


def test_text_is_composed_to_nfc() -> None:
    composed = "Der Fähr- und Passagierverkehr war nicht betroffen, sagte die Behörde."

    assert drop_noise(unicodedata.normalize("NFD", composed)) == composed


def test_separator_lines_are_dropped() -> None:
    text = f"{STORY}\n* * *\n—\nThe board will publish the timetable next week, after talks."

    assert drop_noise(text).split("\n\n")[2:] == ["The board will publish the timetable next week, after talks."]


# Lines as drop_noise sees them: words from a small vocabulary (furniture words included, so
# the rules get exercised), no line breaks inside.
_WORDS = st.sampled_from(
    ["Share", "Advertisement", "Read", "more:", "the", "board", "said", "Anzeige", "ferry", "U.S.", "«Hafen»",
     "Erdogan's", "—", "Subscribe", "talks", "über", "año", "Related", "stories", "x", "It"]
)
_LINE_ENDINGS = st.sampled_from(["", ".", "?", "!", ":", ".”", "…", ","])
_LINES = st.builds(lambda words, end: " ".join(words) + end, st.lists(_WORDS, min_size=1, max_size=14), _LINE_ENDINGS)


def _as_drop_noise_sees_it(line: str) -> str:
    return " ".join(unicodedata.normalize("NFC", line).split())


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_LINES, max_size=12), title=st.none() | _LINES, junk=st.text(max_size=40))
def test_drop_noise_is_idempotent(lines: list[str], title: str | None, junk: str) -> None:
    once = drop_noise("\n".join([*lines, junk]), title)

    assert drop_noise(once, title) == once


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_LINES, max_size=12), title=st.none() | _LINES)
def test_drop_noise_never_drops_a_sentence_of_eight_words(lines: list[str], title: str | None) -> None:
    kept = drop_noise("\n".join(lines), title).split("\n\n")

    for line in map(_as_drop_noise_sees_it, lines):
        if line.endswith((".", "?", "!")) and len(line.split()) >= 8:
            assert line in kept


def test_counted_cleaning_reports_the_lines_it_dropped() -> None:
    text = "Share\nThe board said the ferry will run twice a day from June onwards.\nAdvertisement\n\nRelated stories"

    cleaned = drop_noise_counted(text)

    assert (cleaned.lines_in, cleaned.lines_dropped) == (4, 3)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_LINES, max_size=12), title=st.none() | _LINES)
def test_counted_cleaning_gives_the_same_text_and_consistent_counts(lines: list[str], title: str | None) -> None:
    text = "\n".join(lines)

    cleaned = drop_noise_counted(text, title)

    assert cleaned.text == drop_noise(text, title)
    kept = len([line for line in cleaned.text.split("\n\n") if line])
    assert cleaned.lines_in - cleaned.lines_dropped == kept


def test_a_sites_own_noise_lines_go_whatever_their_case_and_punctuation() -> None:
    first = "The ferry will run every hour from Monday, the harbour office said on Friday."
    last = "Winter fares stay as they are until the end of March, the operator added."
    text = f"{first}\n\n» TIDEWATER POST Audio  Edition «\n\nTides today: 06:12 and 18:40\n\n{last}"
    site = noise_keys(("Tidewater Post Audio Edition", "  ", "Tides today: 06:12 and 18:40"))
    assert drop_noise_counted(text, site_lines=site).text == f"{first}\n\n{last}"
    assert "Audio" in drop_noise(text)  # unknown to the built-in list


def test_a_sites_noise_lines_never_take_a_sentence() -> None:
    sentence = "Tidewater Post readers raised twelve thousand pounds for the lifeboat this year."
    assert drop_noise_counted(sentence, site_lines=noise_keys((sentence,))).text == sentence
