"""The Celery app is configured for at-least-once processing, and retries stay under the visibility timeout."""

from __future__ import annotations

import random

import pytest

from ingest.handoff import TASK_NAME
from ingest.settings import Settings
from workers.app import make_app
from workers.held_batches import RenewHeldBatches, renew_interval_s
from workers.tasks import retry_countdown_s

SETTINGS = Settings(redis_url="redis://127.0.0.1:6379/0", elasticsearch_url="http://127.0.0.1:9200", key_prefix="t:")


def test_late_acks_and_redelivery_of_a_lost_worker() -> None:
    conf = make_app(SETTINGS).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


def test_json_only_and_compressed() -> None:
    conf = make_app(SETTINGS).conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_compression == "gzip"


def test_keys_carry_the_instance_prefix() -> None:
    conf = make_app(SETTINGS).conf
    assert conf.broker_transport_options["global_keyprefix"] == "t:"
    assert conf.broker_transport_options["visibility_timeout"] == SETTINGS.celery.visibility_timeout_s


def test_the_batch_task_is_registered_under_the_name_ingest_sends() -> None:
    assert TASK_NAME in make_app(SETTINGS).tasks


def test_standalone_settings_make_no_celery_app() -> None:
    with pytest.raises(ValueError, match="NEWSINGEST_REDIS_URL"):
        make_app(Settings())


def test_retry_countdowns_stay_within_their_cap() -> None:
    rng = random.Random(11)
    cap = SETTINGS.celery.retry_backoff_max_s
    countdowns = [retry_countdown_s(retries, cap, rng) for retries in range(200)]
    assert max(countdowns) <= cap
    assert min(countdowns) >= 0


def test_a_live_worker_renews_the_batches_it_holds_within_the_visibility_timeout() -> None:
    # Countdowns and long batches may outlast the (short) visibility timeout: the holder renews them.
    app = make_app(SETTINGS)
    assert RenewHeldBatches in app.steps["consumer"]
    assert 4 * renew_interval_s(SETTINGS.celery.visibility_timeout_s) <= SETTINGS.celery.visibility_timeout_s


def test_a_dead_workers_batches_are_swept_back_every_few_seconds() -> None:
    options = make_app(SETTINGS).conf.broker_transport_options
    assert options["unacked_restore_throttle"] == 1
    assert options["unacked_restore_interval"] < SETTINGS.celery.visibility_timeout_s


def test_a_worker_waits_out_a_broker_outage_of_any_length() -> None:
    # Celery's default (100 attempts, about 45 minutes) would end an unattended worker in a long outage.
    assert make_app(SETTINGS).conf.broker_connection_max_retries is None
