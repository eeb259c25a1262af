"""Process settings, read from the environment (standard names where a standard exists)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from knowledge.errors import ConfigError

_ASYNC_DRIVER = "postgresql+asyncpg"


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, f"HIBACHI_{name}")


BURST_SECONDS = 3.0


def _share(value: str) -> tuple[int, int]:
    """The share `K/N` as (K, N)."""
    shard, shards = value.split("/")
    return int(shard), int(shards)


class Settings(BaseSettings):
    """Everything a process needs to know about its surroundings; passed in, never global."""

    model_config = SettingsConfigDict(env_prefix="HIBACHI_", extra="ignore", populate_by_name=True)

    env: Literal["development", "production", "test"] = "development"
    database_url: str | None = Field(default=None, validation_alias=_env("DATABASE_URL"))
    data_dir: Path = Path("var")

    openai_api_key: str | None = Field(default=None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(default=None, validation_alias=_env("OPENAI_BASE_URL"))
    openai_model: str = Field(default="gpt-4o-mini", validation_alias=_env("OPENAI_MODEL"))
    llm_timeout_seconds: float = Field(default=8.0, gt=0)

    twilio_account_sid: str | None = Field(
        default=None, validation_alias=_env("TWILIO_ACCOUNT_SID")
    )
    twilio_auth_token: str | None = Field(default=None, validation_alias=_env("TWILIO_AUTH_TOKEN"))
    twilio_from_number: str | None = Field(
        default=None, validation_alias=_env("TWILIO_FROM_NUMBER")
    )
    twilio_whatsapp_from: str | None = Field(
        default=None, validation_alias=_env("TWILIO_WHATSAPP_FROM")
    )
    # Where the Twilio REST API is reached (a regional edge, a proxy, or a local stand-in).
    twilio_api_base_url: str = Field(
        default="https://api.twilio.com", validation_alias=_env("TWILIO_API_BASE_URL")
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", validation_alias=_env("PUBLIC_BASE_URL")
    )

    smtp_host: str | None = Field(default=None, validation_alias=_env("SMTP_HOST"))
    smtp_port: int = Field(default=25, validation_alias=_env("SMTP_PORT"), ge=1, le=65535)
    smtp_username: str | None = Field(default=None, validation_alias=_env("SMTP_USERNAME"))
    smtp_password: str | None = Field(default=None, validation_alias=_env("SMTP_PASSWORD"))
    smtp_from: str = Field(default="agent@localhost", validation_alias=_env("SMTP_FROM"))
    smtp_starttls: bool = Field(default=False, validation_alias=_env("SMTP_STARTTLS"))
    # Email as a customer channel: the shop's mailbox, read over IMAP
    # (imaps://user:password@host:993/INBOX), and the address customers write to and get
    # replies from (SMTP_FROM when unset).
    email_imap_url: str | None = Field(default=None, validation_alias=_env("EMAIL_IMAP_URL"))
    email_from: str | None = Field(default=None, validation_alias=_env("EMAIL_FROM"))
    email_poll_seconds: float = Field(
        default=60.0, gt=0, validation_alias=_env("EMAIL_POLL_SECONDS")
    )

    knowledge_cache_ttl_seconds: float = Field(default=5.0, ge=0)
    # Messages a minute accepted from one phone number (SMS/WhatsApp) and requests a minute
    # from one IP address on the web chat; 0 turns a limit off.
    rate_limit_phone_per_minute: int = Field(default=30, ge=0)
    rate_limit_ip_per_minute: int = Field(default=120, ge=0)
    run_worker: bool = True  # the API process runs the background work (turns, scheduler, outbox)
    # With turns in workers (`hibachi serve --workers N`) a web chat request leaves its turn
    # to a worker and waits for the answer, at most chat_reply_timeout_seconds (then returns
    # without it; the widget's stream delivers it later); otherwise the request runs it.
    turns_in_workers: bool = False
    # Conversations one process answers at once.
    inbox_concurrency: int = Field(default=4, ge=1, le=64)
    # "K/N": this process is inbox K of N sharing the work (set by `hibachi serve --workers N`
    # for each worker it starts); unset, it takes any conversation.
    inbox_shard: str | None = Field(default=None, pattern=r"^\d+/[1-9]\d*$")
    chat_reply_timeout_seconds: float = Field(default=15.0, gt=0)
    # On SIGTERM, how long `hibachi serve` lets open requests finish (a web chat waiting for
    # its answer, a live stream) before it closes them; then its workers are stopped.
    shutdown_grace_seconds: int = Field(default=20, ge=1, le=300)
    # How long an SMS or WhatsApp message waits for the rest of its burst (more texts of the
    # same thought, seconds apart) before it is answered; all of them get one reply.
    burst_seconds: float = Field(default=BURST_SECONDS, ge=0, le=60)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    # Console sign-in: a browser's session lapses after this long unused, and at most after
    # `session_max_days`; this many wrong passwords in a row lock the account for
    # `lockout_minutes`; a set-up link for choosing a password works this long.
    session_idle_hours: float = Field(default=12.0, gt=0)
    session_max_days: float = Field(default=7.0, gt=0)
    sign_in_attempts: int = Field(default=5, ge=1)
    lockout_minutes: float = Field(default=15.0, ge=0)
    setup_link_hours: float = Field(default=72.0, gt=0)
    # Prometheus: `/metrics` on a private "host:port" of its own (no token asked there), and/or
    # a bearer token the public port's `/metrics` asks for (production refuses it without one).
    metrics_address: str | None = Field(default=None, pattern=r"^[^\s:]*:\d{1,5}$")
    metrics_token: str | None = None
    # Where `hibachi serve` and its workers keep their counters for one scrape; read by
    # prometheus-client itself, named here so it is a known setting (unset: a temporary folder).
    prometheus_multiproc_dir: Path | None = Field(
        default=None, validation_alias="PROMETHEUS_MULTIPROC_DIR"
    )
    # The share of traces kept (a turn is kept when the request that stored its message was);
    # OTEL_TRACES_SAMPLER, when set, decides instead.
    trace_sample_ratio: float = Field(default=0.1, ge=0, le=1)
    # OpenTelemetry traces go to this OTLP/HTTP collector; unset, nothing is traced or loaded.
    # The SDK's other OTEL_* variables (service name, headers, sampler) apply as usual.
    otel_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
    )

    @field_validator("inbox_shard")
    @classmethod
    def _shard_of_shards(cls, value: str | None) -> str | None:
        if value is not None:
            shard, shards = _share(value)
            if shard >= shards:
                raise ValueError(f"share {shard} of {shards}: K runs from 0 to {shards - 1}")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            url = make_url(value.strip())
        except ArgumentError:
            raise ValueError(
                "must be a PostgreSQL URL like postgresql+asyncpg://user:password@host:5432/db"
            ) from None
        if url.get_backend_name() != "postgresql":
            raise ValueError(
                f"must point at PostgreSQL (got the '{url.get_backend_name()}' scheme); "
                "for example postgresql+asyncpg://user:password@host:5432/db"
            )
        if not url.database:
            raise ValueError("names no database; add one after the host, e.g. …@host:5432/hibachi")
        return url.set(drivername=_ASYNC_DRIVER).render_as_string(hide_password=False)

    @property
    def shop_email(self) -> str:
        """The address customers email and our email replies come from."""
        return (self.email_from or self.smtp_from).strip()

    def shard(self) -> tuple[int, int] | None:
        """`inbox_shard` as (K, N), None when unset."""
        return None if self.inbox_shard is None else _share(self.inbox_shard)

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    def production_problems(self) -> list[str]:
        """What keeps these settings from running in production: missing or default secrets,
        the embedded database, a public URL Twilio cannot reach."""
        problems = []
        if not self.database_url:
            problems.append("DATABASE_URL: set it (the embedded PostgreSQL is for laptops)")
        for field, name in (
            ("twilio_account_sid", "TWILIO_ACCOUNT_SID"),
            ("twilio_auth_token", "TWILIO_AUTH_TOKEN"),
        ):
            value = getattr(self, field)
            if not value:
                problems.append(f"{name}: set it (without it Twilio cannot be used or verified)")
            elif value.strip().lower() in DEFAULT_SECRETS:
                problems.append(f"{name}: '{value}' is a placeholder, not a secret")
        for field, name in (
            ("openai_api_key", "OPENAI_API_KEY"),
            ("smtp_password", "SMTP_PASSWORD"),
            ("metrics_token", "HIBACHI_METRICS_TOKEN"),
        ):
            value = getattr(self, field)
            if value is not None and value.strip().lower() in DEFAULT_SECRETS:
                problems.append(f"{name}: '{value}' is a placeholder, not a secret")
        if not self.public_base_url.startswith("https://"):
            problems.append("PUBLIC_BASE_URL: give the https:// address Twilio and customers use")
        return problems


# Values that are never real secrets (copied from examples or left from development).
DEFAULT_SECRETS = frozenset(
    {"", "changeme", "change-me", "password", "secret", "test", "default", "admin", "xxx", "todo"}
)

_ENV_NAMES = {
    "database_url": "DATABASE_URL",
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "openai_model": "OPENAI_MODEL",
    "twilio_account_sid": "TWILIO_ACCOUNT_SID",
    "twilio_auth_token": "TWILIO_AUTH_TOKEN",
    "twilio_from_number": "TWILIO_FROM_NUMBER",
    "twilio_whatsapp_from": "TWILIO_WHATSAPP_FROM",
    "twilio_api_base_url": "TWILIO_API_BASE_URL",
    "public_base_url": "PUBLIC_BASE_URL",
    "smtp_host": "SMTP_HOST",
    "smtp_port": "SMTP_PORT",
    "email_imap_url": "EMAIL_IMAP_URL",
    "email_from": "EMAIL_FROM",
    "email_poll_seconds": "EMAIL_POLL_SECONDS",
    "otel_endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
}


def load_settings(**overrides: object) -> Settings:
    """Read settings; a bad value raises ConfigError naming the environment variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        bare = field.upper().removeprefix("HIBACHI_")
        name = bare if bare in _ENV_NAMES.values() else _ENV_NAMES.get(field, f"HIBACHI_{bare}")
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None
