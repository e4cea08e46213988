"""Every knob of newsingest, read once from NEWSINGEST_* variables and an optional settings file.

This is the only module that reads the environment; everything else receives a frozen `Settings`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ingest.jobs import DEFAULT_REUSE_POLICY, ReusePolicy
from ingest.keep import parse_keep_s

SETTINGS_FILE_VARIABLE = "NEWSINGEST_SETTINGS_FILE"
DEFAULT_USER_AGENT = "newsingest/0.1 (+https://github.com/newsingest/newsingest; news ingestion bot)"

Mode = Literal["standalone", "distributed"]


class HttpSettings(BaseModel):
    """Limits of the one HTTP client (finite defaults: an unbounded wait is a hung daemon)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_agent: str = DEFAULT_USER_AGENT
    timeout_s: float = Field(20.0, gt=0, description="whole request, connect to last byte")
    connect_timeout_s: float = Field(10.0, gt=0)
    max_bytes: int = Field(10_000_000, gt=0, description="response body cap, after decompression")
    max_redirects: int = Field(5, ge=0)
    concurrency: int = Field(16, ge=1, description="requests in flight, all hosts")
    per_host_concurrency: int = Field(2, ge=1)


class PollingSettings(BaseModel):
    """How politely and how often sources are polled, and how much feed state is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    respect_robots: bool = Field(True, description="honour robots.txt (feeds and pages)")
    robots_cache_s: int = Field(24 * 3600, ge=60, description="how long a host's robots.txt is trusted")
    host_delay_s: float = Field(1.0, ge=0, description="minimum gap between requests to one host")
    max_host_delay_s: float = Field(60.0, ge=0, description="cap on Crawl-delay and Retry-After pacing")
    max_retry_after_s: int = Field(6 * 3600, ge=1, description="a source's Retry-After is honoured up to this")
    seen_max_age_s: int = Field(
        90 * 24 * 3600, ge=3600, description="seen entries absent from a feed this long are forgotten"
    )
    seen_max_per_source: int = Field(20_000, ge=100, description="newest seen entries kept per source")
    page_retry_budget: int = Field(3, ge=1, description="polls that may fail one article page before it is given up")
    sitemap_max_children: int = Field(20, ge=1, description="child sitemaps read from one sitemap index")
    news_freshness_s: int = Field(
        2 * 24 * 3600, ge=3600, description="Google News sitemap entries older than this are skipped"
    )
    discovery_refresh_s: int = Field(24 * 3600, ge=600, description="a site source re-discovers its feeds this often")
    reload_check_s: float = Field(1.0, gt=0, description="how often the sources file is checked for edits")
    state_flush_s: float = Field(
        0.5, gt=0, le=60, description="source records are written back this often (a crash re-polls what was not)"
    )


class CelerySettings(BaseModel):
    """Worker-side knobs for distributed mode."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    queue: str = "newsingest"
    concurrency: int = Field(2, ge=1, description="worker processes per `newsingest worker`")
    # Short: a live worker renews the batches it holds five times per timeout (workers/held_batches.py),
    # so a long batch or a retry countdown is never put back, and only a dead worker's batches age past it.
    visibility_timeout_s: int = Field(
        30,
        ge=10,
        description="a batch held by a worker that died (SIGKILL, OOM, lost machine) goes back to the queue this "
        "long after its worker last renewed it, at the next restore sweep (every 5 s)",
    )
    max_retries: int = Field(5, ge=0, description="budget for transient errors other than an unavailable index")
    retry_backoff_max_s: int = Field(
        300, ge=1, description="longest retry countdown (the waiting batch is held and renewed by its worker)"
    )
    soft_time_limit_s: int = Field(120, ge=1, description="per batch; a pathological page cannot hold a worker")


class IndexSettings(BaseModel):
    """The index and the ways of querying it (search, stats, export, `newsingest serve`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bulk_max_documents: int = Field(500, ge=1, description="documents per bulk request")
    bulk_max_bytes: int = Field(5_000_000, ge=10_000, description="bytes per bulk request")
    unavailable_retry_max_s: int = Field(
        15, ge=1, description="longest wait between retries while Elasticsearch is down (prompt recovery)"
    )
    serve_host: str = Field("127.0.0.1", description="address `newsingest serve` listens on")
    serve_port: int = Field(8080, ge=1, le=65535)


class DedupeSettings(BaseModel):
    """Near-duplicate detection and learned per-site boilerplate: shared state kept for a time window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    near_duplicate_threshold: float = Field(
        0.6, gt=0, le=1, description="estimated Jaccard similarity of word shingles at which a text copies another"
    )
    near_duplicate_window_s: int = Field(
        14 * 24 * 3600, ge=60, description="how long an article stays matchable as the original of a copy"
    )
    boilerplate_min_documents: int = Field(
        3, ge=2, description="articles of one site a short line must appear in before it is dropped as boilerplate"
    )
    boilerplate_window_s: int = Field(30 * 24 * 3600, ge=60, description="how long a sighting of a line counts")



class EnrichSettings(BaseModel):
    """Optional enrichment. people_and_orgs needs the `ner` extra (pip install '.[ner]'); without it, off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    people_and_orgs: bool = Field(
        False, description="add the people and organisations English articles name to their entities (spaCy)"
    )


class HealthSettings(BaseModel):
    """Extraction health per source (workers.drift): a recent window of pages against the source's history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recent_pages: int = Field(20, ge=4, description="a source's latest pages, compared with its history")
    history_pages: int = Field(200, ge=4, description="pages before the recent window that make a source's normal")
    min_history_pages: int = Field(
        40, ge=4, description="history a source needs before drift is judged (no warnings for new sources)"
    )
    drift_max_chance: float = Field(
        1e-6, gt=0, lt=1, description="how unlikely by luck a recent window's figure must be to raise a drift"
    )
    keep_days: int = Field(90, ge=1, description="a source unheard of this long has its figures forgotten")


class OpsSettings(BaseModel):
    """Operating the daemon: its HTTP endpoint (/healthz, /readyz, /metrics), the workers' metrics port,
    and the per-source leases that let daemons share one Redis (ingest/leases.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    http_enabled: bool = Field(False, description="serve /healthz, /readyz and /metrics from the daemon")
    http_host: str = Field("127.0.0.1", description="address the daemon's endpoint binds (loopback unless set)")
    http_port: int = Field(9464, ge=0, le=65535, description="the daemon's endpoint port (0: any free port)")
    worker_metrics_port: int | None = Field(
        None, ge=0, le=65535, description="a Celery worker's /metrics port (all its processes); unset: off"
    )
    worker_metrics_host: str = Field("127.0.0.1", description="address a worker's /metrics binds")
    worker_metrics_dir: Path | None = Field(
        None, description="prometheus-client multiprocess files (default: <data_dir>/worker-metrics-<port>)"
    )
    loop_stall_s: float = Field(10.0, gt=0, description="/healthz fails when the event loop was this late")
    lease_ttl_s: float = Field(
        60.0, ge=2, description="distributed: a source's lease lasts this long unrenewed (a standby waits it out)"
    )


class ReliabilitySettings(BaseModel):
    """The job ledger, its reconciler and the limits that keep one bad page or process from losing work."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    article_time_limit_s: float = Field(
        30.0, gt=0, description="preparing one page longer than this dead-letters it (the rest of its batch goes on)"
    )
    reconcile_interval_s: float = Field(30.0, gt=0, description="how often the daemon reconciles its ledger")
    # The backstop after the broker's own redelivery (a killed pool child's batch at once, a killed
    # worker's after the visibility timeout, ~35 s): 600 s is twice the sum of that, a batch's hard time
    # limit (150 s), its transient-error retries (~30 s) and two reconcile intervals (the marks to fold,
    # the empty queue to be seen). Queue waits are not in it: distributed, the clock of a job starts
    # only when the queue has been seen empty after its hand-off, so a deep backlog is never re-sent.
    reconcile_timeout_s: float = Field(
        600.0,
        gt=0,
        description="a job not done this long after its hand-off (distributed: after the queue was next seen "
        "empty, so waiting in a backlog does not count) is checked in the index and re-enqueued; keep it above "
        "the Celery visibility timeout plus the worst batch time (hard time limit) and its retry countdowns",
    )
    reconcile_max_sends: int = Field(
        3, ge=1, description="hand-offs of one job before it is dead-lettered as lost in transit"
    )
    ledger_retention_s: float = Field(7 * 24 * 3600.0, gt=0, description="ended jobs are kept in the ledger this long")
    pool_retry_budget: int = Field(
        2, ge=1, description="standalone: times a job may be in a pool process that dies before it is dead-lettered"
    )
    max_deliveries: int = Field(
        3, ge=1, description="distributed: deliveries of one batch whose worker died before it is split up or dead-lettered"
    )


class Credentials(BaseModel):
    """One Elasticsearch identity: username and password, or an API key; each secret may come from a
    file instead (`..._file`, for container secrets). Read through ingest/secrets.py, never directly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = Field(None, description="a file holding the password (trailing newline ignored)")
    api_key: SecretStr | None = Field(None, description="an encoded API key (id:key, base64), instead of a user")
    api_key_file: Path | None = None


class ElasticsearchSettings(Credentials):
    """How to reach a secured Elasticsearch (its address stays NEWSINGEST_ELASTICSEARCH_URL).

    The top-level identity is the writer (daemon, workers, index commands); `reader`, when set, is used
    by the commands that only read (search, stats, export, serve, status)."""

    reader: Credentials | None = None
    ca_certs: Path | None = Field(None, description="PEM file of the CA that signed the server's certificate")
    verify_certs: bool = Field(
        True, description="check the server's TLS certificate; false is logged as a warning at every start"
    )


class RedisSettings(BaseModel):
    """A secured Redis: the user and password go in NEWSINGEST_REDIS_URL (redis://user:pass@host/0),
    TLS by its scheme (rediss://)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    password_file: Path | None = Field(None, description="a file holding the URL's password (container secrets)")
    ca_certs: Path | None = Field(None, description="rediss://: PEM file of the CA that signed the server's certificate")


class ApiSettings(BaseModel):
    """Who may use the HTTP endpoints (`serve`, the daemon's /metrics, a worker's /metrics) and how much."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token_file: Path | None = Field(
        None, description="bearer tokens, one per line; required to bind an address other than loopback"
    )
    public: bool = Field(False, description="serve without tokens on any address (an explicit, logged choice)")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed by CORS; empty: CORS off")
    max_query_chars: int = Field(500, ge=1, description="longest search text accepted")
    max_page_size: int = Field(100, ge=1, description="most results in one page")
    max_result_window: int = Field(1000, ge=1, description="deepest result reachable by paging (offset + limit)")
    request_timeout_s: float = Field(10.0, gt=0, description="a request taking longer is answered 503")
    rate_limit_per_minute: int = Field(120, ge=1, description="requests per client address per minute")
    rate_limit_burst: int = Field(30, ge=1, description="requests a client may make at once before the limit bites")


class BackupSettings(BaseModel):
    """Where `newsingest backup` writes and where Elasticsearch keeps its snapshots."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    directory: Path = Field(Path("backups"), description="backups are folders in here (one per backup)")
    es_repository: str = Field("newsingest-backups", pattern=r"^[a-z0-9][a-z0-9_.-]*$",
                               description="name of the snapshot repository registered on Elasticsearch")
    es_location: str | None = Field(
        None, description="that repository's folder on the Elasticsearch server: under its path.repo; "
        "required to back up in distributed mode"
    )


class CorrectionsSettings(BaseModel):
    """Re-checks of recent articles, so publishers' edits become new versions (ingest/corrections.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="the daemon fetches each article again at the ages below")
    recheck_after_s: tuple[float, ...] = Field(
        (3600.0, 86400.0), max_length=10, description="ages (seconds after first hand-off) of the re-checks"
    )
    check_s: float = Field(60.0, gt=0, description="how often the daemon looks for re-checks that are due")
    max_per_round: int = Field(200, ge=1, description="re-checks fetched per look (the rest wait for the next)")

    @field_validator("recheck_after_s")
    @classmethod
    def _rising_and_positive(cls, ages: tuple[float, ...]) -> tuple[float, ...]:
        if any(age <= 0 for age in ages) or list(ages) != sorted(set(ages)):
            raise ValueError("re-check ages must be positive and rising, e.g. [3600, 86400]")
        return ages


class ArchiveSettings(BaseModel):
    """The raw archive: every indexed article's fetched page, compressed and stored once per body, so
    `newsingest reprocess` can run today's extractor over last year's pages."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="keep the fetched page of every indexed article")
    path: Path | None = Field(
        None, description="the archive's folder (default: <data_dir>/archive); when distributed, a path every "
        "worker and the CLI share"
    )
    compression_level: int = Field(10, ge=1, le=22, description="zstd level: higher is smaller and slower")


class RetentionSettings(BaseModel):
    """How long articles are kept (a source's `keep:` in sources.yaml wins), enforced by the daemon's
    retention job and `newsingest retention` (workers/retention.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keep: int = Field(
        0, ge=0, description='articles first seen longer ago than this are deleted: "365d", "12w", "48h"; '
        '"0" keeps them for ever (seconds once parsed)'
    )
    interval_s: float = Field(3600.0, gt=0, description="how often the daemon runs the retention job")
    page_size: int = Field(500, ge=1, le=5000, description="documents removed per step (one short write each)")

    @field_validator("keep", mode="before")
    @classmethod
    def _period(cls, value: object) -> int:
        return parse_keep_s(value)


class RightsSettings(BaseModel):
    """What publishers say about reuse (workers/rights.py), and what is stored when they reserve it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reuse_reserved: ReusePolicy = Field(
        DEFAULT_REUSE_POLICY,
        description="a source's `reuse_reserved` when it sets none: full (store everything, flagged), metadata "
        "(title, metadata and a snippet, no text) or skip (store nothing)",
    )
    tdmrep: bool = Field(True, description="read each host's /.well-known/tdmrep.json (TDM reservations per path)")
    tdmrep_cache_s: int = Field(24 * 3600, ge=60, description="how long a host's tdmrep.json is trusted")


class Settings(BaseSettings):
    """newsingest settings. Distributed mode needs both service URLs; standalone needs neither."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSINGEST_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    redis_url: str | None = None
    elasticsearch_url: str | None = None
    index_alias: str = Field("news", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    key_prefix: str = Field("newsingest:", description="prefix of every Redis key this instance writes")
    data_dir: Path = Path("data")
    sources: Path = Path("config/sources.yaml")
    poll_concurrency: int = Field(4, ge=1, description="sources polled at once")
    fetch_concurrency: int = Field(8, ge=1, description="article pages fetched at once")
    batch_size: int = Field(20, ge=1, le=500, description="article jobs per task (one bulk request)")
    processing_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, description="standalone process pool size"
    )
    shutdown_grace_s: float = Field(20.0, ge=0, description="in-flight polls get this long on SIGTERM")
    queue_high_water: int = Field(500, ge=1, description="queued batches at which fetching pauses")
    queue_low_water: int = Field(100, ge=0, description="queued batches at which fetching resumes")
    once_timeout_s: float = Field(900.0, gt=0, description="how long `run --once` waits for processing")
    http: HttpSettings = HttpSettings()
    celery: CelerySettings = CelerySettings()
    index: IndexSettings = IndexSettings()
    polling: PollingSettings = PollingSettings()
    dedupe: DedupeSettings = DedupeSettings()
    enrich: EnrichSettings = EnrichSettings()
    health: HealthSettings = HealthSettings()
    reliability: ReliabilitySettings = ReliabilitySettings()
    ops: OpsSettings = OpsSettings()
    elasticsearch: ElasticsearchSettings = ElasticsearchSettings()
    redis: RedisSettings = RedisSettings()
    api: ApiSettings = ApiSettings()
    backup: BackupSettings = BackupSettings()
    archive: ArchiveSettings = ArchiveSettings()
    corrections: CorrectionsSettings = CorrectionsSettings()
    retention: RetentionSettings = RetentionSettings()
    rights: RightsSettings = RightsSettings()

    @model_validator(mode="after")
    def _both_service_urls_or_neither(self) -> Settings:
        if bool(self.redis_url) != bool(self.elasticsearch_url):
            have, missing = (
                ("NEWSINGEST_REDIS_URL", "NEWSINGEST_ELASTICSEARCH_URL")
                if self.redis_url
                else ("NEWSINGEST_ELASTICSEARCH_URL", "NEWSINGEST_REDIS_URL")
            )
            raise ValueError(
                f"{have} is set but {missing} is not: distributed mode needs both, "
                "standalone mode needs neither"
            )
        return self

    @property
    def mode(self) -> Mode:
        return "distributed" if self.redis_url else "standalone"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "newsingest.sqlite3"

    @property
    def archive_path(self) -> Path:
        return self.archive.path or self.data_dir / "archive"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then the environment, then the settings file.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        settings_file = os.environ.get(SETTINGS_FILE_VARIABLE)
        if settings_file:
            path = Path(settings_file)
            if not path.is_file():
                raise FileNotFoundError(f"{SETTINGS_FILE_VARIABLE}={settings_file}: no such file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build the one Settings of this process (environment, settings file, then overrides)."""
    return Settings(**overrides)
