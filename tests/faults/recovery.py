"""How a fault test measures recovery: wait until the run has settled, then count lost and duplicated.

Also the reconciler settings the fault tests run the daemon with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tests.installation import Installation

# The reconciler acts within seconds here; in production its timeout outlasts the visibility timeout.
# Not too fast: on a loaded machine, a job still being processed past the timeout is sent again
# (harmless), and after reconcile_max_sends would be called lost. (Waiting in the queue does not
# count: distributed, the timeout starts once the queue has been seen empty after the hand-off.)
FAST_RECONCILE = {
    "NEWSINGEST_RELIABILITY__RECONCILE_TIMEOUT_S": "10",
    "NEWSINGEST_RELIABILITY__RECONCILE_INTERVAL_S": "1",
    "NEWSINGEST_RELIABILITY__RECONCILE_MAX_SENDS": "6",
}


@dataclass(frozen=True)
class Settled:
    """What a run came to: documents lost and duplicated against what a correct run leaves."""

    lost: int
    duplicated: int
    seconds: float
    audit: dict[str, object]
    settled: bool


def settle(installation: Installation, expected_documents: int, since: float, deadline_s: float = 300) -> Settled:
    """Wait until the ledger has nothing pending or missing and the index holds `expected_documents`.

    Returns the figures either way (so a failing test still fills its row of the table); `seconds`
    counts from `since` (time.monotonic() when the fault was injected) to the moment it settled.
    """
    end = time.monotonic() + deadline_s
    while True:
        code, audit = installation.audit()
        count = installation.count()
        done = code == 0 and audit["pending"] == 0 and audit["missing"] == 0 and count >= expected_documents
        if done or time.monotonic() > end:
            lost = max(expected_documents - count, 0) + int(audit["missing"])
            return Settled(lost, max(count - expected_documents, 0), time.monotonic() - since, audit, done)
        time.sleep(1)


def assert_exact(installation: Installation, settled: Settled) -> None:
    """Settled with nothing lost, doubled or dead-lettered, and no document rewritten."""
    assert settled.settled and (settled.lost, settled.duplicated) == (0, 0), settled
    assert settled.audit["dead"] == 0, settled
    assert {doc["version"] for doc in installation.documents().values()} == {1}
