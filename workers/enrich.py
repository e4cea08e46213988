"""enrich(): language, word count, reading time, keywords, places and a lead summary of a clean text.
Never changes the text; never loads anything from the network.

Cheap by design (DESIGN pitfalls: YAKE cost more than extraction): keywords are the most frequent
content words, with jusText's stop lists (shipped with trafilatura) for ~100 languages; the language is
read from the first LANGUAGE_SAMPLE_CHARS only; places come from a packaged gazetteer (workers.places).
People and organisations are not found here: workers.people does it, optionally (the `ner` extra).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

import justext
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from workers.places import find_places

WORDS_PER_MINUTE = 230
KEYWORD_COUNT = 10
# Below this length, or this confidence, the language identifier guesses: the page's or the
# source's declared language is the better answer.
SHORT_TEXT_CHARS = 200
MIN_LANGUAGE_CONFIDENCE = 0.5
MIN_KEYWORD_CHARS = 3
# py3langid walks the sample byte by byte through a large table, so it reads little: a sentence when it
# confirms the declared language (the corpus's 7 languages: all 48 pages right at 100 chars, confidence
# >= 0.82), a few paragraphs when nothing is declared or the first sentence disagrees.
LANGUAGE_QUICK_CHARS = 100
QUICK_LANGUAGE_CONFIDENCE = 0.8
LANGUAGE_SAMPLE_CHARS = 400
# A lead summary: whole sentences from the start of the text, up to about this long.
SUMMARY_MAX_CHARS = 300

# ISO 639-1 code -> jusText stop list name.
STOPLIST_NAMES: dict[str, str] = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "ca": "Catalan", "cs": "Czech", "cy": "Welsh",
    "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian",
    "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French", "ga": "Irish", "gl": "Galician",
    "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "id": "Indonesian", "is": "Icelandic",
    "it": "Italian", "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian", "ms": "Malay",
    "nb": "Norwegian_Bokmal", "nl": "Dutch", "nn": "Norwegian_Nynorsk", "no": "Norwegian_Bokmal",
    "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian",
    "sq": "Albanian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "tl": "Tagalog", "tr": "Turkish",
    "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese",
}

# Letters, optionally joined by hyphens ("state-run"); an apostrophe ends a word ("Erdogan’s" -> "Erdogan").
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
# A sentence ends at . ! ? … (and any closing quotes) followed by a space and a capital or an opening quote.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"'”’»)]))\s+(?=[\"'“‘«(]?[^\W\d_])")


@dataclass(frozen=True)
class Enrichment:
    language: str | None
    word_count: int
    reading_time_s: int
    keywords: tuple[str, ...]
    entities: tuple[str, ...] = ()  # countries and major cities, canonical names (workers.places)


def enrich(text: str, language_hint: str | None, html_language: str | None) -> Enrichment:
    """What a reader and a search filter want to know about `text` besides its words.

    `language_hint` is the source's configured language, `html_language` the page's declared one.
    """
    language = _language(text, language_hint, html_language)
    word_count = len(text.split())
    return Enrichment(
        language=language,
        word_count=word_count,
        reading_time_s=reading_time_s(word_count),
        keywords=_keywords(text, language),
        entities=find_places(text, language),
    )


def reading_time_s(word_count: int) -> int:
    """Seconds a reader needs at WORDS_PER_MINUTE, rounded up."""
    return math.ceil(word_count * 60 / WORDS_PER_MINUTE)


def lead_summary(text: str, max_chars: int = SUMMARY_MAX_CHARS) -> str:
    """The first sentences of the text's first paragraph, whole, up to about `max_chars` (at least one)."""
    first = text.strip().split("\n", 1)[0].strip()
    summary = ""
    for sentence in _SENTENCE_END.split(first):
        if summary and len(summary) + 1 + len(sentence) > max_chars:
            break
        summary = f"{summary} {sentence}".strip()
    return summary


def _language(text: str, language_hint: str | None, html_language: str | None) -> str | None:
    """py3langid's answer on a long text it is sure of, else a declared language, else its guess if fair."""
    # The page's own declaration first: a source's language is a default for all its pages.
    declared = html_language or language_hint
    detected, confidence = _identifier().classify(text[:LANGUAGE_QUICK_CHARS])
    # A first sentence that confirms the declaration settles it; anything else reads a longer sample.
    if not (declared and detected == declared.lower() and confidence >= QUICK_LANGUAGE_CONFIDENCE):
        detected, confidence = _identifier().classify(text[:LANGUAGE_SAMPLE_CHARS])
    if len(text) >= SHORT_TEXT_CHARS and confidence >= MIN_LANGUAGE_CONFIDENCE:
        return str(detected)
    if declared:
        return declared.lower()
    return str(detected) if confidence >= MIN_LANGUAGE_CONFIDENCE else None


def _keywords(text: str, language: str | None, count: int = KEYWORD_COUNT) -> tuple[str, ...]:
    """The `count` most frequent content words (stop words of `language` left out), in their usual
    spelling; ties go to the word that comes first."""
    stopwords = _stopwords(language)
    # Count spellings in C first, then fold them into words: far fewer Python steps than one per word.
    spellings = Counter(_WORD.findall(text))  # first-seen order, like every dict
    counts: Counter[str] = Counter()
    usual: dict[str, tuple[int, str]] = {}  # word -> (count, spelling) of its most frequent spelling
    for spelling, seen in spellings.items():
        key = spelling.casefold()
        if len(key) < MIN_KEYWORD_CHARS or key in stopwords:
            continue
        counts[key] += seen
        if key not in usual or seen > usual[key][0]:
            usual[key] = (seen, spelling)
    # most_common() is stable and `counts` iterates in first-seen order: ties go to the earlier word.
    return tuple(usual[key][1] for key, _ in counts.most_common(count))


@cache
def _identifier() -> LanguageIdentifier:
    # Loading the model takes ~0.5 s: once per process, on first use.
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@cache
def _stopwords(language: str | None) -> frozenset[str]:
    name = STOPLIST_NAMES.get((language or "").lower())
    if name is None:
        return frozenset()
    words: frozenset[str] = justext.get_stoplist(name)
    return frozenset(word.casefold() for word in words)
