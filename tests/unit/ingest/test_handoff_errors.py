"""Which failures of a Celery send mean "the broker went away" (wait and send again) and which are bugs."""

from __future__ import annotations

import os

import pytest

from ingest.handoff import _torn_down_in_kombu


def _raise_in(filename: str) -> AttributeError:
    code = compile("connection = None\nconnection.client\n", filename, "exec")
    try:
        exec(code, {})
    except AttributeError as exc:
        return exc
    raise AssertionError("unreachable")


def test_a_channel_torn_down_inside_kombu_is_the_broker_going_away() -> None:
    path = os.path.join(os.sep, "venv", "site-packages", "kombu", "transport", "redis.py")
    assert _torn_down_in_kombu(_raise_in(path))


@pytest.mark.parametrize("path", ["/work/ingest/handoff.py", "/venv/site-packages/kombu_extra/x.py"])
def test_an_attribute_error_elsewhere_stays_a_bug(path: str) -> None:
    assert not _torn_down_in_kombu(_raise_in(path))
