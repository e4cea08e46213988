"""The Celery app, configured from Settings for at-least-once processing.

Late acks plus reject-on-worker-lost make a killed worker's batch come back; that is safe
only because a batch run twice leaves the index as if run once (ids from canonical URLs).
"""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery
from celery.signals import worker_process_init

from ingest.redis_connect import RedisTarget
from ingest.settings import Settings
from workers.article_limit import warm_up
from workers.held_batches import RenewHeldBatches
from workers.tasks import register_tasks


def make_app(settings: Settings) -> Celery:
    if settings.redis_url is None:
        raise ValueError("the Celery app needs NEWSINGEST_REDIS_URL (distributed mode)")
    redis = RedisTarget.from_settings(settings)  # the password file filled in; rediss:// with its CA
    app = Celery("newsingest", broker=redis.url, backend=redis.url)
    celery = settings.celery
    app.conf.update(
        # rediss:// verifies the server against NEWSINGEST_REDIS__CA_CERTS, broker and results alike.
        broker_use_ssl=redis.celery_ssl(),
        redis_backend_use_ssl=redis.celery_ssl(),
        # JSON only, never pickle: a message injected into the queue cannot run code in a worker.
        # A refused one becomes a dead letter (workers/refused_messages.py), then is dropped.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        worker_consumer="workers.refused_messages:DeadLetteringConsumer",
        task_compression="gzip",
        task_default_queue=celery.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A new pool child loads its models before it reports up (worker_process_init below): seconds
        # on a busy machine. Celery's 4 s default killed such children as hung (SIGKILL, "Timed out
        # waiting for UP message"), each replacement again: a pool that never refilled.
        worker_proc_alive_timeout=120,
        task_soft_time_limit=celery.soft_time_limit_s,
        task_time_limit=celery.soft_time_limit_s + 30,
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        # An unattended worker waits out a broker outage of any length (Celery's default gives up
        # after 100 attempts, about 45 minutes, and the process exits); it logs every attempt.
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_transport_options={
            # A whole worker killed: its held batches come back once their delivery time is older
            # than the visibility timeout (30 s by default), at the next restore sweep. Short is safe
            # because a live worker renews what it holds (workers/held_batches.py), so a long batch
            # or a retry countdown is never put back (the former 900 s made a dead worker's batches
            # wait a quarter of an hour). Sweep every 5 s, every time (throttle 1): one ZRANGE each.
            "visibility_timeout": celery.visibility_timeout_s,
            "unacked_restore_interval": 5,
            "unacked_restore_throttle": 1,
            # The sweep's lock outlives a worker killed while sweeping: 60 s, not kombu's 300 s.
            "unacked_mutex_expire": 60,
            "global_keyprefix": settings.key_prefix,
        },
        result_backend_transport_options={"global_keyprefix": settings.key_prefix},
    )
    register_tasks(app, settings)
    app.steps["consumer"].add(RenewHeldBatches)
    # Each pool child loads its models before its first article, so the per-article limit
    # (workers.article_limit) never counts a second of lazy loading against a page.
    worker_process_init.connect(_warm_up_child(settings.enrich.people_and_orgs), weak=False)
    return app


def _warm_up_child(people_and_orgs: bool) -> Callable[..., None]:
    def warm(**_: object) -> None:
        warm_up(people_and_orgs)

    return warm
