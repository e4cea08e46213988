"""plan_removal: how stories look once some of their documents are gone (pure, no stores)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workers.ports import ClusterChange, DocumentRef, DocumentSelection
from workers.removal import plan_removal

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _ref(doc_id: str, cluster: str, minutes: int, duplicate_of: str | None = None, text: str = "t",
         source: str = "s") -> DocumentRef:
    return DocumentRef(
        id=doc_id, url=f"https://x.example/{doc_id}", canonical_url=f"https://x.example/{doc_id}", source=source,
        title=doc_id, cluster_id=cluster, duplicate_of=duplicate_of, first_seen_at=T0 + timedelta(minutes=minutes),
        content_hash=text,
    )


def _never(_: DocumentRef) -> bool:
    return False


def test_the_earliest_remaining_copy_leads_when_the_lead_goes() -> None:
    lead, late, early = _ref("a", "a", 0, text="x"), _ref("b", "a", 5, "a"), _ref("c", "a", 2, "a")

    plan = plan_removal([lead], [lead, late, early], _never)

    assert plan.promoted == 1
    assert set(plan.changes) == {ClusterChange("c", "c", None), ClusterChange("b", "c", "c")}
    assert plan.story.clusters == (("c", "c"), ("b", "c"))


def test_a_unique_story_changes_nothing_but_its_own_state() -> None:
    alone = _ref("a", "a", 0, text="x")

    plan = plan_removal([alone], [alone], _never)

    assert plan.changes == () and plan.promoted == 0
    assert plan.story.forgotten == ("a",) and plan.story.claims == (("x", "a", None),)


def test_the_exact_text_claim_passes_to_the_earliest_copy_with_that_text() -> None:
    lead = _ref("a", "a", 0, text="x")
    near, same_late, same_early = _ref("b", "a", 1, "a", "y"), _ref("c", "a", 9, "a", "x"), _ref("d", "a", 3, "a", "x")

    plan = plan_removal([lead], [lead, near, same_late, same_early], _never)

    assert plan.story.claims == (("x", "a", "d"),)


def test_a_copy_whose_original_goes_copies_the_lead_that_stays() -> None:
    lead, middle, copy_of_middle = _ref("a", "a", 0), _ref("b", "a", 1, "a"), _ref("c", "a", 2, "b")

    plan = plan_removal([middle], [lead, middle, copy_of_middle], _never)

    assert plan.promoted == 0 and plan.changes == (ClusterChange("c", "a", "a"),)


def test_a_copy_that_goes_later_anyway_is_not_promoted() -> None:
    lead, doomed_next, kept = _ref("a", "a", 0), _ref("b", "a", 1, "a", source="gone"), _ref("c", "a", 2, "a")

    plan = plan_removal([lead], [lead, doomed_next, kept], DocumentSelection(source="gone").matches)

    assert ClusterChange("c", "c", None) in plan.changes and ClusterChange("b", "c", "c") in plan.changes


def test_a_story_removed_whole_needs_no_promotion() -> None:
    lead, copy = _ref("a", "a", 0), _ref("b", "a", 1, "a")

    plan = plan_removal([lead, copy], [lead, copy], _never)

    assert plan.changes == () and plan.promoted == 0


def test_an_empty_selection_matches_nothing() -> None:
    assert not DocumentSelection().matches(_ref("a", "a", 0))
