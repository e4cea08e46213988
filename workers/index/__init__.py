"""The index adapters: Elasticsearch (distributed) and one SQLite file (standalone), behind workers.ports.

Importing this package imports both adapters' modules; neither opens a connection until asked.
"""

from workers.index.elastic import ElasticDeadLetters, ElasticIndex, RetryPolicy
from workers.index.mapping import MAPPING_VERSION, index_name, index_template
from workers.index.sqlite import (
    SchemaError,
    SqliteDeadLetters,
    SqliteDedupeStore,
    SqliteIndex,
    open_database,
)

__all__ = [
    "MAPPING_VERSION",
    "ElasticDeadLetters",
    "ElasticIndex",
    "RetryPolicy",
    "SchemaError",
    "SqliteDeadLetters",
    "SqliteDedupeStore",
    "SqliteIndex",
    "index_name",
    "index_template",
    "open_database",
]
