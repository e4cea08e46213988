"""The reference row of the fault table: the local news web ingested with no fault at all.

If this run does not come out exact (every story once, every syndicated copy as its own document,
tracking-parameter variants folded into their page), no fault row below it means anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.faults.recovery import settle
from tests.faults.news_site import NewsSite
from tests.installation import Installation

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
def test_the_news_web_ingested_without_faults_is_exact(
    make_installation: Callable[..., Installation], news_site: NewsSite, fault_report: Callable[..., None], mode: str
) -> None:
    installation = make_installation(mode, site=news_site)
    if installation.distributed:
        installation.start_worker()
    started = time.monotonic()
    result = installation.cli("run", "--once", "--sources", str(installation.sources_file), timeout_s=600)
    assert result.returncode == 0, result.stderr[-3000:]

    settled = settle(installation, news_site.expected_documents, started)
    fault_report("none (reference run)", mode, settled)
    assert settled.settled and (settled.lost, settled.duplicated) == (0, 0), settled
    assert settled.audit["dead"] == 0
    documents = installation.documents()
    copies = [doc for doc in documents.values() if doc["duplicate_of"]]
    assert len(copies) == news_site.syndicated  # each wire copy clustered with its original
    assert {doc["version"] for doc in documents.values()} == {1}
