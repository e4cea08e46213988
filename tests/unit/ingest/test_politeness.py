"""Per-host pacing: concurrency, minimum delay, Crawl-delay, Retry-After; busy hosts defer work."""

from __future__ import annotations

import asyncio

from ingest.politeness import HostGate, HostPacer, host_key


def test_a_host_gets_at_most_its_concurrency() -> None:
    pacer = HostPacer(concurrency=2, delay_s=0, max_delay_s=60)
    assert pacer.try_start("h", 0.0) == 0.0
    assert pacer.try_start("h", 0.0) == 0.0
    assert pacer.try_start("h", 0.0) is None
    pacer.finish("h")
    assert pacer.try_start("h", 0.0) == 0.0


def test_starts_to_one_host_keep_the_minimum_delay() -> None:
    pacer = HostPacer(concurrency=4, delay_s=2.0, max_delay_s=60)
    assert pacer.try_start("h", 10.0) == 0.0
    assert pacer.try_start("h", 10.5) == 1.5
    assert pacer.try_start("other", 10.5) == 0.0


def test_crawl_delay_slows_a_host_but_is_capped() -> None:
    pacer = HostPacer(concurrency=4, delay_s=1.0, max_delay_s=30)
    pacer.set_crawl_delay("h", 3600)
    pacer.try_start("h", 0.0)
    assert pacer.try_start("h", 0.0) == 30.0


def test_retry_after_blocks_the_host_until_then() -> None:
    pacer = HostPacer(concurrency=4, delay_s=0, max_delay_s=60)
    pacer.block("h", 20, now=100.0)
    assert pacer.try_start("h", 110.0) == 10.0
    assert pacer.try_start("h", 120.0) == 0.0


def test_host_key_separates_ports_and_schemes() -> None:
    assert host_key("http://a.example/x") != host_key("https://a.example/x")
    assert host_key("http://A.example:8080/x") == host_key("http://a.example:8080/y")


async def test_a_busy_host_defers_its_work_without_holding_up_other_hosts() -> None:
    gate = HostGate(HostPacer(concurrency=1, delay_s=0.2, max_delay_s=60))
    started: list[str] = []
    for name in ("slow-1", "slow-2", "slow-3"):
        gate.submit("slow", lambda name=name: started.append(name))  # type: ignore[misc]
    gate.submit("fast", lambda: started.append("fast"))
    # Nothing waited: the first of each host started at once, the rest are deferred.
    assert started == ["slow-1", "fast"] and gate.pending() == 2
    gate.finish("slow")
    await asyncio.sleep(0.3)
    assert started[-1] == "slow-2"
    gate.finish("slow")
    await asyncio.sleep(0.3)
    assert started == ["slow-1", "fast", "slow-2", "slow-3"] and gate.pending() == 0
