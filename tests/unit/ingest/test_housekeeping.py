"""run_periodically: a periodic job's failure is logged and the job runs again; a stop request ends it."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from ingest.housekeeping import Periodic, run_periodically


def test_a_failing_round_is_logged_and_the_job_runs_again() -> None:
    rounds: list[int] = []

    async def scenario() -> None:
        stop = asyncio.Event()

        async def one_round() -> None:
            rounds.append(len(rounds))
            if len(rounds) == 1:
                raise OSError("disk away")
            stop.set()

        await asyncio.wait_for(run_periodically(Periodic("retention", 0.01, one_round, first_delay_s=0), stop), 10)

    with capture_logs() as logs:
        asyncio.run(scenario())

    assert rounds == [0, 1]
    failed = [e for e in logs if e["event"] == "periodic_job_failed"]
    assert failed and failed[0]["job"] == "retention" and failed[0]["error_type"] == "OSError"


def test_a_stop_request_ends_the_wait_before_the_first_round() -> None:
    async def never() -> None:
        raise AssertionError("ran after stop")

    async def scenario() -> None:
        stop = asyncio.Event()
        stop.set()
        await asyncio.wait_for(run_periodically(Periodic("retention", 3600, never), stop), 10)

    asyncio.run(scenario())
