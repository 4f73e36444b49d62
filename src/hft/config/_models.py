"""Settings models: the shape and the per-field bounds of ``settings/*.yaml``.

Every default here equals the value in ``settings/base.yaml``, which stays the one place a reader
looks up defaults; ``tests/config/test_models.py`` fails if the two drift apart. Rules that span
several keys (``max_latency_us`` against ``warning_threshold_us``, one backend at least, ...)
live in :mod:`hft.config._validation`, so that the loader can name the file that broke them.
"""

from __future__ import annotations

import warnings
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FieldSerializationInfo,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    field_serializer,
    model_validator,
)

#: What a masked secret looks like in dumps and ``hft config show``.
SECRET_MASK = "**********"  # noqa: S105 - the mask, not a password


def _upper(value: object) -> object:
    """Case-insensitive (``info`` is ``INFO``)."""
    return value.upper() if isinstance(value, str) else value


Level = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_upper)]
Port = Annotated[int, Field(ge=1, le=65535)]
Ratio = Annotated[float, Field(gt=0.0, le=1.0)]
#: A JSON backend's field names (``hft.logging.render.schemas``).
Schema = Literal["hft", "ecs", "otel"]


def _octal(value: object) -> object:
    """A file mode written as text (``"0o640"``, ``"0640"``, ``"640"``) is octal."""
    if isinstance(value, str):
        try:
            return int(value, 8)
        except ValueError:
            return value  # pydantic reports it, naming the key
    return value


def _owner_read_write(mode: int) -> int:
    """The owner keeps read and write (``0600`` at least)."""
    if mode & 0o600 != 0o600:
        raise ValueError(f"{mode:#o} leaves hft unable to read and write its own file (need 0600)")
    return mode


#: Permission bits of a file hft creates (logs 0640, audit trail and spool 0600 by default):
#: YAML's ``0640`` is octal already; text is read as octal. The owner must keep read and write.
FileMode = Annotated[
    int, BeforeValidator(_octal), Field(ge=0, le=0o777), AfterValidator(_owner_read_write)
]
SyslogFacility = Literal[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
    "local7",
]  # fmt: skip


class _Model(BaseModel):
    """Strict, immutable base: an unknown key is an error, not a silently ignored typo."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class HftSettings(_Model):
    """Ring, dispatcher and latency budget of the logging pipeline."""

    ring_buffer_size: PositiveInt = 10000
    batch_size: PositiveInt = 50
    flush_interval_ms: PositiveInt = 10
    max_latency_us: PositiveInt = 1000
    warning_threshold_us: PositiveInt = 500
    max_memory_mb: PositiveInt = 100
    gc_threshold: Ratio = 0.8
    enable_failover: bool = True
    max_retry_attempts: NonNegativeInt = 3
    overflow_policy: Literal["drop_oldest", "drop_newest", "block"] = "block"
    block_timeout_ms: NonNegativeInt = 100
    max_field_chars: PositiveInt = 4096
    redact_fields: tuple[str, ...] = (
        "api_key",
        "secret",
        "passphrase",
        "token",
        "signature",
        "password",
        "authorization",
        "private_key",
        "cookie",
        "credentials",
    )
    spill_dir: Annotated[str, Field(min_length=1)] = "logs/spill"
    retry_backoff_ms: PositiveFloat = 5.0
    probe_interval_ms: PositiveFloat = 1000.0
    drain_deadline_ms: PositiveInt = 5000
    sink_queue_records: PositiveInt = 20000


class ConsoleBackendSettings(_Model):
    """Human-readable lines on a standard stream."""

    enabled: bool = True
    level: Level = "DEBUG"
    colored_output: bool = True
    structured: bool = True
    stream: Literal["stderr", "stdout"] = "stderr"


with warnings.catch_warnings():  # pydantic allows a field to replace the deprecated
    warnings.filterwarnings("ignore", 'Field name "schema" in ', UserWarning)  # BaseModel.schema
    # but still warns when the class is made (its subclasses below do not declare it again)

    class _SchemaKey(_Model):
        """The ``schema`` key of a JSON backend (its subclasses list it first)."""

        #: The lines' field names: hft's own, Elastic Common Schema, OTLP/JSON log records.
        schema: Schema = "hft"  # type: ignore[assignment]  # BaseModel.schema(), deprecated


class FileBackendSettings(_SchemaKey):
    """Rotated log file."""

    enabled: bool = True
    level: Level = "INFO"
    file_path: Annotated[str, Field(min_length=1)] = "logs/hft.log"
    format: Literal["json"] = "json"
    rotation: Literal["daily", "size", "none"] = "daily"
    max_bytes: PositiveInt = 104857600
    retention: NonNegativeInt = 7
    #: Rotated files compressed by a worker thread of the file backend: none, gzip or zstd.
    compression: Literal["none", "gzip", "zstd"] = "none"
    #: The CPU the writer process runs on: "last" (the last one this process may use, when
    #: it may use two or more), "any" (wherever the OS puts it), or a CPU number.
    writer_cpu: Literal["last", "any"] | NonNegativeInt = "last"
    #: Permissions of a log file hft creates: an octal string ("0640") or an int up to 0o777.
    file_mode: FileMode = 0o640


class PrometheusBackendSettings(_Model):
    """Record counters and ``metric()`` values pushed to (or scraped from) Prometheus."""

    enabled: bool = False
    level: Level = "DEBUG"
    push_gateway_url: str = "http://127.0.0.1:9091"
    job_name: Annotated[str, Field(min_length=1)] = "hft_arbitrage"
    push_interval: PositiveFloat = 10
    push_timeout: PositiveFloat = 2.0
    grouping_key: dict[str, str] = Field(default_factory=dict)
    delete_on_shutdown: bool = False
    scrape_enabled: bool = False
    scrape_address: str = "127.0.0.1"
    scrape_port: Annotated[int, Field(ge=0, le=65535)] = 9464  # 0: let the OS pick (tests)
    metric_types: dict[str, Literal["counter", "gauge", "histogram"]] = Field(default_factory=dict)


class AuditBackendSettings(_Model):
    """Append-only, hash-chained (HMAC when keyed) audit trail: one chain across rotations."""

    enabled: bool = False
    level: Level = "INFO"
    file_path: Annotated[str, Field(min_length=1)] = "logs/audit.log"
    format: Literal["json"] = "json"
    fsync_policy: Literal["every_batch", "interval_ms"] = "every_batch"
    fsync_interval_ms: PositiveInt = 50
    hmac_key_env: Annotated[str, Field(min_length=1)] = "HFT_AUDIT_HMAC_KEY"
    rotation: Literal["none", "daily", "size"] = "none"
    max_bytes: PositiveInt = 104857600
    checkpoint_interval_ms: NonNegativeInt = 1000
    on_failure: Literal["block", "raise"] = "block"
    failure_timeout_ms: PositiveFloat = 5000
    durable: bool = False
    file_mode: FileMode = 0o600


class SyslogBackendSettings(_SchemaKey):
    """Off-host copy over RFC 5424 syslog (TCP, TLS or RELP), spooled while unreachable."""

    enabled: bool = False
    level: Level = "INFO"
    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    port: Port = 514
    transport: Literal["tcp", "tls", "relp"] = "tcp"
    app_name: Annotated[str, Field(min_length=1, max_length=48)] = "hft"  # RFC 5424 APP-NAME
    facility: SyslogFacility = "local0"
    hostname: str | None = None
    sd_id: Annotated[str, Field(min_length=1, max_length=32)] = "hft@32473"
    instance_id: str | None = None
    include_fields_json: bool = False
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_verify: bool = True
    relp_window: Annotated[int, Field(ge=1, le=100_000)] = 1024
    spool_dir: Annotated[str, Field(min_length=1)] = "logs/spool"
    spool_max_mb: PositiveInt = 256
    spool_file_mode: FileMode = 0o600
    max_message_bytes: Annotated[int, Field(ge=2048)] = 65536


class BackendsSettings(_Model):
    """One section per backend; ``enabled`` switches each on."""

    console: ConsoleBackendSettings = Field(default_factory=ConsoleBackendSettings)
    file: FileBackendSettings = Field(default_factory=FileBackendSettings)
    prometheus: PrometheusBackendSettings = Field(default_factory=PrometheusBackendSettings)
    audit: AuditBackendSettings = Field(default_factory=AuditBackendSettings)
    syslog: SyslogBackendSettings = Field(default_factory=SyslogBackendSettings)

    def enabled_names(self) -> tuple[str, ...]:
        """Names of the enabled backends, in declaration order."""
        return tuple(name for name in type(self).model_fields if getattr(self, name).enabled)


class PerformanceThresholds(_Model):
    """Limits the performance monitor checks the pipeline's metrics against."""

    max_avg_latency_us: PositiveFloat = 1000.0
    max_p99_latency_us: PositiveFloat = 5000.0
    min_throughput_msgs_per_sec: NonNegativeFloat = 0.0
    max_dropped: NonNegativeInt = 0
    max_queue_utilization: Ratio = 0.8


class PerformanceSettings(_Model):
    """How often the monitor runs and what it checks."""

    monitor_interval_s: PositiveFloat = 10.0
    thresholds: PerformanceThresholds = Field(default_factory=PerformanceThresholds)


def _logger_prefix(prefix: str) -> str:
    """A logger-name prefix: ``""`` (the root) or dotted names, none empty, no blanks."""
    if prefix and any(
        not part or part != part.strip() or " " in part for part in prefix.split(".")
    ):
        raise ValueError(f"{prefix!r} is not a logger-name prefix (e.g. 'exchange.mexc', or '')")
    return prefix


#: A key of ``logging.levels``: a logger-name prefix, matched on whole dotted parts.
LoggerPrefix = Annotated[str, AfterValidator(_logger_prefix)]


class ControlSettings(_Model):
    """The operator's control channel: a Unix socket per process, and SIGHUP."""

    enabled: bool = True
    runtime_dir: Annotated[str, Field(min_length=1)] | None = None


class RateLimit(_Model):
    """A rate limit: each call site of a logger lets ``per_s x interval_s`` records through
    each ``interval_s``, and says how many it held back (``hft.logging.pipeline.limits``)."""

    per_s: Annotated[float, Field(gt=0, le=1_000_000)]
    interval_s: Annotated[float, Field(gt=0, le=3600)] = 1.0

    @model_validator(mode="after")
    def _lets_one_through(self) -> RateLimit:
        if self.per_s * self.interval_s + 1e-9 < 1:
            raise ValueError(
                f"per_s x interval_s is {self.per_s * self.interval_s:g}: "
                "it must let one record through each interval at least"
            )
        return self


class BacktraceSettings(_Model):
    """Records of the levels no backend takes, kept in a bounded ring and written before the
    next record at ``flush_level`` or above (``docs/operating/backtrace.md``)."""

    enabled: bool = False
    capacity: Annotated[int, Field(ge=1, le=1_000_000)] = 2000
    flush_level: Level = "ERROR"


class LoggingSettings(_Model):
    """The ``logging`` section: what the logging containers are built from."""

    hft_settings: HftSettings = Field(default_factory=HftSettings)
    backends: BackendsSettings = Field(default_factory=BackendsSettings)
    performance: PerformanceSettings = Field(default_factory=PerformanceSettings)
    backtrace: BacktraceSettings = Field(default_factory=BacktraceSettings)
    #: Each record logged inside an OpenTelemetry span carries its trace and span ids
    #: (``docs/tools/tracing.md``); needs opentelemetry-api (``pip install 'hft[otel]'``).
    trace_context: bool = False
    #: Logger-name prefix -> level, the longest dotted prefix winning ("" is the root).
    levels: dict[LoggerPrefix, Level] = Field(default_factory=dict)
    control: ControlSettings = Field(default_factory=ControlSettings)
    #: Rate limits by logger-name prefix (the longest dotted prefix wins; "" is every logger).
    limits: dict[LoggerPrefix, RateLimit] = Field(default_factory=dict)


class ExchangeSettings(_Model):
    """One exchange. Values differ per exchange, so only the secrets have defaults (empty).

    Secrets come from ``HFT_EXCHANGES__<NAME>__API_KEY`` / ``__API_SECRET``, never from files.
    They dump masked unless the serialisation context says ``{"reveal_secrets": True}``.
    """

    enabled: bool
    rest_url: Annotated[str, Field(min_length=1)]
    ws_public_url: Annotated[str, Field(min_length=1)]
    ws_private_url: Annotated[str, Field(min_length=1)]
    api_key: SecretStr = SecretStr("")
    api_secret: SecretStr = SecretStr("")
    symbols: tuple[str, ...]
    simulated_latency_ms: NonNegativeFloat
    seed: int

    @field_serializer("api_key", "api_secret", when_used="json")
    def _dump_secret(self, value: SecretStr, info: FieldSerializationInfo) -> str:
        secret = value.get_secret_value()
        context: Any = info.context
        if not secret or (isinstance(context, dict) and context.get("reveal_secrets")):
            return secret
        return SECRET_MASK


#: Field names holding secrets; the loader refuses non-empty values for them in files.
SECRET_FIELDS: frozenset[str] = frozenset(
    name for name, field in ExchangeSettings.model_fields.items() if field.annotation is SecretStr
)


class Settings(_Model):
    """Root of the settings tree: ``logging`` and one entry per exchange (add one, no code)."""

    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    exchanges: dict[str, ExchangeSettings]
