"""drop_noise(): removes the lines of an extracted text that are not the story. Never drops a sentence.

Also normalizes the text: Unicode NFC, one space between words, one blank line between paragraphs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# A line of at least this many words that ends like a sentence is story text, whatever it says.
SENTENCE_MIN_WORDS = 8
# A line this long is story text even without terminal punctuation (a run-on paragraph).
LONG_LINE_WORDS = 25
# Related-headline lines are short: longer unpunctuated lines are left alone.
HEADLINE_MAX_WORDS = 20
HEADLINE_MAX_CHARS = 160

# Whole lines that are page furniture, compared casefolded, with outer punctuation stripped.
NOISE_LINES: frozenset[str] = frozenset(
    {
        # English
        "ad", "advert", "advertisement", "advertisements", "advertising", "sponsored", "sponsored content",
        "story continues below advertisement", "article continues below advertisement",
        "article continues below", "continue reading below", "scroll to continue with content",
        "share", "share this", "share this article", "share this story", "share article", "share story",
        "share on facebook", "share on twitter", "share on x", "share via email", "share via e-mail",
        "facebook", "twitter", "x", "whatsapp", "linkedin", "pinterest", "reddit", "telegram",
        "email", "e-mail", "print", "copy link", "copy url", "link copied", "tweet",
        "comments", "show comments", "view comments", "leave a comment", "add a comment",
        "read more", "read next", "read this next", "more", "see also", "related", "related stories",
        "related articles", "related content", "related coverage", "related topics", "more on this story",
        "more stories", "more from this section", "you may also like", "you might also like",
        "recommended", "recommended for you", "most read", "most popular", "trending", "trending now",
        "top stories", "subscribe", "subscribe now", "sign up", "sign up now", "sign in", "log in",
        "register", "newsletter", "newsletters", "sign up for our newsletter", "sign up to our newsletter",
        "subscribe to our newsletter", "get our newsletter", "skip to main content", "skip to content",
        "back to top", "listen to this article", "image", "photo", "video", "gallery", "topics",
        # German
        "anzeige", "werbung", "teilen", "artikel teilen", "diesen artikel teilen", "drucken",
        "kommentare", "kommentieren", "mehr zum thema", "lesen sie auch", "lesen sie mehr", "weiterlesen",
        "weitere artikel", "das könnte sie auch interessieren", "auch interessant", "meistgelesen",
        "newsletter abonnieren", "jetzt abonnieren", "abonnieren", "zum seitenanfang", "nach oben",
        # French
        "publicité", "pub", "partager", "partager cet article", "partager sur facebook", "imprimer",
        "commentaires", "lire aussi", "à lire aussi", "lire la suite", "lire plus", "voir aussi",
        "sur le même sujet", "les plus lus", "abonnez-vous", "s'abonner", "inscrivez-vous à notre newsletter",
        "retour en haut",
        # Spanish
        "publicidad", "anuncio", "compartir", "compartir este artículo", "compartir en facebook", "imprimir",
        "comentarios", "leer más", "lee también", "lea también", "te puede interesar", "ver también",
        "noticias relacionadas", "más información", "lo más leído", "suscríbete", "suscríbete a nuestro boletín",
        "volver arriba",
        # Italian
        "pubblicità", "condividi", "condividi l'articolo", "stampa", "commenti", "leggi anche", "leggi di più",
        "articoli correlati", "potrebbe interessarti", "i più letti", "iscriviti alla newsletter", "abbonati",
        "torna su",
        # Portuguese
        "publicidade", "compartilhe", "compartilhar", "partilhar", "imprimir", "comentários", "leia também",
        "leia mais", "notícias relacionadas", "mais lidas", "assine", "assine a newsletter", "voltar ao topo",
        # Dutch
        "advertentie", "delen", "deel dit artikel", "printen", "reacties", "lees ook", "lees meer",
        "meer over dit onderwerp", "meest gelezen", "abonneer", "schrijf je in voor de nieuwsbrief",
        "terug naar boven",
    }
)

# Line openings that mark a prompt or a cross-link, compared casefolded with " :" read as ":".
NOISE_PREFIXES: tuple[str, ...] = (
    # English
    "read more:", "read more about", "read also:", "also read:", "see also:", "related:", "more:",
    "watch:", "listen:", "follow us on", "follow us:", "like us on facebook", "sign up for our",
    "sign up to our", "sign up for the", "subscribe to our", "subscribe to the", "get our newsletter",
    "download our app", "click here to", "share this article", "share on ", "photo:", "image:",
    "picture:", "credit:", "copyright ", "©",
    # German
    "lesen sie auch:", "lesen sie mehr:", "mehr zum thema:", "auch interessant:", "zum thema:",
    "folgen sie uns auf", "melden sie sich für unseren newsletter", "abonnieren sie unseren newsletter",
    "foto:", "bild:",
    # French
    "lire aussi:", "à lire aussi:", "voir aussi:", "suivez-nous sur", "abonnez-vous à", "inscrivez-vous à",
    # Spanish
    "leer más:", "lee también:", "lea también:", "te puede interesar:", "ver también:",
    "más información:", "síguenos en", "suscríbete a",
    # Italian
    "leggi anche:", "leggi di più:", "guarda anche:", "seguici su", "iscriviti a", "iscriviti al",
    # Portuguese
    "leia também:", "leia mais:", "veja também:", "siga-nos", "receba as notícias",
    # Dutch
    "lees ook:", "lees meer:", "bekijk ook:", "volg ons op", "volg de",
)

# Characters that may close a sentence after its punctuation: quotes, brackets.
_CLOSERS = "\"'»«“”‘’›‹)]}"
_TERMINAL = ".?!…。！？"
# Every line break Python's str.splitlines() knows, so a line means the same thing everywhere.
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_SPACES = re.compile(r"[^\S\n]+")
_INVISIBLE = re.compile("[\u200b\u2060\ufeff]")
_SPACE_BEFORE_COLON = re.compile(r"\s+:")
# What surrounds a furniture label: bullets, arrows, pipes, punctuation.
_LABEL_TRIM = " \t.:;,!?-–—|•·»«›‹>→*#\"'“”‘’()[]"


@dataclass(frozen=True)
class Cleaned:
    """drop_noise()'s text, and how many of the input's non-blank lines it dropped (a health figure)."""

    text: str
    lines_in: int
    lines_dropped: int


def drop_noise(text: str, title: str | None = None) -> str:
    """The story lines of `text`, normalized. Idempotent: cleaning a cleaned text changes nothing.

    Drops lone furniture lines and prompts, a leading repeat of `title`, and a trailing block of
    related headlines. A line that reads as a sentence (8+ words ending in . ? ! or the like, or 25+
    words) is always kept.
    """
    return drop_noise_counted(text, title).text


def drop_noise_counted(text: str, title: str | None = None, site_lines: frozenset[str] = frozenset()) -> Cleaned:
    """drop_noise(), with the count of lines it dropped (each pass only removes lines, so in - out).
    `site_lines` are a site's own furniture lines (noise_keys() of its `noise_lines`), dropped like ours."""
    lines = _normalized_lines(text)
    lines_in = len(lines)
    title_key = _key(" ".join(_normalized_lines(title))) if title else None
    # Each pass only removes lines, so this ends; a second pass catches e.g. a title repeated twice.
    while True:
        kept = _drop_trailing_headlines(_drop_leading_title(_drop_furniture(lines, site_lines), title_key))
        if kept == lines:
            return Cleaned("\n\n".join(kept), lines_in, lines_in - len(kept))
        lines = kept


def is_sentence(line: str) -> bool:
    """True for a line that is story text by its shape: a sentence of some length, or a long line."""
    words = len(line.split())
    return words >= LONG_LINE_WORDS or (words >= SENTENCE_MIN_WORDS and _ends_sentence(line))


def _normalized_lines(text: str) -> list[str]:
    # Invisible characters go before composing: removed after, they could leave a letter and its
    # accent side by side uncomposed ("e\u200b\u0301"), and a second cleaning would change the text.
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text))
    lines = (_SPACES.sub(" ", line).strip() for line in _LINE_BREAKS.split(text))
    return [line for line in lines if line]


def _ends_sentence(line: str) -> bool:
    return line.rstrip(_CLOSERS).endswith(tuple(_TERMINAL))


def _key(line: str) -> str:
    return line.casefold().strip(_LABEL_TRIM)


def noise_keys(lines: tuple[str, ...]) -> frozenset[str]:
    """A source's `noise_lines` in the form lines are compared in (case and outer punctuation ignored)."""
    return frozenset(key for line in lines if (key := _key(" ".join(_normalized_lines(line)))))


def _is_furniture(line: str, site_lines: frozenset[str]) -> bool:
    if is_sentence(line):
        return False  # whatever a site's list says: a sentence is the story's
    if not any(char.isalnum() for char in line):  # separators such as "* * *" or "—"
        return True
    key = _key(line)
    if key in NOISE_LINES or key in site_lines:
        return True
    opening = _SPACE_BEFORE_COLON.sub(":", line.casefold())
    return opening.startswith(NOISE_PREFIXES)


def _drop_furniture(lines: list[str], site_lines: frozenset[str]) -> list[str]:
    return [line for line in lines if not _is_furniture(line, site_lines)]


def _drop_leading_title(lines: list[str], title_key: str | None) -> list[str]:
    if title_key and lines and _key(lines[0]) == title_key and not is_sentence(lines[0]):
        return lines[1:]
    return lines


def _is_headline(line: str) -> bool:
    return (
        not is_sentence(line)
        and not _ends_sentence(line)
        and not line.endswith(":")
        and len(line) <= HEADLINE_MAX_CHARS
        and len(line.split()) <= HEADLINE_MAX_WORDS
    )


def _drop_trailing_headlines(lines: list[str]) -> list[str]:
    """Cut the run of headline-like lines at the end, unless the text introduces it as a list.

    A story ends on a sentence; headlines after it are a "related stories" box. When the line before
    the run ends with ":" (or nothing precedes it), the run is the story's own list: kept.
    """
    start = len(lines)
    while start > 0 and _is_headline(lines[start - 1]):
        start -= 1
    if start == len(lines) or start == 0 or lines[start - 1].endswith(":"):
        return lines
    return lines[:start]
