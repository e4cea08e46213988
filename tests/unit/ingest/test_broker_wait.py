"""BrokerWait: while the broker is away, its callers wait (one of them asking it again) and the outage is logged once."""

from __future__ import annotations

import asyncio

import redis
from structlog.testing import capture_logs

from ingest.handoff import BrokerWait, broker_address


class _Broker:
    """A ping that fails `outage` times, then answers (as Redis coming back)."""

    def __init__(self, outage: int) -> None:
        self.outage, self.pings = outage, 0

    def ping(self) -> bool:
        self.pings += 1
        if self.pings <= self.outage:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return True


async def test_callers_waiting_for_the_broker_all_resume_once_it_answers_again() -> None:
    broker = _Broker(outage=3)
    wait = BrokerWait(broker.ping, "redis://127.0.0.1:6379/0", probe_max_s=0.02)
    with capture_logs() as logs:
        await asyncio.wait_for(
            asyncio.gather(*(wait.lost(redis.ConnectionError("gone")) for _ in range(5))), timeout=30
        )
    assert wait.reachable
    assert broker.pings == 4  # one caller asks for all of them
    events = [entry["event"] for entry in logs]
    assert events.count("broker_unreachable") == 1 and events.count("broker_reconnected") == 1
    assert logs[0]["waiting_for"] == "the broker at redis://127.0.0.1:6379/0"


async def test_a_broker_that_answers_is_not_waited_for() -> None:
    broker = _Broker(outage=0)
    wait = BrokerWait(broker.ping, "redis://127.0.0.1:6379/0")
    await asyncio.wait_for(wait.wait(), timeout=1)
    assert broker.pings == 0


async def test_a_long_outage_is_logged_again_while_it_lasts() -> None:
    broker = _Broker(outage=20)
    wait = BrokerWait(broker.ping, "redis://127.0.0.1:6379/0", probe_max_s=0.01, still_away_log_s=0.02)
    with capture_logs() as logs:
        await asyncio.wait_for(wait.lost(redis.ConnectionError("gone")), timeout=30)
    still = [entry for entry in logs if entry["event"] == "broker_still_unreachable"]
    assert still and all(entry["waiting_for"] == "the broker at redis://127.0.0.1:6379/0" for entry in still)


def test_the_broker_address_in_logs_has_no_user_or_password() -> None:
    assert broker_address("redis://ingest:s3cret@redis.internal:6380/2") == "redis://redis.internal:6380/2"
    assert broker_address("redis://:s3cret@127.0.0.1:6379/0?socket_timeout=5") == "redis://127.0.0.1:6379/0"
