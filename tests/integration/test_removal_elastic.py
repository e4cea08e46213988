"""Deletion, story promotion, tombstones and retention on Elasticsearch + Redis (tests/removal_contract.py):
a real server, an alias and a Redis key prefix of each test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from elasticsearch import Elasticsearch

from tests import removal_contract as contract
from tests.removal_contract import test_removal_contract  # noqa: F401 (run here, on this mode's stores)
from tests.conftest import MakeArticle
from workers.dedupe_state import RedisStoryState
from workers.index.elastic import ElasticDeadLetters, ElasticIndex
from workers.index.mapping import tombstone_index_name
from workers.raw_archive import RawArchive
from workers.removal import RemovalStores

pytestmark = pytest.mark.integration


@pytest.fixture
def stores(
    es_client: Elasticsearch, es_alias: str, redis_client: redis.Redis, redis_prefix: str, tmp_path: Path
) -> Iterator[contract.Stores]:
    index = ElasticIndex(es_client, es_alias)
    index.ensure_ready()
    letters = ElasticDeadLetters(es_client, es_alias)
    archive = RawArchive(tmp_path / "archive")
    story = RedisStoryState(redis_client, redis_prefix)
    yield contract.Stores(RemovalStores(index, story, archive), story, letters, archive)
    archive.close()


def test_tombstones_live_in_an_index_beside_the_alias(
    stores: contract.Stores, make_article: MakeArticle, es_client: Elasticsearch, es_alias: str
) -> None:
    contract.check_delete_by_source(stores, make_article)

    assert es_client.indices.exists(index=tombstone_index_name(es_alias))
    assert not es_client.indices.exists_alias(name=es_alias, index=tombstone_index_name(es_alias))


def test_no_tombstone_index_means_nothing_is_tombstoned(stores: contract.Stores) -> None:
    assert stores.index.tombstoned(["abc"]) == frozenset()
