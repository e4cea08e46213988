"""Synthetic articles for the index benchmarks: Zipf-distributed words, a few sources, languages, dates.

Deterministic for a seed, so runs compare. Not a test fixture: the words are invented syllables.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from workers.documents import Article, document_id

SYLLABLES = ("ka", "lo", "mi", "ra", "te", "su", "no", "vi", "da", "pe", "lu", "go", "ri", "ban", "tor", "sel")
SOURCES = ("harbourtimes", "coastwire", "valleypost", "citydesk", "northledger", "islandnews")
START = datetime(2026, 9, 1, tzinfo=UTC)
STEP_MINUTES = 3  # between one article and the next, wrapping around after SPAN_MINUTES
SPAN_MINUTES = 90 * 24 * 60


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def articles(
    count: int, seed: int = 7, words_per_article: int = 250, *, start: datetime = START, syndicated_every: int = 0
) -> list[Article]:
    """`count` articles over 90 days from `start`; with `syndicated_every` n, every n-th is a copy of the
    story before it (same cluster_id, duplicate_of set), as wire copies are."""
    rng = random.Random(seed)
    vocab = vocabulary(5_000, rng)
    weights = [1 / rank for rank in range(1, len(vocab) + 1)]  # Zipf, as in real text
    made: list[Article] = []
    for n in range(count):
        text_words = rng.choices(vocab, weights, k=words_per_article)
        url = f"https://{SOURCES[n % len(SOURCES)]}.example/story/{n}"
        doc_id = document_id(url)
        moment = start + timedelta(minutes=n * STEP_MINUTES % SPAN_MINUTES)
        copy_of = made[-1] if syndicated_every and n % syndicated_every == syndicated_every - 1 and made else None
        made.append(
            Article(
                id=doc_id,
                url=url,
                canonical_url=url,
                source=SOURCES[n % len(SOURCES)],
                domain=f"{SOURCES[n % len(SOURCES)]}.example",
                title=" ".join(rng.choices(vocab, weights, k=7)).capitalize(),
                text=" ".join(text_words) + ".",
                published_at=moment,
                fetched_at=moment,
                first_seen_at=moment,
                updated_at=moment,
                language="en" if n % 5 else "fr",
                word_count=words_per_article,
                reading_time_s=words_per_article * 60 // 230,
                keywords=tuple(rng.sample(vocab[:200], 3)),
                entities=tuple(rng.sample(vocab[:100], 2)),
                tags=("bench",),
                content_hash=f"h{n}",
                cluster_id=copy_of.cluster_id if copy_of else doc_id,
                duplicate_of=copy_of.id if copy_of else None,
                extraction_path="bench",
            )
        )
    return made


def start_ending_at(count: int, end: datetime) -> datetime:
    """The `start` for which the newest of `count` articles is published at `end`: few articles span
    only days after `start`, so "90 days back" alone would leave recent windows empty."""
    newest = (min(count, SPAN_MINUTES // STEP_MINUTES) - 1) * STEP_MINUTES
    return end - timedelta(minutes=max(newest, 0))


def queries(count: int, seed: int = 11) -> list[str]:
    """Query texts: one to three words of middling frequency (neither stop-word-like nor unseen)."""
    rng = random.Random(seed)
    vocab = vocabulary(5_000, random.Random(7))
    return [" ".join(rng.sample(vocab[20:800], rng.randint(1, 3))) for _ in range(count)]
