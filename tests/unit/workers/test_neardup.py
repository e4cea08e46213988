"""MinHash signatures and LSH bands: wire copies come out similar, different stories do not."""

from __future__ import annotations

from pathlib import Path

from ingest.settings import DedupeSettings
from workers.neardup import NUM_PERM, band_keys, from_hex, signature, similarity, to_hex

TRUTH = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "truth"
WIRE = (TRUTH / "continentalpress-grain-corridor.txt").read_text(encoding="utf-8")
# The same wire story on a client's site: new headline, no dateline, last sentence cut.
COPY = (TRUTH / "harbourtimes-wire-grain-corridor.txt").read_text(encoding="utf-8")
FOLLOW_UP = (TRUTH / "continentalpress-grain-followup.txt").read_text(encoding="utf-8")
SAME_TEMPLATE = [(TRUTH / f"rheinbote-{name}.txt").read_text(encoding="utf-8") for name in ("radweg", "museum")]


def test_signature_has_one_value_per_permutation() -> None:
    assert len(signature(WIRE)) == NUM_PERM


def test_signature_ignores_case_and_punctuation() -> None:
    assert signature("Grain ships sail, again!") == signature("grain ships sail again")


def test_wire_copy_with_a_cut_ending_is_similar_above_the_default_threshold() -> None:
    assert similarity(signature(WIRE), signature(COPY)) >= DedupeSettings().near_duplicate_threshold


def test_follow_up_story_is_not_similar() -> None:
    assert similarity(signature(WIRE), signature(FOLLOW_UP)) < 0.3


def test_two_stories_from_one_site_are_not_similar() -> None:
    first, second = SAME_TEMPLATE
    assert similarity(signature(first), signature(second)) < 0.3


def test_similar_texts_share_a_band() -> None:
    assert set(band_keys(signature(WIRE), 0.6)) & set(band_keys(signature(COPY), 0.6))


def test_different_stories_share_no_band() -> None:
    assert not set(band_keys(signature(WIRE), 0.6)) & set(band_keys(signature(FOLLOW_UP), 0.6))


def test_hex_form_round_trips() -> None:
    sig = signature(WIRE)
    assert from_hex(to_hex(sig)) == sig


def test_text_shorter_than_a_shingle_still_has_a_signature() -> None:
    assert len(signature("Brief.")) == NUM_PERM and signature("") == signature("")
