"""The Celery app, configured from Settings for at-least-once processing.

Late acks plus reject-on-worker-lost make a killed worker's batch come back; that is safe
only because a batch run twice leaves the index as if run once (ids from canonical URLs).
"""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery
from celery.signals import worker_process_init

from ingest.settings import Settings
from workers.article_limit import warm_up
from workers.tasks import register_tasks


def make_app(settings: Settings) -> Celery:
    if settings.redis_url is None:
        raise ValueError("the Celery app needs NEWSINGEST_REDIS_URL (distributed mode)")
    app = Celery("newsingest", broker=settings.redis_url, backend=settings.redis_url)
    celery = settings.celery
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_compression="gzip",
        task_default_queue=celery.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=celery.soft_time_limit_s,
        task_time_limit=celery.soft_time_limit_s + 30,
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_transport_options={
            "visibility_timeout": celery.visibility_timeout_s,
            # A killed worker's unacked tasks come back in ~10 s instead of ~100 s.
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
            "global_keyprefix": settings.key_prefix,
        },
        result_backend_transport_options={"global_keyprefix": settings.key_prefix},
    )
    register_tasks(app, settings)
    # Each pool child loads its models before its first article, so the per-article limit
    # (workers.article_limit) never counts a second of lazy loading against a page.
    worker_process_init.connect(_warm_up_child(settings.enrich.people_and_orgs), weak=False)
    return app


def _warm_up_child(people_and_orgs: bool) -> Callable[..., None]:
    def warm(**_: object) -> None:
        warm_up(people_and_orgs)

    return warm
