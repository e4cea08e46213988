"""Hypothesis properties beside the noise fuzz target: any Unicode text, with the invisible, combining
and line-break characters pages carry. drop_noise() only removes whole lines that are not sentences,
never invents text, and gives an NFC result that a second cleaning leaves alone."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz.oracles import check_noise

_TRICKY = st.sampled_from(["\u200b", "\u2060", "\ufeff", "\u0301", "\u0308", "\u2028", "\u0085", "\r\n", "\x0c", " ", "."])
_WORDS = st.sampled_from(["Share", "Advertisement", "the", "ferry", "said", "Read more:", "Café", "e", "talks", "«Hafen»"])
_TEXT = st.lists(_TRICKY | _WORDS | st.text(max_size=6), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, title=st.none() | _TEXT)
def test_drop_noise_keeps_sentences_adds_nothing_and_is_idempotent(text: str, title: str | None) -> None:
    data = (f"TITLE:{title}\n{text}" if title is not None else text).encode("utf-8", "surrogatepass")

    check_noise(data)
