"""The index adapters: Elasticsearch (distributed, workers.index.elastic) and one SQLite file
(standalone, workers.index.sqlite), behind workers.ports; their mapping, query and migration code.

Importing the package imports no adapter: a standalone command never loads the Elasticsearch client.
"""
