"""HostTurns: a poll's several requests share per-host politeness without ever holding two slots."""

from __future__ import annotations

from ingest.politeness import HostGate, HostPacer
from ingest.scrape import HostTurns

HOST = "http://harbour-gazette.example:"


async def test_each_listing_request_after_the_first_queues_for_its_hosts_next_slot() -> None:
    gate = HostGate(HostPacer(concurrency=1, delay_s=0, max_delay_s=1))
    started: list[str] = []
    gate.submit(HOST, lambda: started.append("poll"))  # the daemon's slot for the poll
    turns = HostTurns(gate, HOST)
    for path in ("/", "/city/", "/port/"):
        async with turns.turn(f"http://harbour-gazette.example{path}"):
            assert gate.pacer.in_flight(HOST) == 1
    assert started == ["poll"] and gate.pacer.in_flight(HOST) == 1  # the daemon gives it back
    gate.finish(HOST)
    assert gate.pacer.in_flight(HOST) == 0


async def test_a_request_to_another_host_takes_and_returns_a_slot_of_that_host() -> None:
    gate = HostGate(HostPacer(concurrency=1, delay_s=0, max_delay_s=1))
    other = "https://news.harbour-gazette.example:"
    async with HostTurns(gate, HOST).turn("https://news.harbour-gazette.example/city/"):
        assert gate.pacer.in_flight(other) == 1
    assert gate.pacer.in_flight(other) == 0
